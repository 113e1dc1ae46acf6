import { describe, expect, it } from 'vitest';
import { type DecideInput, decide } from '../../shared/decide/decide.ts';
import { evaluateMember, TUNNEL_PUBLICATION_LAG_S } from '../../shared/decide/health.ts';
import { OS_LOST_AFTER } from '../../shared/decide/silence.ts';
import type { AlarmKind, Decision } from '../../shared/domain/plan.ts';
import type { Datapoint, PeerReach, ProbeObservation, ProbeReply, Role } from '../../shared/domain/types.ts';
import { otherRole } from '../../shared/domain/types.ts';
import {
  DESTINATIONS,
  INSTANCE,
  MINUTE,
  NOW,
  RTB_A,
  RTB_B,
  routeOn,
  streaks,
  withInstance,
  withMemory,
  withObservation,
  withProbe,
  withRoute,
  withTunnel,
  world,
} from './builders.ts';

const alarmKinds = (decision: Decision): AlarmKind[] => decision.alarms.map((a) => a.kind);

/** Where the decision sends traffic: the move's target and trigger, or the plan kind when nothing moves. */
const outcome = (decision: Decision): string =>
  decision.plan.kind === 'failover' || decision.plan.kind === 'failback'
    ? `${decision.plan.kind} to ${decision.plan.to} (${decision.plan.trigger})`
    : decision.plan.kind;

/** Decide `first`, then each of `rest` in turn, each starting from the memory the one before stored. */
function evolve(first: DecideInput, rest: readonly DecideInput[]): Decision[] {
  const decisions = [decide(first)];
  for (const input of rest) {
    decisions.push(decide({ ...input, memory: decisions.at(-1)?.memory ?? input.memory }));
  }
  return decisions;
}

describe('hard loss of the active member moves traffic to a standby that is not verified healthy, when nothing says it is bad', () => {
  const lostPrimary: Record<string, (input: DecideInput) => DecideInput> = {
    stopped: (input) => withInstance(input, 'primary', { state: 'stopped' }),
    terminated: (input) => withInstance(input, 'primary', { state: 'terminated' }),
    'instance status impaired': (input) => withInstance(input, 'primary', { instanceStatus: 'impaired' }),
    'routes blackholed': (input) =>
      [RTB_A, RTB_B].reduce(
        (acc, table) =>
          DESTINATIONS.reduce((inner, d) => withRoute(inner, table, d, routeOn('primary', 'blackhole')), acc),
        input,
      ),
  };
  const standbyDaemonUnknown = (input: DecideInput) => withProbe(input, 'standby', 'unknown');

  const rows: {
    name: string;
    primary: keyof typeof lostPrimary;
    standby: (input: DecideInput) => DecideInput;
    dryRun?: boolean;
    expected: string;
    alarms: AlarmKind[];
  }[] = [
    {
      name: 'stopped active, standby daemon probe unanswered (its SSM agent is offline)',
      primary: 'stopped',
      standby: standbyDaemonUnknown,
      expected: 'failover to standby (hard-loss)',
      alarms: ['moved-to-unverified', 'standby-unhealthy'],
    },
    {
      name: 'terminated active, standby tunnel metric unreadable',
      primary: 'terminated',
      standby: (input) => withTunnel(input, 'standby', undefined),
      expected: 'failover to standby (hard-loss)',
      alarms: ['moved-to-unverified', 'standby-unhealthy'],
    },
    {
      name: 'impaired active, standby status checks still initializing',
      primary: 'instance status impaired',
      standby: (input) => withInstance(input, 'standby', { instanceStatus: 'initializing' }),
      expected: 'failover to standby (hard-loss)',
      alarms: ['moved-to-unverified', 'standby-unhealthy'],
    },
    {
      name: 'blackholed routes on the active, standby daemon and tunnel both unknown',
      primary: 'routes blackholed',
      standby: (input) => withTunnel(standbyDaemonUnknown(input), 'standby', []),
      expected: 'failover to standby (hard-loss)',
      alarms: ['moved-to-unverified', 'standby-unhealthy'],
    },
    {
      name: 'stopped active, standby verified healthy: an ordinary failover',
      primary: 'stopped',
      standby: (input) => input,
      expected: 'failover to standby (hard-loss)',
      alarms: ['standby-unhealthy'],
    },
    {
      name: 'stopped active, standby not running',
      primary: 'stopped',
      standby: (input) => withInstance(input, 'standby', { state: 'stopped' }),
      expected: 'alarm',
      alarms: ['no-healthy-target', 'standby-unhealthy', 'both-unhealthy', 'traffic-blackholed'],
    },
    {
      name: 'stopped active, standby status check impaired',
      primary: 'stopped',
      standby: (input) => withInstance(standbyDaemonUnknown(input), 'standby', { systemStatus: 'impaired' }),
      expected: 'alarm',
      alarms: ['no-healthy-target', 'standby-unhealthy', 'both-unhealthy', 'traffic-blackholed'],
    },
    {
      name: 'stopped active, standby daemon positively unhealthy while its tunnel is unknown',
      primary: 'stopped',
      standby: (input) => withTunnel(withProbe(input, 'standby', 'failed'), 'standby', undefined),
      expected: 'alarm',
      alarms: ['no-healthy-target', 'standby-unhealthy', 'both-unhealthy', 'traffic-blackholed'],
    },
    {
      name: 'stopped active, standby tunnel positively down while its daemon is unknown',
      primary: 'stopped',
      standby: (input) => withTunnel(standbyDaemonUnknown(input), 'standby', [0, 0]),
      expected: 'alarm',
      alarms: ['no-healthy-target', 'standby-unhealthy', 'both-unhealthy', 'traffic-blackholed'],
    },
    {
      name: 'stopped active, standby unknown with a retirement scheduled',
      primary: 'stopped',
      standby: (input) =>
        withInstance(standbyDaemonUnknown(input), 'standby', {
          scheduledEvents: [{ code: 'instance-retirement', notBefore: NOW + 86_400_000 }],
        }),
      expected: 'alarm',
      alarms: ['no-healthy-target', 'standby-unhealthy', 'both-unhealthy', 'traffic-blackholed'],
    },
    {
      name: 'stopped active, standby unknown and under a live maintenance lease',
      primary: 'stopped',
      standby: (input) =>
        withMemory(standbyDaemonUnknown(input), {
          lease: { owner: 'resize-branch-a', until: NOW + 10 * MINUTE, member: 'standby' },
        }),
      expected: 'alarm',
      alarms: ['maintenance-lease', 'traffic-blackholed'],
    },
    {
      name: 'a dry run reports the move to the unverified standby and moves nothing',
      primary: 'stopped',
      standby: standbyDaemonUnknown,
      dryRun: true,
      expected: 'failover to standby (hard-loss)',
      // The stopped primary still carries traffic in a dry run: it is blackholed, not a spare without redundancy.
      alarms: ['moved-to-unverified', 'traffic-blackholed'],
    },
  ];

  for (const row of rows) {
    it(`${row.name}: ${row.expected}${row.alarms.length > 0 ? `, raising ${row.alarms.join(', ')}` : ''}`, () => {
      const input = row.standby(
        lostPrimary[row.primary]?.(world({ dryRun: row.dryRun ?? false })) as DecideInput,
      );
      const decision = decide(input);
      expect(outcome(decision)).toBe(row.expected);
      expect(alarmKinds(decision)).toEqual(row.alarms);
    });
  }

  it('says in the move and its alarm why the standby is unverified and why it still takes traffic', () => {
    const decision = decide(
      withProbe(withInstance(world(), 'primary', { state: 'stopped' }), 'standby', 'unknown'),
    );
    expect(decision.plan.reasons).toContain(
      'standby i-0fedcba9876543210 is not verified healthy (instance healthy (i-0fedcba9876543210 running, status checks ok); daemon unknown (strongswan probe unanswered: agent did not answer); tunnel healthy (TunnelUp newest datapoints 1, 1)), but it runs with status checks not impaired and nothing about it is unhealthy: better than a certain blackhole',
    );
    expect(decision.alarms[0]?.detail).toBe(decision.plan.reasons[1]);
    expect(decision.memory.active).toBe('standby');
  });

  it('a soft failure still needs a positively healthy standby: an unknown one gets no traffic', () => {
    const input = withProbe(
      withProbe(
        withMemory(world(), { unhealthyStreak: streaks({ primary: { daemon: 1 } }) }),
        'primary',
        'failed',
      ),
      'standby',
      'unknown',
    );
    const decision = decide(input);
    expect(outcome(decision)).toBe('alarm');
    expect(alarmKinds(decision)).toEqual(['no-healthy-target']);
  });

  it('a scheduled event on the active is not a certain loss: an unknown standby gets no traffic', () => {
    const input = withProbe(
      withInstance(world(), 'primary', {
        scheduledEvents: [{ code: 'instance-stop', notBefore: NOW + 86_400_000 }],
      }),
      'standby',
      'unknown',
    );
    expect(outcome(decide(input))).toBe('alarm');
  });

  it('a hard loss of the standby while it carries traffic moves it back to an unverified primary', () => {
    const input = withProbe(
      withInstance(world({ active: 'standby' }), 'standby', { state: 'terminated' }),
      'primary',
      'unknown',
    );
    const decision = decide(input);
    expect(outcome(decision)).toBe('failback to primary (hard-loss)');
    expect(alarmKinds(decision)).toContain('moved-to-unverified');
  });
});

/** A probe observation with how it was answered and the member's ping of its partner. */
const probe = (
  role: Role,
  outcome: ProbeObservation['outcome'],
  reply: ProbeReply,
  peer?: PeerReach,
): ProbeObservation => ({
  instanceId: INSTANCE[role],
  outcome,
  detail: reply === 'silent' ? 'still Pending at the probe deadline' : '2 installed CHILD SAs',
  reply,
  ...(peer !== undefined && { peer }),
});

/**
 * One probe round in which `silent` said nothing while its partner answered healthy and reported its ping
 * of `silent` as `peer`.
 */
function silentRound(input: DecideInput, silent: Role, peer: PeerReach | undefined): DecideInput {
  const partner = otherRole(silent);
  return withObservation(input, {
    probes: {
      [silent]: probe(silent, 'unknown', 'silent'),
      [partner]: probe(partner, 'succeeded', 'answered', peer),
    } as Record<Role, ProbeObservation>,
  });
}

/** A round where both members answered and each reached the other by ping. */
const answeredRound = (input: DecideInput): DecideInput =>
  withObservation(input, {
    probes: {
      primary: probe('primary', 'succeeded', 'answered', 'reachable'),
      standby: probe('standby', 'succeeded', 'answered', 'reachable'),
    },
  });

/** The standby has reached the primary by ping before (and the primary the standby). */
const withHistory = (input: DecideInput): DecideInput =>
  withMemory(input, { peerReached: [INSTANCE.primary, INSTANCE.standby] });

describe('differential silence: a member silent while its partner answers, and unreachable from it, has lost its OS', () => {
  const base = withHistory(world());
  const rows: { name: string; rounds: DecideInput[]; expected: string; primary: string }[] = [
    {
      name: 'silent once, partner cannot ping it',
      rounds: [silentRound(base, 'primary', 'unreachable')],
      expected: 'noop',
      primary: 'unknown',
    },
    {
      name: 'silent twice in a row, partner cannot ping it in both, and has before (OS lost)',
      rounds: [silentRound(base, 'primary', 'unreachable'), silentRound(base, 'primary', 'unreachable')],
      expected: 'failover to standby (hard-loss)',
      primary: 'unhealthy',
    },
    {
      name: 'silent twice, but the partner reaches it by ping (only its SSM agent is offline)',
      rounds: [silentRound(base, 'primary', 'reachable'), silentRound(base, 'primary', 'reachable')],
      expected: 'noop',
      primary: 'unknown',
    },
    {
      name: 'silent twice, partner cannot ping it but never could (ping blocked between members)',
      rounds: [
        silentRound(world(), 'primary', 'unreachable'),
        silentRound(world(), 'primary', 'unreachable'),
      ],
      expected: 'noop',
      primary: 'unknown',
    },
    {
      name: 'silent twice, partner could not run ping',
      rounds: [silentRound(base, 'primary', 'unknown'), silentRound(base, 'primary', 'unknown')],
      expected: 'noop',
      primary: 'unknown',
    },
    {
      name: 'silent twice, partner was given no address to ping',
      rounds: [silentRound(base, 'primary', undefined), silentRound(base, 'primary', undefined)],
      expected: 'noop',
      primary: 'unknown',
    },
    {
      name: 'silent, then answering, then silent: not twice in a row',
      rounds: [
        silentRound(base, 'primary', 'unreachable'),
        answeredRound(base),
        silentRound(base, 'primary', 'unreachable'),
      ],
      expected: 'noop',
      primary: 'unknown',
    },
    {
      name: 'both members silent twice (SSM itself is not answering)',
      rounds: [1, 2].map(() =>
        withObservation(base, {
          probes: {
            primary: probe('primary', 'unknown', 'silent'),
            standby: probe('standby', 'unknown', 'silent'),
          },
        }),
      ),
      expected: 'noop',
      primary: 'unknown',
    },
    {
      name: 'unreadable twice (SSM throttled) while the partner answered and cannot ping it',
      rounds: [1, 2].map(() =>
        withObservation(base, {
          probes: {
            primary: probe('primary', 'unknown', 'unreadable'),
            standby: probe('standby', 'succeeded', 'answered', 'unreachable'),
          },
        }),
      ),
      expected: 'noop',
      primary: 'unknown',
    },
    {
      name: 'silent once, and EC2 already reports the instance status check impaired',
      rounds: [
        withInstance(silentRound(base, 'primary', 'reachable'), 'primary', { instanceStatus: 'impaired' }),
      ],
      expected: 'failover to standby (hard-loss)',
      primary: 'unhealthy',
    },
    {
      name: 'the partner first reaches it, then it falls silent and unreachable twice',
      rounds: [
        answeredRound(world()),
        silentRound(world(), 'primary', 'unreachable'),
        silentRound(world(), 'primary', 'unreachable'),
      ],
      expected: 'failover to standby (hard-loss)',
      primary: 'unhealthy',
    },
  ];

  for (const row of rows) {
    it(`${row.name}: ${row.expected}, primary ${row.primary}`, () => {
      const [first, ...rest] = row.rounds;
      const decisions = evolve(first as DecideInput, rest);
      const last = decisions.at(-1) as Decision;
      expect(outcome(last)).toBe(row.expected);
      expect(last.verdicts.primary.health).toBe(row.primary);
      for (const earlier of decisions.slice(0, -1)) expect(earlier.plan.kind).toBe('noop');
    });
  }

  it('names the lost OS and its evidence in the move', () => {
    const [, second] = evolve(silentRound(base, 'primary', 'unreachable'), [
      silentRound(base, 'primary', 'unreachable'),
    ]);
    expect(second?.plan.reasons[0]).toBe(
      'primary lost: OS lost: probe silent 2 evaluations in a row while standby answered, and standby gets no ping reply from it (it did before)',
    );
  });

  it('tells an operator, while it waits, what the silence does and does not show', () => {
    const once = decide(silentRound(base, 'primary', 'unreachable'));
    expect(once.verdicts.primary.signals.daemon?.reason).toContain(
      `silent while standby answered and gets no ping reply from it: 1/${OS_LOST_AFTER} evaluations before its OS counts as lost`,
    );
    const agentOnly = decide(silentRound(base, 'primary', 'reachable'));
    expect(agentOnly.verdicts.primary.signals.daemon?.reason).toContain(
      'standby reaches it by ping: its SSM agent, not its OS, is silent',
    );
    const blocked = decide(silentRound(world(), 'primary', 'unreachable'));
    expect(blocked.verdicts.primary.signals.daemon?.reason).toContain(
      'standby has never reached it by ping (ping may be blocked), so this is no evidence',
    );
  });

  it('a standby whose OS is lost is reported unhealthy and gets no traffic', () => {
    const decisions = evolve(silentRound(base, 'standby', 'unreachable'), [
      silentRound(base, 'standby', 'unreachable'),
      withInstance(silentRound(base, 'standby', 'unreachable'), 'primary', { state: 'stopped' }),
    ]);
    expect(alarmKinds(decisions[1] as Decision)).toContain('standby-unhealthy');
    expect(outcome(decisions[2] as Decision)).toBe('alarm');
    expect(alarmKinds(decisions[2] as Decision)).toContain('traffic-blackholed');
  });

  it('remembers who reached whom and the silence streak, capped, and forgets the streak once the member answers', () => {
    const decisions = evolve(answeredRound(world()), [
      silentRound(world(), 'standby', 'unreachable'),
      silentRound(world(), 'standby', 'unreachable'),
      silentRound(world(), 'standby', 'unreachable'),
      answeredRound(world()),
    ]);
    expect(decisions[0]?.memory.peerReached).toEqual([INSTANCE.primary, INSTANCE.standby]);
    expect(decisions.map((d) => d.memory.silenceStreak?.standby)).toEqual([
      undefined,
      1,
      OS_LOST_AFTER,
      OS_LOST_AFTER,
      undefined,
    ]);
    expect(decisions[4]?.memory.peerReached).toEqual([INSTANCE.primary, INSTANCE.standby]);
  });

  it('forgets what was reached of a member replaced by a new instance', () => {
    const input = withHistory(world({ pair: { standby: { instanceId: 'i-0aaaabbbbccccdddd' } } }));
    const decision = decide({ ...input, observation: { ...input.observation, probes: undefined } });
    expect(decision.memory.peerReached).toEqual([INSTANCE.primary]);
  });
});

describe('tunnel staleness: datapoints older than the window plus publication lag read unknown, not healthy', () => {
  const SECOND = 1000;
  /** Datapoints whose periods ended `endedAgo` ms ago, newest first, one a period. */
  const ended = (input: DecideInput, endedAgo: number, values: readonly number[]): Datapoint[] => {
    const period = (input.pair.tunnel?.period ?? 60) * SECOND;
    return values.map((value, i) => ({ at: NOW - endedAgo - period - i * period, value }));
  };
  const tunnelOf = (input: DecideInput, datapoints: Datapoint[]) => {
    const observed = withObservation(input, {
      tunnels: {
        primary: { instanceId: INSTANCE.primary, datapoints },
        standby: input.observation.tunnels?.standby ?? { instanceId: INSTANCE.standby },
      },
    });
    return evaluateMember({
      pair: observed.pair,
      role: 'primary',
      observation: observed.observation,
      now: NOW,
    }).signals.tunnel;
  };
  // 60 s periods, 2 datapoints to breach: the older of the two may have ended 120 s + the lag ago.
  const WINDOW = 2 * 60 * SECOND + TUNNEL_PUBLICATION_LAG_S * SECOND;
  const standard = world();
  const highResolution = world({
    pair: {
      tunnel: { namespace: 'VpnFailover', metricName: 'TunnelUp', period: 10, datapointsToBreach: 3 },
    },
  });

  const rows: {
    name: string;
    input: DecideInput;
    datapoints: (input: DecideInput) => Datapoint[];
    health: string;
  }[] = [
    {
      name: 'up, just published',
      input: standard,
      datapoints: (input) => ended(input, 0, [1, 1]),
      health: 'healthy',
    },
    {
      name: 'down, just published',
      input: standard,
      datapoints: (input) => ended(input, 0, [0, 0]),
      health: 'unhealthy',
    },
    {
      name: 'up, the older datapoint exactly at the window plus lag',
      input: standard,
      datapoints: (input) => ended(input, WINDOW - 60 * SECOND, [1, 1]),
      health: 'healthy',
    },
    {
      name: 'up, the older datapoint one second past the window plus lag',
      input: standard,
      datapoints: (input) => ended(input, WINDOW - 60 * SECOND + SECOND, [1, 1]),
      health: 'unknown',
    },
    {
      name: 'up, but the publisher stopped three minutes ago',
      input: standard,
      datapoints: (input) => ended(input, 3 * MINUTE, [1, 1, 1]),
      health: 'unknown',
    },
    {
      name: 'down, but stale: not evidence of a tunnel down now',
      input: standard,
      datapoints: (input) => ended(input, 5 * MINUTE, [0, 0]),
      health: 'unknown',
    },
    {
      name: 'high resolution (10 s x 3), published 20 s ago',
      input: highResolution,
      datapoints: (input) => ended(input, 20 * SECOND, [1, 1, 1]),
      health: 'healthy',
    },
    {
      name: 'high resolution (10 s x 3), nothing for 90 s',
      input: highResolution,
      datapoints: (input) => ended(input, 90 * SECOND, [1, 1, 1]),
      health: 'unknown',
    },
  ];

  for (const row of rows) {
    it(`${row.name}: ${row.health}`, () => {
      expect(tunnelOf(row.input, row.datapoints(row.input))?.health).toBe(row.health);
    });
  }

  it('says how old the newest datapoint is when every one is stale', () => {
    expect(tunnelOf(standard, ended(standard, 4 * MINUTE, [1, 1]))?.reason).toBe(
      'no fresh datapoints (0 of 2 needed); newest datapoint from 2026-11-30T11:55:00.000Z, older ones than 2026-11-30T11:56:00.000Z are stale (60 s x 2 + 60 s publication lag)',
    );
  });

  it('a stale down tunnel on the active never moves traffic', () => {
    const input = withMemory(
      withObservation(standard, {
        tunnels: {
          primary: { instanceId: INSTANCE.primary, datapoints: ended(standard, 5 * MINUTE, [0, 0]) },
          standby: standard.observation.tunnels?.standby ?? { instanceId: INSTANCE.standby },
        },
      }),
      { unhealthyStreak: streaks({ primary: { tunnel: 1 } }) },
    );
    const decision = decide(input);
    expect(decision.plan.kind).toBe('noop');
    expect(decision.memory.unhealthyStreak.primary.tunnel).toBe(1);
  });
});
