import { beforeAll, describe, expect, it } from 'vitest';
import type { MemberState, RecordedRun } from '../../sim/ground-truth.ts';
import { runRecorded } from '../../sim/ground-truth.ts';
import {
  checkConvergence,
  checkCooldown,
  checkHardLossMoves,
  checkHealthyTargets,
  checkInvariants,
  checkRouteOwnership,
  timingOf,
} from '../../sim/invariants.ts';
import { DEFAULT_LATENCY } from '../../sim/latency.ts';
import type { SimEvent } from '../../sim/output.ts';
import { pairConfig, scenarioOf } from './helpers.ts';

/**
 * The invariant checkers catch what they are meant to: each is shown a real run that keeps it, then the same
 * run with its log or ground truth altered to break it.
 */

const withEvents = (run: RecordedRun, events: readonly SimEvent[]): RecordedRun => ({
  ...run,
  output: { ...run.output, events },
});

const violationsOf = (run: RecordedRun) =>
  Object.values(checkInvariants(run)).flatMap((result) => result.violations);

let hardLoss: RecordedRun;
let softFailure: RecordedRun;

beforeAll(async () => {
  hardLoss = await runRecorded(
    scenarioOf({ duration: '8m', faults: [{ at: '2m', target: 'branch-a/primary', fault: 'terminate' }] }),
  );
  softFailure = await runRecorded(
    scenarioOf({ duration: '10m', faults: [{ at: '1m', target: 'branch-a/primary', fault: 'daemon-down' }] }),
  );
});

describe('the invariant checkers', () => {
  it('find nothing wrong in real runs of a hard loss and a soft failure, and judge something in each', () => {
    expect(violationsOf(hardLoss)).toEqual([]);
    expect(violationsOf(softFailure)).toEqual([]);
    expect(checkHardLossMoves(hardLoss).checked).toBeGreaterThan(0);
    expect(checkHealthyTargets(hardLoss).checked).toBe(4);
    expect(checkCooldown(softFailure).checked).toBe(0);
    expect(checkConvergence(softFailure).checked).toBe(1);
    expect(checkRouteOwnership(hardLoss).checked).toBeGreaterThan(4);
  });

  it('rest on a ground truth that records each change of a member at the instant it happens', () => {
    const primary = hardLoss.truth.members['branch-a/primary'] ?? [];

    expect(primary[0]).toMatchObject({ state: 'running', systemCheck: 'ok', instanceCheck: 'ok' });
    expect(primary[0]?.at).toBeLessThan(0);
    expect(primary.find((s) => s.state === 'shutting-down')?.at).toBe(120_000);
    expect(primary.at(-1)?.state).toBe('terminated');
  });

  it('report routes left on a terminated member while the other is healthy (invariant 1)', () => {
    const stuck = withEvents(
      hardLoss,
      hardLoss.output.events.filter((e) => e.type !== 'route-change'),
    );

    const { violations } = checkHardLossMoves(stuck);

    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ invariant: 1, pair: 'branch-a' });
    expect(violations[0]?.message).toContain('primary hard-down');
  });

  it('report a move to a member that was stopped when the move was decided (invariant 2)', () => {
    const standby = hardLoss.truth.members['branch-a/standby'] as readonly MemberState[];
    const stopped = standby.map((s) => ({ ...s, state: 'stopped' as const }));
    const run = {
      ...hardLoss,
      truth: { ...hardLoss.truth, members: { ...hardLoss.truth.members, 'branch-a/standby': stopped } },
    };

    const { violations } = checkHealthyTargets(run);

    expect(violations).toHaveLength(4);
    expect(violations[0]?.message).toMatch(/standby was not healthy then: not running/);
  });

  it('report a route change no decision asked for (invariant 2)', () => {
    const changes = hardLoss.output.events.filter((e) => e.type === 'route-change');
    const undecided = withEvents(
      hardLoss,
      hardLoss.output.events.filter((e) => e.type !== 'failover'),
    );

    const { violations } = checkHealthyTargets(undecided);

    expect(violations).toHaveLength(changes.length);
    expect(violations[0]?.message).toContain('with no decision');
  });

  it('report an automatic failback within the cooldown (invariant 3)', () => {
    const first = softFailure.output.events.find((e) => e.type === 'failover');
    if (first?.type !== 'failover') throw new Error('expected a failover');
    const back = {
      ...first,
      t: first.t + 60,
      from: first.to,
      to: first.from,
      kind: 'failback' as const,
      trigger: 'automatic-failback' as const,
    };
    const events = [...softFailure.output.events, back].sort((a, b) => a.t - b.t);

    const { violations } = checkCooldown(withEvents(softFailure, events));

    expect(violations).toHaveLength(1);
    expect(violations[0]?.message).toMatch(/only 60s after the soft-failure failover/);
  });

  it('report a pair whose routes stay on a member with a dead daemon after the world has settled (invariant 4)', () => {
    const stuck = withEvents(
      softFailure,
      softFailure.output.events.filter((e) => e.type !== 'route-change'),
    );

    const { violations } = checkConvergence(stuck);

    expect(violations).toHaveLength(1);
    expect(violations[0]?.message).toContain('never all sat on a healthy member');
  });

  it('report a route pointed outside the pair and an unmanaged route that changed (invariant 5)', () => {
    const astray = hardLoss.output.events.map((e) =>
      e.type === 'route-change' ? { ...e, to: 'other' as const } : e,
    );
    const { start } = hardLoss.truth.unmanagedRoutes;
    const [key] = Object.keys(start);
    const run = {
      ...withEvents(hardLoss, astray),
      truth: {
        ...hardLoss.truth,
        unmanagedRoutes: { start, end: { ...start, [key as string]: 'eni-0123456789abcdef0' } },
      },
    };

    const messages = checkRouteOwnership(run).violations.map((v) => v.message);

    expect(messages.filter((m) => m.includes('outside the pair'))).toHaveLength(4);
    expect(messages.some((m) => m.startsWith(`unmanaged route ${key}`))).toBe(true);
  });
});

describe('the timing bounds', () => {
  it('give a hard-loss bound under two minutes on the 1-minute schedule and under a minute in fast mode', () => {
    const economy = timingOf(pairConfig(), DEFAULT_LATENCY);
    const fast = timingOf(
      pairConfig(
        {},
        { controller: { schedule: '1m', fastMode: { enabled: true, interval: '10s' }, probeTimeout: '15s' } },
      ),
      DEFAULT_LATENCY,
    );

    const bound = (t: typeof economy) => t.evaluation + t.run + t.observe + t.act;

    // Economy: the next scheduled run (60 s + start delays), one run ahead of it, one observation, the writes.
    expect(economy.gap).toBeCloseTo(60.95, 2);
    expect(bound(economy)).toBeLessThan(120);
    // Fast mode: the loop's last run starts at 30 s (until 60 - 15 - 5 = 40 s), so the longest gap is 30 s.
    expect(fast.gap).toBeCloseTo(30.95, 2);
    expect(bound(fast)).toBeLessThan(80);
  });
});
