import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTE_WRITE_CONCURRENCY } from '../../shared/controller/act.ts';
import type { MemberState, RecordedRun } from '../../sim/ground-truth.ts';
import { runRecorded } from '../../sim/ground-truth.ts';
import { DEFAULT_LATENCY } from '../../sim/latency.ts';
import type { SimEvent } from '../../sim/output.ts';
import {
  checkAlarmWithoutTarget,
  checkConvergence,
  checkCooldown,
  checkElasticIpFollows,
  checkHardLossMoves,
  checkHealthyTargets,
  checkIntentFirst,
  checkInvariants,
  checkNoMoveFromHealthy,
  checkRouteOwnership,
  checkUnknownNeverMoves,
  timingOf,
} from '../support/invariants.ts';
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

/** The ground truth with every state of one member changed. */
const withMember = (
  run: RecordedRun,
  member: string,
  change: (s: MemberState) => MemberState,
): RecordedRun => ({
  ...run,
  truth: {
    ...run.truth,
    members: { ...run.truth.members, [member]: (run.truth.members[member] ?? []).map(change) },
  },
});

/** The run as if the scenario had had no operator commands. */
const withoutCommands = (run: RecordedRun): RecordedRun => ({
  ...run,
  scenario: { ...run.scenario, commands: [] },
});

const withElasticIp = pairConfig({ elasticIp: { allocationId: 'eipalloc-0123456789abcdef0' } });

let hardLoss: RecordedRun;
let softFailure: RecordedRun;
/** an operator moves traffic between two healthy members; the pair has an Elastic IP */
let operatorMove: RecordedRun;
/** the daemons of both members die */
let bothDown: RecordedRun;
/** an operator forces traffic onto a stopped standby; the controller takes it back */
let forcedOntoStopped: RecordedRun;

beforeAll(async () => {
  hardLoss = await runRecorded(
    scenarioOf({ duration: '8m', faults: [{ at: '2m', target: 'branch-a/primary', fault: 'terminate' }] }),
  );
  softFailure = await runRecorded(
    scenarioOf({ duration: '10m', faults: [{ at: '1m', target: 'branch-a/primary', fault: 'daemon-down' }] }),
  );
  operatorMove = await runRecorded(
    scenarioOf(
      { duration: '6m', commands: [{ at: '2m', command: 'failover', pair: 'branch-a', to: 'standby' }] },
      withElasticIp,
    ),
  );
  bothDown = await runRecorded(
    scenarioOf({
      duration: '6m',
      faults: [
        { at: '1m', target: 'branch-a/primary', fault: 'daemon-down' },
        { at: '1m', target: 'branch-a/standby', fault: 'daemon-down' },
      ],
    }),
  );
  forcedOntoStopped = await runRecorded(
    scenarioOf({
      duration: '8m',
      faults: [{ at: '1m', target: 'branch-a/standby', fault: 'stop' }],
      commands: [{ at: '3m', command: 'failover', pair: 'branch-a', to: 'standby', force: true }],
    }),
  );
});

describe('the invariant checkers', () => {
  it('find nothing wrong in real runs of a hard loss and a soft failure, and judge something in each', () => {
    expect(violationsOf(hardLoss)).toEqual([]);
    expect(violationsOf(softFailure)).toEqual([]);
    expect(violationsOf(operatorMove)).toEqual([]);
    expect(violationsOf(bothDown)).toEqual([]);
    expect(violationsOf(forcedOntoStopped)).toEqual([]);
    expect(checkNoMoveFromHealthy(operatorMove).checked).toBe(1);
    expect(checkElasticIpFollows(operatorMove).checked).toBeGreaterThan(0);
    expect(checkAlarmWithoutTarget(bothDown).checked).toBe(1);
    expect(checkIntentFirst(hardLoss).checked).toBe(4);
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

  it('accept a move off a lost member to one whose daemon could not be vouched for, but not off a running member (invariant 2)', () => {
    // Prepare: the standby's daemon was really down all along, in both runs.
    const daemonDown = (s: MemberState): MemberState => ({ ...s, daemonFault: true });
    const offLost = withMember(hardLoss, 'branch-a/standby', daemonDown);
    const offRunning = withMember(softFailure, 'branch-a/standby', daemonDown);

    // Act / Assess: the hard loss left nothing to lose (moved-to-unverified); a soft failure did.
    expect(checkHealthyTargets(offLost).violations).toEqual([]);
    expect(checkHealthyTargets(offRunning).violations.length).toBeGreaterThan(0);
    expect(checkHealthyTargets(offRunning).violations[0]?.message).toMatch(/not tunnel SAs established/);
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
    const stored = { t: back.t, invocation: 99, pair: 'branch-a', what: 'state' as const };
    const moved = withEvents(softFailure, events);
    const run = { ...moved, truth: { ...moved.truth, writes: [...moved.truth.writes, stored] } };

    const { violations } = checkCooldown(run);

    expect(violations).toHaveLength(1);
    expect(violations[0]?.message).toMatch(/only 60s after the soft-failure failover/);
    // The same decision, had its state write failed (another run stored first), moved nothing.
    expect(checkCooldown(moved).violations).toEqual([]);
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

describe('a run whose state table fails', () => {
  it('moves no route while the table fails every call, then fails over once it answers, breaking no invariant', async () => {
    const run = await runRecorded(
      scenarioOf({
        duration: '8m',
        faults: [
          { at: 0, target: '*', fault: 'state-store-errors', rate: 1, for: '3m' },
          { at: '1m', target: 'branch-a/primary', fault: 'stop' },
        ],
      }),
    );
    const changes = run.output.events.filter((e) => e.type === 'route-change');

    expect(run.output.events.some((e) => e.type === 'error' && e.t < 180)).toBe(true);
    expect(changes.filter((e) => e.t < 180)).toEqual([]);
    expect(changes.filter((e) => e.to === 'standby')).toHaveLength(4);
    expect(run.output.final.pairs['branch-a']?.active).toBe('standby');
    expect(violationsOf(run)).toEqual([]);
  });
});

describe('the invariant checkers of moves that need a reason', () => {
  it('report a move between two healthy members that no operator asked for (invariant 6)', () => {
    const { violations } = checkNoMoveFromHealthy(withoutCommands(operatorMove));

    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ invariant: 6, pair: 'branch-a' });
    expect(violations[0]?.message).toMatch(/from primary to standby .* primary was healthy on every signal/);
  });

  it('report a move away from a member whose signals only read unknown (invariant 7)', () => {
    // Both agents offline: the primary's probe cannot answer, and nothing is wrong with the primary itself.
    const silent = (s: MemberState) => ({ ...s, agentFault: true });
    const blind = withMember(
      withMember(withoutCommands(operatorMove), 'branch-a/primary', silent),
      'branch-a/standby',
      silent,
    );

    const { violations } = checkUnknownNeverMoves(blind);

    expect(violations).toHaveLength(1);
    expect(violations[0]?.message).toContain('primary had no fault, only unknown signals');
    expect(checkNoMoveFromHealthy(blind).violations).toEqual([]);
  });

  it('accept a move away from a member whose agent was silent while its partner answered, two probes in a row', () => {
    const silent = withMember(withoutCommands(operatorMove), 'branch-a/primary', (s) => ({
      ...s,
      agentFault: true,
    }));

    expect(checkUnknownNeverMoves(silent).violations).toEqual([]);
    expect(checkNoMoveFromHealthy(silent).violations).toEqual([]);
  });

  it('report a move away from a member whose agent fell silent only just before it (invariant 7)', () => {
    const move = operatorMove.output.events.find((e) => e.type === 'failover');
    if (move === undefined) throw new Error('expected a failover');
    // Silent from 5 s before the decision: one probe at most, not two.
    const silentFrom = (move.t - 5) * 1000;
    const primary = operatorMove.truth.members['branch-a/primary'] ?? [];
    const states = [
      ...primary,
      { ...(primary.at(-1) as MemberState), at: silentFrom, agentFault: true },
    ].sort((a, b) => a.at - b.at);
    const run = withoutCommands({
      ...operatorMove,
      truth: {
        ...operatorMove.truth,
        members: { ...operatorMove.truth.members, 'branch-a/primary': states },
      },
    });

    expect(checkUnknownNeverMoves(run).violations).toHaveLength(1);
  });

  it('report an Elastic IP left behind when the routes moved (invariant 8)', () => {
    const left = withEvents(
      operatorMove,
      operatorMove.output.events.filter((e) => e.type !== 'elastic-ip'),
    );

    const { violations } = checkElasticIpFollows(left);

    expect(violations).toHaveLength(1);
    expect(violations[0]?.message).toMatch(/routes all on standby .* its Elastic IP is on primary/);
  });

  it('report a pair with no healthy member and no alarm (invariant 9)', () => {
    const silent = withEvents(
      bothDown,
      bothDown.output.events.filter((e) => e.type !== 'alarm' && e.type !== 'alarm-cleared'),
    );

    const { violations } = checkAlarmWithoutTarget(silent);

    expect(violations).toHaveLength(1);
    expect(violations[0]?.message).toContain('had no healthy member');
  });

  it('report routes put back on a terminated member while the other is healthy, after the first deadline (invariant 1)', () => {
    const last = hardLoss.output.events.filter((e) => e.type === 'route-change').at(-1);
    if (last?.type !== 'route-change') throw new Error('expected a route change');
    const back = { ...last, t: last.t + 150, from: 'standby' as const, to: 'primary' as const };
    const events = [...hardLoss.output.events, back].sort((a, b) => a.t - b.t);

    const { violations } = checkHardLossMoves(withEvents(hardLoss, events));

    expect(violations).toHaveLength(1);
    expect(violations[0]?.t).toBe(back.t);
  });

  it('report a route write made before the invocation stored the pair’s state (invariant 10)', () => {
    const { writes } = hardLoss.truth;
    const unstored = {
      ...hardLoss,
      truth: { ...hardLoss.truth, writes: writes.filter((w) => w.what !== 'state') },
    };

    expect(writes.filter((w) => w.what === 'state').length).toBeGreaterThan(0);
    expect(checkIntentFirst(unstored).violations).toHaveLength(4);
    expect(checkIntentFirst(unstored).violations[0]?.message).toContain(
      'without having stored the pair’s state first',
    );
  });

  it('accept a forced failover onto a stopped member, but not the same move unforced (invariant 2)', () => {
    const moved = forcedOntoStopped.output.events.filter(
      (e) => e.type === 'route-change' && e.to === 'standby',
    );
    const unforced = {
      ...forcedOntoStopped,
      scenario: {
        ...forcedOntoStopped.scenario,
        commands: forcedOntoStopped.scenario.commands.map((c) => ({ ...c, force: false })),
      },
    };

    expect(moved.length).toBeGreaterThan(0);
    expect(checkHealthyTargets(forcedOntoStopped).violations).toEqual([]);
    expect(checkHealthyTargets(unforced).violations).toHaveLength(moved.length);
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
    // Fast mode: evaluations every 10 s, evenly, across invocations (the longest gap is one interval).
    expect(fast.gap).toBeCloseTo(10.95, 2);
    expect(bound(fast)).toBeLessThan(80);
  });

  it('pace route writes past EC2’s burst of 50 at 5 a second: 7 tables x 8 destinations add (56 - 50) / 5 s', () => {
    const tables = Array.from({ length: 7 }, (_, k) => `rtb-0a1b2c3d4e5f6071${k}`);
    const destinations = Array.from({ length: 8 }, (_, k) => `10.${k}.0.0/16`);
    const small = timingOf(pairConfig(), DEFAULT_LATENCY);
    const large = timingOf(pairConfig({ routeTables: tables, destinations }), DEFAULT_LATENCY);

    // 56 writes instead of 4: more rounds of parallel writes at 0.35 s each, plus (56 - 50) / 5 s at the refill rate.
    const rounds = (writes: number) => Math.ceil(writes / ROUTE_WRITE_CONCURRENCY);
    expect(large.act - small.act).toBeCloseTo((rounds(56) - rounds(4)) * 0.35 + 6 / 5, 5);
  });
});
