import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../shared/domain/plan.ts';
import { SOAK_GRACE_SECONDS } from '../../shared/resize/policy.ts';
import { judgeSoak, type SoakReading } from '../../shared/resize/soak.ts';
import { pairConfig } from '../decide/builders.ts';

const NOW = Date.UTC(2026, 10, 30, 12);
const healthy: Verdict = { health: 'healthy', hard: false, signals: {}, reason: 'all signals healthy' };
const soft: Verdict = { health: 'unhealthy', hard: false, signals: {}, reason: 'daemon unhealthy' };
const hard: Verdict = { health: 'unhealthy', hard: true, signals: {}, reason: 'i-… is stopped' };
const unknown: Verdict = { health: 'unknown', hard: false, signals: {}, reason: 'daemon unknown' };

const reading = (patch: Partial<SoakReading>): SoakReading => ({
  pair: pairConfig({ unhealthyThreshold: 2 }),
  role: 'standby',
  verdict: healthy,
  carriesTraffic: true,
  poll: { attempt: 1, done: false, soakUntil: NOW + 60_000, unhealthyStreak: 0 },
  now: NOW,
  ...patch,
});

describe('judging a soak check of the resized member carrying traffic', () => {
  it('keeps soaking while healthy before the soak time is up', () => {
    expect(judgeSoak(reading({}))).toMatchObject({ next: { attempt: 2, done: false, unhealthyStreak: 0 } });
  });

  it('ends the soak on a healthy reading with the traffic once the soak time is up', () => {
    expect(judgeSoak(reading({ now: NOW + 60_000 }))).toMatchObject({ next: { done: true } });
  });

  it('fails at once on a hard loss', () => {
    expect(judgeSoak(reading({ verdict: hard }))).toEqual({
      failure: expect.stringMatching(/failed during the soak: i-… is stopped/),
    });
  });

  it('tolerates one soft failure but not unhealthyThreshold in a row, as the controller would', () => {
    const first = judgeSoak(reading({ verdict: soft }));
    expect(first).toMatchObject({ next: { unhealthyStreak: 1 } });
    const second = judgeSoak(
      reading({ verdict: soft, poll: { attempt: 2, done: false, unhealthyStreak: 1 } }),
    );
    expect(second).toEqual({ failure: expect.stringMatching(/unhealthy on 2 soak checks in a row/) });
  });

  it('counts traffic found on the other member as a failing check', () => {
    const judged = judgeSoak(
      reading({ carriesTraffic: false, poll: { attempt: 2, done: false, unhealthyStreak: 1 } }),
    );
    expect(judged).toEqual({ failure: expect.stringMatching(/traffic is not on standby/) });
  });

  it('never ends on unknown, and fails when nothing healthy comes within the grace period', () => {
    const late = NOW + 60_000 + SOAK_GRACE_SECONDS * 1000;
    expect(judgeSoak(reading({ verdict: unknown, now: NOW + 60_000 }))).toMatchObject({
      next: { done: false },
    });
    expect(judgeSoak(reading({ verdict: unknown, now: late }))).toEqual({
      failure: expect.stringMatching(/not confirmed healthy by the end of the soak/),
    });
  });
});
