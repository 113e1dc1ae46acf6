/**
 * Deterministic randomness for the simulated account. Every draw is a hash of the seed, a key naming what is
 * drawn ("latency ReplaceRoute", "stop i-0123…") and how many times that key was drawn before, so the outcome
 * of a run does not depend on the order in which concurrent tasks happen to draw. No Math.random anywhere.
 */

/** 32-bit mix of a string (FNV-1a), then avalanche (murmur3 finaliser). */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A number in [0, 1) fixed by the seed and the key. */
export function unitFor(seed: number, key: string): number {
  // Two independent 32-bit hashes give 53 bits, enough that draws never collide in practice.
  const high = hash32(`${seed}|${key}|a`) >>> 5;
  const low = hash32(`${seed}|${key}|b`) >>> 6;
  return (high * 67108864 + low) / 9007199254740992;
}

/** Keyed random draws from one seed. */
export class Dice {
  readonly seed: number;
  readonly #counts = new Map<string, number>();

  constructor(seed: number) {
    this.seed = seed;
  }

  /** The next number in [0, 1) for this key. */
  unit(key: string): number {
    const n = this.#counts.get(key) ?? 0;
    this.#counts.set(key, n + 1);
    return unitFor(this.seed, `${key}#${n}`);
  }

  /** The next number in [min, max] for this key. */
  between(key: string, [min, max]: readonly [number, number]): number {
    return min + (max - min) * this.unit(key);
  }

  /** True with probability p for this key. */
  chance(key: string, p: number): boolean {
    return p > 0 && this.unit(key) < p;
  }

  /** A stable id of `length` hex digits for this key (ENI ids, command ids, request ids). */
  hex(key: string, length: number): string {
    let out = '';
    for (let i = 0; out.length < length; i++)
      out += hash32(`${this.seed}|${key}|hex${i}`).toString(16).padStart(8, '0');
    return out.slice(0, length);
  }
}
