import type { Clock } from './clock.ts';

/** Run `task` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** Split into chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

/** A token bucket's level: `tokens` at epoch ms `at`. */
export interface BucketLevel {
  readonly tokens: number;
  readonly at: number;
}

/**
 * A token bucket on a clock: at most `capacity` tokens, refilled at `refillPerSecond`, starting full. Callers
 * wait for a token instead of being refused, so work queued behind the bucket goes out at its refill rate.
 */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #capacity: number;
  readonly #refillPerSecond: number;
  #tokens: number;
  #at: number;

  /** @param level where a previous user of the same bucket left it: tokens at epoch ms `at` (default: full) */
  constructor(
    clock: Clock,
    bucket: { readonly capacity: number; readonly refillPerSecond: number },
    level?: BucketLevel,
  ) {
    if (!(bucket.capacity >= 1) || !(bucket.refillPerSecond > 0)) {
      throw new Error(
        `a token bucket needs a capacity of at least 1 and a positive refill (got ${bucket.capacity} / ${bucket.refillPerSecond} a second)`,
      );
    }
    this.#clock = clock;
    this.#capacity = bucket.capacity;
    this.#refillPerSecond = bucket.refillPerSecond;
    this.#tokens = Math.min(bucket.capacity, level?.tokens ?? bucket.capacity);
    this.#at = Math.min(clock.now(), level?.at ?? clock.now());
  }

  /** The bucket's level now, for the next user of the same bucket. */
  level(): BucketLevel {
    this.#refill();
    return { tokens: this.#tokens, at: this.#at };
  }

  /**
   * Wait for a token and take it. Resolves false, taking nothing, when `until` (epoch ms on the bucket's
   * clock) has passed or no token comes free before it.
   */
  async take(until = Number.POSITIVE_INFINITY): Promise<boolean> {
    for (;;) {
      if (this.#clock.now() > until) return false;
      this.#refill();
      if (this.#tokens >= 1) {
        this.#tokens -= 1;
        return true;
      }
      const wait = Math.ceil(((1 - this.#tokens) / this.#refillPerSecond) * 1000);
      if (this.#clock.now() + wait > until) return false;
      await this.#clock.sleep(wait);
    }
  }

  /** The bucket we mirror turned out empty (the service throttled us): refill from nothing, starting now. */
  empty(): void {
    this.#refill();
    this.#tokens = 0;
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(
      this.#capacity,
      this.#tokens + (Math.max(0, now - this.#at) / 1000) * this.#refillPerSecond,
    );
    this.#at = now;
  }
}
