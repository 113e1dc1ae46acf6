import type { Clock } from '../shared/clock.ts';

/**
 * A discrete-event clock: virtual time that only moves when every task is waiting on it. The controller, the
 * SDK's retry backoff and the simulated account all sleep on this clock, so twenty virtual minutes take
 * milliseconds. Real I/O (the local DynamoDB on loopback) is tracked with `track`; time does not advance while
 * any is in flight.
 */

/** The instant virtual time starts at, so that output is the same on every run: 2026-01-01T00:00:00Z. */
export const VIRTUAL_EPOCH_MS = Date.UTC(2026, 0, 1);

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fire: () => void;
  cancelled: boolean;
}

/** A binary min-heap of timers by (at, seq): equal times fire in the order they were scheduled. */
class TimerHeap {
  readonly #items: Timer[] = [];

  get size(): number {
    return this.#items.length;
  }

  push(timer: Timer): void {
    const items = this.#items;
    items.push(timer);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(items[i] as Timer, items[parent] as Timer)) break;
      [items[i], items[parent]] = [items[parent] as Timer, items[i] as Timer];
      i = parent;
    }
  }

  peek(): Timer | undefined {
    return this.#items[0];
  }

  pop(): Timer | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let smallest = i;
        if (l < items.length && before(items[l] as Timer, items[smallest] as Timer)) smallest = l;
        if (r < items.length && before(items[r] as Timer, items[smallest] as Timer)) smallest = r;
        if (smallest === i) break;
        [items[i], items[smallest]] = [items[smallest] as Timer, items[i] as Timer];
        i = smallest;
      }
    }
    return top;
  }
}

const before = (a: Timer, b: Timer): boolean => a.at < b.at || (a.at === b.at && a.seq < b.seq);

const nextMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Options of a VirtualClock. */
export interface VirtualClockOptions {
  /** epoch ms at which time starts. @default VIRTUAL_EPOCH_MS */
  readonly start?: number;
  /**
   * Asked on every sleep: true when the calling task belongs to an invocation that has died (a simulated
   * crash or Lambda timeout). Its sleep then never ends, as if the process were gone.
   */
  readonly isAbandoned?: () => boolean;
}

/** Virtual time for the simulator. Implements the product's Clock. */
export class VirtualClock implements Clock {
  /** epoch ms at which this clock started */
  readonly start: number;
  readonly #isAbandoned: () => boolean;
  readonly #timers = new TimerHeap();
  #now: number;
  #seq = 0;
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];
  readonly #settledListeners: ((now: number) => void)[] = [];
  #running = false;

  constructor(options: VirtualClockOptions = {}) {
    this.start = options.start ?? VIRTUAL_EPOCH_MS;
    this.#now = this.start;
    this.#isAbandoned = options.isAbandoned ?? (() => false);
  }

  /** Virtual epoch ms. */
  now(): number {
    return this.#now;
  }

  /** Virtual ms since the clock started. */
  elapsed(): number {
    return this.#now - this.start;
  }

  /** Resolve after `ms` of virtual time (at once for 0 or less, still after other due work). */
  sleep(ms: number): Promise<void> {
    if (this.#isAbandoned()) return new Promise<void>(() => {});
    return new Promise<void>((resolve) => {
      this.schedule(this.#now + Math.max(0, ms), resolve);
    });
  }

  /** Run `fire` when virtual time reaches `at` (epoch ms; a past instant means as soon as possible). Returns a cancel. */
  schedule(at: number, fire: () => void): () => void {
    const timer: Timer = { at: Math.max(at, this.#now), seq: this.#seq++, fire, cancelled: false };
    this.#timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /** Run `fire` after `ms` of virtual time. Returns a cancel. */
  after(ms: number, fire: () => void): () => void {
    return this.schedule(this.#now + Math.max(0, ms), fire);
  }

  /**
   * Call `listener` with the current instant each time runUntil has settled there, before time moves on: every
   * change made at that instant (timers, the promise reactions they caused) is visible to it. Observers that
   * record the world's state over time (sim/ground-truth.ts) use it.
   */
  onSettled(listener: (now: number) => void): void {
    this.#settledListeners.push(listener);
  }

  /** Count real (not virtual) work in flight: time stands still until it settles. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.#inFlight++;
    try {
      return await work();
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const wake of waiters) wake();
      }
    }
  }

  /**
   * Advance virtual time to `at` (epoch ms), firing every timer due on the way in order. Before each step it
   * waits until the process is idle: no tracked real work in flight and no pending promise reactions.
   */
  async runUntil(at: number): Promise<void> {
    if (this.#running) throw new Error('VirtualClock.runUntil is already running');
    this.#running = true;
    try {
      for (;;) {
        await this.settle();
        for (const listener of this.#settledListeners) listener(this.#now);
        const next = this.#timers.peek();
        if (next === undefined || next.at > at) break;
        this.#timers.pop();
        if (next.cancelled) continue;
        if (next.at > this.#now) this.#now = next.at;
        next.fire();
      }
      if (at > this.#now) this.#now = at;
      await this.settle();
      for (const listener of this.#settledListeners) listener(this.#now);
    } finally {
      this.#running = false;
    }
  }

  /**
   * Wait until nothing can make progress without time moving: tracked real work has finished and two
   * consecutive macrotask turns saw none start (promise reactions all run before a macrotask).
   */
  async settle(): Promise<void> {
    let quietTurns = 0;
    while (quietTurns < 2) {
      if (this.#inFlight > 0) {
        await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
        quietTurns = 0;
        continue;
      }
      await nextMacrotask();
      quietTurns = this.#inFlight === 0 ? quietTurns + 1 : 0;
    }
  }
}
