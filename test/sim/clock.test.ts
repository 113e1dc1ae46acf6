import { setTimeout as realDelay } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { VIRTUAL_EPOCH_MS, VirtualClock } from '../../sim/clock.ts';

describe('the virtual clock', () => {
  it('starts at 2026-01-01T00:00:00Z so every run prints the same times', () => {
    const clock = new VirtualClock();

    expect(new Date(clock.now()).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(clock.start).toBe(VIRTUAL_EPOCH_MS);
  });

  it('wakes sleepers in time order, at the virtual instant they asked for', async () => {
    // Prepare
    const clock = new VirtualClock();
    const woke: [string, number][] = [];
    const sleeper = async (name: string, ms: number) => {
      await clock.sleep(ms);
      woke.push([name, clock.elapsed()]);
    };
    void sleeper('late', 90_000);
    void sleeper('early', 1_000);
    void sleeper('middle', 30_000);

    // Act
    await clock.runUntil(clock.start + 120_000);

    // Assess
    expect(woke).toEqual([
      ['early', 1_000],
      ['middle', 30_000],
      ['late', 90_000],
    ]);
    expect(clock.elapsed()).toBe(120_000);
  });

  it('runs an hour of one-second ticks in a fraction of a second of real time', async () => {
    const clock = new VirtualClock();
    let ticks = 0;
    void (async () => {
      for (;;) {
        await clock.sleep(1000);
        ticks++;
      }
    })();
    const started = performance.now();

    await clock.runUntil(clock.start + 3_600_000);

    expect(ticks).toBe(3600);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('does not advance while tracked real work is in flight, so real I/O finishes at the same virtual instant', async () => {
    // Prepare: a task does 30 ms of real work, then reads the time; a timer is due 1 s later.
    const clock = new VirtualClock();
    let seenAt: number | undefined;
    void (async () => {
      await clock.track(() => realDelay(30));
      seenAt = clock.elapsed();
    })();
    let timerFired = false;
    clock.after(1000, () => {
      timerFired = true;
    });

    // Act
    await clock.runUntil(clock.start + 5000);

    // Assess
    expect(seenAt).toBe(0);
    expect(timerFired).toBe(true);
  });

  it('never wakes a sleeper whose task is abandoned (a crashed invocation stays dead)', async () => {
    let abandoned = false;
    const clock = new VirtualClock({ isAbandoned: () => abandoned });
    let woke = false;
    abandoned = true;
    void clock.sleep(10).then(() => {
      woke = true;
    });
    abandoned = false;

    await clock.runUntil(clock.start + 60_000);

    expect(woke).toBe(false);
  });

  it('lets a cancelled timer pass without firing', async () => {
    const clock = new VirtualClock();
    let fired = false;
    const cancel = clock.after(500, () => {
      fired = true;
    });
    cancel();

    await clock.runUntil(clock.start + 1000);

    expect(fired).toBe(false);
  });
});
