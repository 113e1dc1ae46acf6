import { describe, expect, it } from 'vitest';
import { type DecideInput, decide, inferActive } from '../../shared/decide/decide.ts';
import type { Decision, Plan, RouteWrite } from '../../shared/domain/plan.ts';
import { isMove } from '../../shared/domain/plan.ts';
import type { ProbeObservation } from '../../shared/domain/types.ts';
import {
  atTime,
  DESTINATIONS,
  ENI,
  foreignRoute,
  healthyObservation,
  INSTANCE,
  MINUTE,
  missingRoute,
  NOW,
  type PairInput,
  pairConfig,
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

const ALL_ROUTES = [RTB_A, RTB_B].flatMap((routeTableId) =>
  DESTINATIONS.map((destination) => ({ routeTableId, destination })),
);

/** The writes that point every managed route at `eni`. */
const everyRouteTo = (eni: string): RouteWrite[] =>
  ALL_ROUTES.map((key) => ({ ...key, action: 'replace', networkInterfaceId: eni }));

const movePlan = (decision: Decision) => {
  const { plan } = decision;
  if (!isMove(plan)) throw new Error(`expected a move, got ${plan.kind}: ${plan.reasons.join('; ')}`);
  return plan;
};

const alarmKinds = (decision: Decision) => decision.alarms.map((a) => a.kind);

const stoppedPrimary = (input: DecideInput = world()) => withInstance(input, 'primary', { state: 'stopped' });

/** A daemon probe that sees only whether the unit runs, not the SAs. */
const SYSTEMD = { kind: 'systemd', unit: 'strongswan' } as const;

/** Decide `first`, then each of `rest` in turn, each starting from the memory the one before stored. */
function evolve(first: DecideInput, rest: readonly DecideInput[]): Decision[] {
  const decisions = [decide(first)];
  for (const input of rest) {
    decisions.push(decide({ ...input, memory: decisions.at(-1)?.memory ?? input.memory }));
  }
  return decisions;
}

describe('decide: hard loss', () => {
  it('fails over at once when the active instance is stopped and the standby is healthy', () => {
    const decision = decide(stoppedPrimary());

    expect(decision.plan).toMatchObject({
      kind: 'failover',
      trigger: 'hard-loss',
      from: 'primary',
      to: 'standby',
    });
    expect(movePlan(decision).routes).toEqual(everyRouteTo(ENI.standby));
    expect(movePlan(decision).targetEni).toBe(ENI.standby);
    expect(decision.memory).toMatchObject({ active: 'standby', lastFailoverAt: NOW });
    expect(alarmKinds(decision)).toEqual(['standby-unhealthy']);
  });

  it('fails over when the active instance has vanished (not found)', () => {
    const decision = decide(withInstance(world(), 'primary', { found: false }));
    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'hard-loss' });
  });

  it('fails over when the active instance status check is impaired', () => {
    const decision = decide(withInstance(world(), 'primary', { instanceStatus: 'impaired' }));
    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'hard-loss', to: 'standby' });
  });

  it('fails over when a route to the active member ENI is blackholed', () => {
    const decision = decide(withRoute(world(), RTB_B, DESTINATIONS[1], routeOn('primary', 'blackhole')));
    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'hard-loss', to: 'standby' });
    expect(movePlan(decision).routes).toHaveLength(4);
  });

  it('moves traffic off a member with a scheduled retirement before it happens', () => {
    const input = withInstance(world(), 'primary', {
      scheduledEvents: [{ code: 'instance-retirement', notBefore: NOW + 7 * 86_400_000 }],
    });
    const decision = decide(input);
    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'scheduled-event', to: 'standby' });
    expect(decision.plan.reasons.join(' ')).toContain('instance-retirement');
  });

  it('keeps traffic on a lost primary when EC2 cannot say whether the standby runs, and says traffic is blackholed, not that the standby is unhealthy', () => {
    const input = withInstance(stoppedPrimary(), 'standby', { state: undefined });
    const decision = decide(input);

    expect(decision.plan.kind).toBe('alarm');
    expect(decision.plan.reasons.join(' ')).toContain('traffic stays on primary');
    expect(alarmKinds(decision)).toEqual(['no-healthy-target', 'traffic-blackholed']);
    expect(decision.alarms[1]?.detail).toBe(
      'primary i-0123456789abcdef0 carries traffic and is lost (i-0123456789abcdef0 is stopped); no move off it can be made',
    );
    expect(decision.memory.active).toBe('primary');
    expect(decision.memory.lastFailoverAt).toBeUndefined();
  });

  it('does not fail over to a standby whose route-target ENI is unknown', () => {
    const decision = decide(
      withObservation(stoppedPrimary(), { enis: { primary: ENI.primary, standby: undefined } }),
    );
    expect(decision.plan.kind).toBe('alarm');
    expect(decision.alarms).toContainEqual({
      kind: 'no-healthy-target',
      detail: 'the route-target ENI of standby is unknown, so no route can point at it',
    });
  });
});

describe('decide: soft failure', () => {
  it('a standby that stays down stops changing the stored memory, so a degraded pair writes no state', () => {
    const input = withMemory(withProbe(world(), 'standby', 'failed'), {
      unhealthyStreak: streaks({ standby: { daemon: 2 } }),
    });
    const decision = decide(input);

    expect(decision.plan.kind).toBe('noop');
    expect(decision.memory.unhealthyStreak).toEqual(input.memory.unhealthyStreak);
    expect(alarmKinds(decision)).toContain('standby-unhealthy');
  });

  it('does not fail over on a single unhealthy daemon probe', () => {
    const decision = decide(withProbe(world(), 'primary', 'failed'));

    expect(decision.plan.kind).toBe('noop');
    expect(decision.plan.reasons).toContain('primary daemon unhealthy 1/2: waiting');
    expect(decision.memory.unhealthyStreak.primary.daemon).toBe(1);
  });

  it('fails over when the daemon probe fails for unhealthyThreshold consecutive evaluations', () => {
    const input = withMemory(withProbe(world(), 'primary', 'failed'), {
      unhealthyStreak: streaks({ primary: { daemon: 1 } }),
    });
    const decision = decide(input);

    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'soft-failure', to: 'standby' });
    expect(decision.plan.reasons[0]).toBe(
      'primary daemon unhealthy x2: strongswan probe failed: 0 IKE_SAs established',
    );
  });

  it('fails over on a tunnel down for unhealthyThreshold evaluations when the standby tunnel is up', () => {
    const input = withMemory(withTunnel(world({ pair: { probe: SYSTEMD } }), 'primary', [0, 0, 1]), {
      unhealthyStreak: streaks({ primary: { tunnel: 1 } }),
    });
    expect(decide(input).plan).toMatchObject({ kind: 'failover', trigger: 'soft-failure' });
  });

  it("does not move traffic when the standby's tunnel is down too", () => {
    const both = withTunnel(
      withTunnel(world({ pair: { probe: SYSTEMD } }), 'primary', [0, 0]),
      'standby',
      [0, 0],
    );
    const input = withMemory(both, {
      unhealthyStreak: streaks({ primary: { tunnel: 5 } }),
    });
    const decision = decide(input);

    expect(decision.plan.kind).toBe('alarm');
    expect(decision.plan.reasons.join(' ')).toContain(
      'the far end may be down and moving traffic helps no one',
    );
    expect(alarmKinds(decision)).toEqual(expect.arrayContaining(['no-healthy-target', 'both-unhealthy']));
    expect(decision.memory.active).toBe('primary');
  });

  it('a healthy reading resets the streak and an unknown one leaves it as it was', () => {
    const memory = { unhealthyStreak: streaks({ primary: { daemon: 1, tunnel: 1 } }) };
    const healthy = decide(withMemory(world(), memory));
    const unknown = decide(
      withMemory(withTunnel(withProbe(world(), 'primary', 'unknown'), 'primary', []), memory),
    );

    expect(healthy.memory.unhealthyStreak.primary).toEqual({ daemon: 0, tunnel: 0 });
    expect(unknown.memory.unhealthyStreak.primary).toEqual({ daemon: 1, tunnel: 1 });
  });

  it('moves traffic off a failing member to a healthy one at once, even a minute after the last move (the cooldown holds only failback)', () => {
    // Traffic failed back to the primary a minute ago and its daemon has failed again since.
    const input = withMemory(withProbe(world(), 'primary', 'failed'), {
      lastFailoverAt: NOW - MINUTE,
      unhealthyStreak: streaks({ primary: { daemon: 1 } }),
    });
    const decision = decide(input);

    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'soft-failure', to: 'standby' });
    expect(decision.memory).toMatchObject({ active: 'standby', lastFailoverAt: NOW });
    expect(decision.alarms.filter((a) => a.kind !== 'standby-unhealthy')).toEqual([]);
  });

  it('fails over on a soft failure once the cooldown has passed', () => {
    const input = withMemory(withProbe(world(), 'primary', 'failed'), {
      lastFailoverAt: NOW - 5 * MINUTE,
      unhealthyStreak: streaks({ primary: { daemon: 4 } }),
    });
    expect(decide(input).plan).toMatchObject({ kind: 'failover', trigger: 'soft-failure' });
  });
});

describe('decide: unknown signals', () => {
  it('unknown daemon never moves traffic', () => {
    const input = withMemory(withProbe(world(), 'primary', 'unknown'), {
      unhealthyStreak: streaks({ primary: { daemon: 9 } }),
    });
    const decision = decide(input);

    expect(decision.plan.kind).toBe('noop');
    expect(decision.plan.reasons.join(' ')).toContain('unknown never moves traffic');
    expect(decision.memory.unknownStreak).toBe(1);
  });

  it('raises signal-unknown only on the third evaluation in a row that cannot read a signal of the active member', () => {
    const unreadable = withTunnel(world(), 'primary', []);
    const decisions = evolve(unreadable, [unreadable, unreadable]);
    const third = decisions[2];

    expect(decisions.map(alarmKinds)).toEqual([[], [], ['signal-unknown']]);
    expect(third?.alarms[0]?.detail).toBe(
      'primary i-0123456789abcdef0, the member carrying traffic, has signals that cannot be read: tunnel (no datapoints yet (0 of 2 needed))',
    );
    expect(third?.plan.kind).toBe('noop');
  });

  it('does not fail over on a single insufficient-data status check', () => {
    const decision = decide(withInstance(world(), 'primary', { instanceStatus: 'insufficient-data' }));
    expect(decision.plan.kind).toBe('noop');
  });
});

describe('decide: maintenance lease', () => {
  const lease = { owner: 'resize-branch-a-20261130', until: NOW + 10 * MINUTE, member: 'standby' as const };

  it('does not fail over to a member under a live maintenance lease', () => {
    const decision = decide(withMemory(stoppedPrimary(), { lease }));

    expect(decision.plan.kind).toBe('alarm');
    expect(decision.alarms).toContainEqual({
      kind: 'maintenance-lease',
      detail:
        'standby is under a maintenance lease held by resize-branch-a-20261130 until 2026-11-30T12:10:00.000Z',
    });
  });

  it('an expired lease no longer blocks a failover', () => {
    const decision = decide(withMemory(stoppedPrimary(), { lease: { ...lease, until: NOW } }));
    expect(decision.plan).toMatchObject({ kind: 'failover', to: 'standby' });
  });

  it('a lease on the member losing traffic does not block moving away from it', () => {
    const decision = decide(withMemory(stoppedPrimary(), { lease: { ...lease, member: 'primary' } }));
    expect(decision.plan).toMatchObject({ kind: 'failover', to: 'standby' });
  });

  it('keeps the memory lease as it is', () => {
    expect(decide(withMemory(world(), { lease })).memory.lease).toEqual(lease);
  });
});

describe('decide: failback', () => {
  const onStandby = (failback: 'manual' | 'automatic', memory = {}) =>
    world({
      active: 'standby',
      pair: { failback, failbackAfter: 3 },
      memory: { healthyStreak: { primary: 2, standby: 40 }, lastFailoverAt: NOW - 30 * MINUTE, ...memory },
    });

  it('never fails back automatically in manual mode', () => {
    const decision = decide(
      withMemory(onStandby('manual'), { healthyStreak: { primary: 500, standby: 500 } }),
    );

    expect(decision.plan.kind).toBe('noop');
    expect(decision.plan.reasons).toContain(
      'traffic stays on the standby until an operator fails back (failback: manual)',
    );
    expect(decision.memory.active).toBe('standby');
  });

  it('fails back automatically once the primary has been healthy for failbackAfter evaluations', () => {
    const decision = decide(onStandby('automatic'));

    expect(decision.plan).toMatchObject({
      kind: 'failback',
      trigger: 'automatic-failback',
      from: 'standby',
      to: 'primary',
    });
    expect(movePlan(decision).routes).toEqual(everyRouteTo(ENI.primary));
    expect(decision.memory).toMatchObject({
      active: 'primary',
      lastFailoverAt: NOW,
      healthyStreak: { primary: 3 },
    });
  });

  it('does not fail back automatically while the primary has been healthy too briefly', () => {
    const decision = decide(
      withMemory(onStandby('automatic'), { healthyStreak: { primary: 1, standby: 9 } }),
    );
    expect(decision.plan.kind).toBe('noop');
    expect(decision.plan.reasons).toContain('primary healthy 2/3 evaluations before automatic failback');
  });

  it('waits for the cooldown before an automatic failback', () => {
    const decision = decide(withMemory(onStandby('automatic'), { lastFailoverAt: NOW - MINUTE }));
    expect(decision.plan.kind).toBe('noop');
    expect(decision.plan.reasons).toContain('automatic failback waits 4m for the cooldown');
  });

  it('an unknown reading of the primary restarts the failback count', () => {
    const decision = decide(withProbe(onStandby('automatic'), 'primary', 'unknown'));
    expect(decision.plan.kind).toBe('noop');
    expect(decision.memory.healthyStreak.primary).toBe(0);
  });

  it('does not fail back onto a primary under a maintenance lease', () => {
    const lease = { owner: 'resize', until: NOW + MINUTE, member: 'primary' as const };
    const decision = decide(withMemory(onStandby('automatic'), { lease }));
    expect(decision.plan.kind).toBe('noop');
    expect(decision.memory.active).toBe('standby');
  });

  it('a hard loss of the standby while it carries traffic moves traffic back to the primary', () => {
    const decision = decide(withInstance(onStandby('manual'), 'standby', { state: 'stopped' }));
    expect(decision.plan).toMatchObject({
      kind: 'failback',
      trigger: 'hard-loss',
      from: 'standby',
      to: 'primary',
    });
  });
});

describe('decide: operator command', () => {
  const command = (to: 'primary' | 'standby', force = false) => ({ action: 'failover' as const, to, force });

  it('fails over on command to a healthy standby, ignoring the cooldown', () => {
    const input = { ...withMemory(world(), { lastFailoverAt: NOW - MINUTE }), command: command('standby') };
    const decision = decide(input);

    expect(decision.plan).toMatchObject({ kind: 'failover', trigger: 'manual', to: 'standby' });
    expect(decision.refusal).toBeUndefined();
    expect(decision.memory).toMatchObject({ active: 'standby', lastFailoverAt: NOW });
  });

  it('fails back on command to the primary', () => {
    const decision = decide({ ...world({ active: 'standby' }), command: command('primary') });
    expect(decision.plan).toMatchObject({
      kind: 'failback',
      trigger: 'manual',
      from: 'standby',
      to: 'primary',
    });
  });

  it('a command to the member already carrying traffic with its routes in place is a noop', () => {
    const decision = decide({ ...world(), command: command('primary') });
    expect(decision.plan.kind).toBe('noop');
    expect(decision.refusal).toBeUndefined();
  });

  it('a command to the active member finishes any routes not yet on it', () => {
    const input = withRoute(world(), RTB_A, DESTINATIONS[0], routeOn('standby'));
    const decision = decide({ ...input, command: command('primary') });
    expect(decision.plan).toMatchObject({ kind: 'repair-routes', to: 'primary' });
    expect(movePlan(decision).routes).toHaveLength(1);
  });

  it('refuses a manual failover to an unhealthy member unless forced', () => {
    const input = withProbe(world(), 'standby', 'failed');
    const refused = decide({ ...input, command: command('standby') });
    const forced = decide({ ...input, command: command('standby', true) });

    expect(refused.plan.kind).toBe('alarm');
    expect(refused.refusal).toMatch(
      /^refused failover of branch-a to standby: standby i-0fedcba9876543210 is unhealthy/,
    );
    expect(refused.refusal).toContain('force overrides the health and lease checks');
    expect(refused.memory.active).toBe('primary');

    expect(forced.plan).toMatchObject({ kind: 'failover', trigger: 'manual', to: 'standby' });
    expect(forced.plan.reasons.join(' ')).toContain('forced past: standby i-0fedcba9876543210 is unhealthy');
    expect(forced.refusal).toBeUndefined();
  });

  it('refuses a manual failover to a member under a maintenance lease unless forced, and says so', () => {
    const lease = { owner: 'resize-branch-a', until: NOW + MINUTE, member: 'standby' as const };
    const input = withMemory(world(), { lease });
    const refused = decide({ ...input, command: command('standby') });
    const forced = decide({ ...input, command: command('standby', true) });

    expect(refused.refusal).toContain('maintenance lease held by resize-branch-a');
    expect(forced.plan).toMatchObject({ kind: 'failover', to: 'standby' });
    expect(forced.plan.reasons.join(' ')).toContain('forced past: standby is under a maintenance lease');
  });

  it('refuses even a forced command when the route tables cannot be read', () => {
    const decision = decide({
      ...withObservation(world(), { routes: undefined }),
      command: command('standby', true),
    });
    expect(decision.plan.kind).toBe('alarm');
    expect(decision.refusal).toContain('the route tables could not be read');
    expect(decision.refusal).not.toContain('force overrides');
  });
});

describe('decide: routes', () => {
  it('leaves routes that point outside the pair alone and raises foreign-route', () => {
    const decision = decide(stoppedPrimary(withRoute(world(), RTB_B, DESTINATIONS[0], foreignRoute)));

    expect(movePlan(decision).routes.map((w) => `${w.routeTableId} ${w.destination}`)).not.toContain(
      `${RTB_B} ${DESTINATIONS[0]}`,
    );
    expect(movePlan(decision).routes).toHaveLength(3);
    expect(decision.alarms).toContainEqual({
      kind: 'foreign-route',
      detail: `${RTB_B} ${DESTINATIONS[0]} points at tgw-0123456789abcdef0, outside the pair: left alone`,
    });
  });

  it('treats a route to an ENI of another instance as foreign', () => {
    const input = withRoute(world(), RTB_A, DESTINATIONS[1], {
      present: true,
      networkInterfaceId: 'eni-0123456789abcdef9',
      instanceId: 'i-0aaaaaaaaaaaaaaa1',
      state: 'active',
    });
    const decision = decide(input);
    expect(decision.plan.kind).toBe('noop');
    expect(alarmKinds(decision)).toEqual(['foreign-route']);
  });

  it("takes back every route blackholed to an interface EC2 has deleted when the lost primary's ENI was never known", () => {
    // Prepare: the primary was terminated before its ENI was ever read, so nothing names it; EC2 deleted it.
    const dead = {
      present: true,
      networkInterfaceId: 'eni-0deadbeef00000001',
      state: 'blackhole',
      targetDeleted: true,
    } as const;
    let input = withInstance(world(), 'primary', { state: 'terminated' });
    input = withObservation(input, { enis: { primary: undefined, standby: ENI.standby } });
    for (const rtb of [RTB_A, RTB_B]) for (const d of DESTINATIONS) input = withRoute(input, rtb, d, dead);

    // Act
    const decision = decide(input);

    // Assess: every route moves to the standby, none is reported as foreign.
    expect(decision.plan).toMatchObject({ kind: 'failover', to: 'standby', trigger: 'hard-loss' });
    expect(movePlan(decision).routes).toHaveLength(4);
    expect(movePlan(decision).routes.every((w) => w.action === 'replace')).toBe(true);
    expect(alarmKinds(decision)).not.toContain('foreign-route');
  });

  it("leaves a route blackholed to another interface that still exists alone (someone else's, stopped)", () => {
    const input = withRoute(stoppedPrimary(), RTB_A, DESTINATIONS[1], {
      present: true,
      networkInterfaceId: 'eni-0123456789abcdef9',
      state: 'blackhole',
    });
    const decision = decide(input);
    expect(movePlan(decision).routes).toHaveLength(3);
    expect(alarmKinds(decision)).toContain('foreign-route');
  });

  it('creates a missing managed route', () => {
    const decision = decide(withRoute(world(), RTB_A, DESTINATIONS[1], missingRoute));

    expect(decision.plan).toMatchObject({ kind: 'repair-routes', to: 'primary' });
    expect(movePlan(decision).routes).toEqual([
      {
        routeTableId: RTB_A,
        destination: DESTINATIONS[1],
        action: 'create',
        networkInterfaceId: ENI.primary,
      },
    ]);
  });

  it('creates missing routes as part of a failover and replaces the rest', () => {
    const decision = decide(stoppedPrimary(withRoute(world(), RTB_B, DESTINATIONS[1], missingRoute)));
    const actions = movePlan(decision).routes.map((w) => w.action);
    expect(actions).toEqual(['replace', 'replace', 'replace', 'create']);
  });

  it('replaces a blackholed route on the target with its ENI', () => {
    const input = withRoute(world(), RTB_A, DESTINATIONS[0], routeOn('standby', 'blackhole'));
    const decision = decide({ ...input, command: { action: 'failover', to: 'standby', force: true } });
    expect(movePlan(decision).routes).toEqual(everyRouteTo(ENI.standby));
  });

  it('rewrites a route that reaches the member through another of its ENIs', () => {
    const input = withRoute(world(), RTB_A, DESTINATIONS[0], {
      present: true,
      networkInterfaceId: 'eni-0123456789abcdef9',
      instanceId: INSTANCE.primary,
      state: 'active',
    });
    const decision = decide(input);
    expect(decision.plan).toMatchObject({ kind: 'repair-routes', to: 'primary' });
    expect(movePlan(decision).routes).toEqual([
      {
        routeTableId: RTB_A,
        destination: DESTINATIONS[0],
        action: 'replace',
        networkInterfaceId: ENI.primary,
      },
    ]);
  });

  it('does not write routes when the route tables cannot be read, but still counts streaks', () => {
    const input = withObservation(withProbe(stoppedPrimary(), 'standby', 'failed'), { routes: undefined });
    const decision = decide(input);

    expect(decision.plan.kind).toBe('alarm');
    expect(alarmKinds(decision)).toContain('routes-unreadable');
    expect(decision.memory.unhealthyStreak.standby.daemon).toBe(1);
    expect(decide(withObservation(world(), { routes: undefined })).plan.kind).toBe('alarm');
  });

  it('moves IPv6 and prefix-list destinations like IPv4 ones', () => {
    const destinations = ['10.50.0.0/16', '2001:db8:50::/48', 'pl-0123456789abcdef0'];
    const decision = decide(stoppedPrimary(world({ pair: { destinations } })));

    expect(movePlan(decision).routes.map((w) => w.destination)).toEqual([...destinations, ...destinations]);
    expect(movePlan(decision).routes.every((w) => w.networkInterfaceId === ENI.standby)).toBe(true);
  });

  it('matches an IPv6 route whatever the case EC2 prints it in', () => {
    const input = world({ pair: { destinations: ['2001:db8:50::/48'] } });
    const routes = input.observation.routes?.map((r) => ({ ...r, destination: r.destination.toUpperCase() }));
    expect(decide(withObservation(input, { routes })).plan.kind).toBe('noop');
  });
});

describe('decide: repair', () => {
  it('repairs routes left on the standby by an interrupted failover', () => {
    // The intent (standby) was stored and one table written before the run died.
    const half = withRoute(
      withRoute(world({ active: 'standby' }), RTB_B, DESTINATIONS[0], routeOn('primary')),
      RTB_B,
      DESTINATIONS[1],
      routeOn('primary'),
    );
    const decision = decide(half);

    expect(decision.plan).toMatchObject({ kind: 'repair-routes', from: 'primary', to: 'standby' });
    expect(movePlan(decision).routes).toEqual([
      {
        routeTableId: RTB_B,
        destination: DESTINATIONS[0],
        action: 'replace',
        networkInterfaceId: ENI.standby,
      },
      {
        routeTableId: RTB_B,
        destination: DESTINATIONS[1],
        action: 'replace',
        networkInterfaceId: ENI.standby,
      },
    ]);
    expect(decision.memory.active).toBe('standby');
    expect(decision.memory.lastFailoverAt).toBeUndefined();
  });

  it('does not repair routes onto an active member that is not healthy', () => {
    const input = withProbe(
      withRoute(world(), RTB_A, DESTINATIONS[0], routeOn('standby')),
      'primary',
      'failed',
    );
    const decision = decide(input);
    expect(decision.plan.kind).toBe('alarm');
    expect(alarmKinds(decision)).toContain('no-healthy-target');
  });
});

describe('decide: Elastic IP', () => {
  const withEip = { elasticIp: { allocationId: 'eipalloc-0123456789abcdef0' } };

  it('moves the Elastic IP with a failover when one is configured', () => {
    expect(movePlan(decide(stoppedPrimary(world({ pair: withEip })))).moveElasticIp).toBe(true);
    expect(movePlan(decide(stoppedPrimary(world()))).moveElasticIp).toBe(false);
  });

  it('repairs an Elastic IP left on the standby while every route is in place', () => {
    const decision = decide(withObservation(world({ pair: withEip }), { elasticIpOn: 'standby' }));
    expect(decision.plan).toMatchObject({
      kind: 'repair-routes',
      to: 'primary',
      routes: [],
      moveElasticIp: true,
    });
  });

  it('does not repair an Elastic IP it could not read', () => {
    const decision = decide(withObservation(world({ pair: withEip }), { elasticIpOn: undefined }));
    expect(decision.plan.kind).toBe('noop');
  });
});

describe('decide: standing alarms', () => {
  it('plans noop with no alarm in a converged, healthy world', () => {
    const decision = decide(world());
    expect(decision.plan).toEqual<Plan>({
      kind: 'noop',
      reasons: [`primary carries traffic: 4 managed routes on ${ENI.primary}`],
    });
    expect(decision.alarms).toEqual([]);
  });

  it('raises standby-unhealthy when the member not carrying traffic is unhealthy', () => {
    const decision = decide(withInstance(world(), 'standby', { systemStatus: 'impaired' }));
    expect(decision.plan.kind).toBe('noop');
    expect(alarmKinds(decision)).toEqual(['standby-unhealthy']);
    expect(decision.alarms[0]?.detail).toContain(INSTANCE.standby);
  });

  it('after a failover, the member left behind is the one without redundancy', () => {
    const decision = decide(stoppedPrimary());
    expect(decision.alarms[0]?.detail).toMatch(
      /^primary i-0123456789abcdef0, the member not carrying traffic/,
    );
  });
});

describe('decide: alarms say what is true', () => {
  it('a standby that cannot be read is not reported unhealthy: standby-unknown, and only on the third evaluation in a row', () => {
    const unreadable = withProbe(world(), 'standby', 'unknown');
    const decisions = evolve(unreadable, [unreadable, unreadable]);

    expect(decisions.map(alarmKinds)).toEqual([[], [], ['standby-unknown']]);
    expect(decisions[2]?.alarms[0]?.detail).toBe(
      'standby i-0fedcba9876543210, the member not carrying traffic, cannot be read (instance healthy (i-0fedcba9876543210 running, status checks ok); daemon unknown (strongswan probe unanswered: agent did not answer); tunnel healthy (TunnelUp newest datapoints 1, 1)): redundancy unverified',
    );
  });

  it.each([
    ['both positively unhealthy', 'failed', 'failed', ['standby-unhealthy', 'both-unhealthy']],
    ['the active unhealthy, the standby unreadable', 'failed', 'unknown', []],
    ['the active unreadable, the standby unhealthy', 'unknown', 'failed', ['standby-unhealthy']],
    ['both unreadable', 'unknown', 'unknown', []],
  ] as const)(
    'both-unhealthy only when both members are positively unhealthy (%s)',
    (_case, primary, standby, kinds) => {
      const decision = decide(withProbe(withProbe(world(), 'primary', primary), 'standby', standby));
      expect(alarmKinds(decision)).toEqual(kinds);
    },
  );

  it('a raised unknown alarm stays raised through readable evaluations until ten in a row over ten minutes, and one failed read in between restarts the count', () => {
    // One evaluation a minute (economy), each input at its own instant.
    const every = (ms: number, inputs: readonly DecideInput[]) =>
      inputs.map((input, i) => atTime(input, NOW + (i + 1) * ms));
    const unreadable = withTunnel(world(), 'primary', []);
    const readable = world();
    const raised = evolve(unreadable, [unreadable, unreadable]);
    const [first, ...rest] = every(MINUTE, [
      ...Array(9).fill(readable),
      unreadable,
      ...Array(10).fill(readable),
      readable,
    ]);
    const flaky = evolve(
      { ...(first as DecideInput), memory: raised.at(-1)?.memory ?? readable.memory },
      rest,
    );
    const kindsOf = flaky.map((d) => alarmKinds(d).join());

    expect(kindsOf.slice(0, 20)).toEqual(Array(20).fill('signal-unknown'));
    expect(kindsOf.slice(20)).toEqual(['']);
    expect(flaky[0]?.alarms[0]?.detail).toBe(
      'readable again for 1 evaluations; it clears after 10 in a row over 10m',
    );
    expect(flaky.at(-1)?.memory).not.toHaveProperty('unknownAlarms');
  });

  it('a raised unknown alarm does not clear after ten readable evaluations ten seconds apart (fast mode): it needs ten minutes', () => {
    const unreadable = withTunnel(world(), 'primary', []);
    const readable = world();
    const raised = evolve(unreadable, [unreadable, unreadable]);
    const tenSeconds = Array.from({ length: 12 }, (_, i) => atTime(readable, NOW + (i + 1) * 10_000));
    const [first, ...rest] = tenSeconds;
    const fast = evolve(
      { ...(first as DecideInput), memory: raised.at(-1)?.memory ?? readable.memory },
      rest,
    );

    expect(fast.every((d) => alarmKinds(d).includes('signal-unknown'))).toBe(true);
  });

  it('unreadable route tables raise routes-unreadable at once when they hold a needed move, and only after three evaluations otherwise', () => {
    const steady = withObservation(world(), { routes: undefined });
    const lost = withObservation(stoppedPrimary(), { routes: undefined });

    expect(alarmKinds(decide(steady))).toEqual([]);
    expect(evolve(steady, [steady, steady]).map(alarmKinds)).toEqual([[], [], ['routes-unreadable']]);
    expect(alarmKinds(decide(lost))).toEqual(['routes-unreadable', 'traffic-blackholed']);
  });

  it('a failover carried out off a lost member raises no traffic-blackholed', () => {
    expect(alarmKinds(decide(stoppedPrimary()))).not.toContain('traffic-blackholed');
  });

  it('traffic-blackholed when the lost member keeps traffic because the standby is under a maintenance lease', () => {
    const lease = { owner: 'resize-branch-a', until: NOW + MINUTE, member: 'standby' as const };
    const decision = decide(withMemory(stoppedPrimary(), { lease }));
    expect(alarmKinds(decision)).toEqual(['maintenance-lease', 'traffic-blackholed']);
  });
});

describe('decide: probe over tunnel metric', () => {
  /** The active member's tunnel metric down on a second evaluation in a row, its daemon probe as given. */
  const tunnelDown = (probe: PairInput['probe'], outcome: ProbeObservation['outcome']) => {
    const input = withTunnel(world({ pair: { probe } }), 'primary', [0, 0]);
    return withMemory(probe?.kind === 'none' ? input : withProbe(input, 'primary', outcome), {
      unhealthyStreak: streaks({ primary: { tunnel: 1, daemon: outcome === 'failed' ? 1 : 0 } }),
    });
  };

  it.each([
    ['a passing strongSwan probe (counts SAs)', { kind: 'strongswan', minSas: 1 }, 'succeeded', 'noop'],
    ['a passing Libreswan probe (counts SAs)', { kind: 'libreswan', minSas: 1 }, 'succeeded', 'noop'],
    ['a passing systemd probe (cannot see SAs)', SYSTEMD, 'succeeded', 'failover'],
    ['no daemon probe', { kind: 'none' }, 'succeeded', 'failover'],
    ['a failing strongSwan probe', { kind: 'strongswan', minSas: 1 }, 'failed', 'failover'],
    ['an unanswered strongSwan probe', { kind: 'strongswan', minSas: 1 }, 'unknown', 'failover'],
  ] as const)(
    'tunnel metric down on the active member for unhealthyThreshold evaluations, with %s: %s',
    (_case, probe, outcome, plan) => {
      expect(decide(tunnelDown(probe, outcome)).plan.kind).toBe(plan);
    },
  );

  it('says why traffic stays when the probe outweighs the lagging tunnel metric', () => {
    const decision = decide(tunnelDown({ kind: 'strongswan', minSas: 1 }, 'succeeded'));
    expect(decision.plan.reasons).toContain(
      'primary tunnel unhealthy x2 (TunnelUp < 1 on 2 newest datapoints (0, 0)), but its strongswan probe counts installed SAs now and passed: the probe wins, traffic stays',
    );
    expect(decision.memory.unhealthyStreak.primary.tunnel).toBe(2);
  });
});

describe('decide: failback damping', () => {
  const onStandby = (primaryFailures?: { count: number; lastAt: number }, healthy = 0) =>
    world({
      active: 'standby',
      pair: { failback: 'automatic', failbackAfter: 3 },
      memory: {
        healthyStreak: { primary: healthy, standby: 0 },
        lastFailoverAt: NOW - 30 * MINUTE,
        ...(primaryFailures !== undefined && { primaryFailures }),
      },
    });

  it.each([
    ['no failure recorded', undefined, 3],
    ['one failure', { count: 1, lastAt: NOW - 30 * MINUTE }, 3],
    ['a second failure within the hour', { count: 2, lastAt: NOW - 30 * MINUTE }, 6],
    ['a third', { count: 3, lastAt: NOW - 30 * MINUTE }, 12],
    ['a fourth (the cap)', { count: 4, lastAt: NOW - 30 * MINUTE }, 24],
    ['a ninth, still capped', { count: 9, lastAt: NOW - 30 * MINUTE }, 24],
    ['four, the last over an hour ago', { count: 4, lastAt: NOW - 61 * MINUTE }, 3],
  ] as const)(
    'automatic failback waits for failbackAfter doubled per repeated failure of the primary: %s',
    (_case, failures, needs) => {
      const waiting = decide(onStandby(failures, needs - 2));
      const ready = decide(onStandby(failures, needs - 1));

      expect(waiting.plan.kind).toBe('noop');
      expect(waiting.memory.healthyStreak.primary).toBe(needs - 1);
      expect(ready.plan).toMatchObject({ kind: 'failback', trigger: 'automatic-failback' });
    },
  );

  it('says how long a damped failback waits and why', () => {
    const decision = decide(onStandby({ count: 2, lastAt: NOW - 30 * MINUTE }, 1));
    expect(decision.plan.reasons).toContain(
      'primary healthy 2/6 evaluations before automatic failback (failbackAfter 3 doubled: the primary failed 2 times in a row, each within 60m of the last)',
    );
  });

  it('counts each failover off a failed primary, a repeat within the hour adding to the count', () => {
    const failing = withMemory(withProbe(world(), 'primary', 'failed'), {
      unhealthyStreak: streaks({ primary: { daemon: 1 } }),
    });
    const first = decide(failing);
    const again = decide(withMemory(failing, { primaryFailures: { count: 1, lastAt: NOW - 40 * MINUTE } }));
    const later = decide(withMemory(failing, { primaryFailures: { count: 3, lastAt: NOW - 90 * MINUTE } }));
    const capped = decide(withMemory(failing, { primaryFailures: { count: 4, lastAt: NOW - MINUTE } }));
    const lost = decide(stoppedPrimary());

    expect(first.memory.primaryFailures).toEqual({ count: 1, lastAt: NOW });
    expect(again.memory.primaryFailures).toEqual({ count: 2, lastAt: NOW });
    expect(later.memory.primaryFailures).toEqual({ count: 1, lastAt: NOW });
    expect(capped.memory.primaryFailures).toEqual({ count: 4, lastAt: NOW });
    expect(lost.memory.primaryFailures).toEqual({ count: 1, lastAt: NOW });
  });

  it('an operator failover, a scheduled event or a dry run does not count as a failure of the primary', () => {
    const commanded = decide({ ...world(), command: { action: 'failover', to: 'standby', force: false } });
    const scheduled = decide(
      withInstance(world(), 'primary', {
        scheduledEvents: [{ code: 'instance-stop', notBefore: NOW + MINUTE }],
      }),
    );
    const dry = decide({ ...stoppedPrimary(), dryRun: true });

    for (const decision of [commanded, scheduled, dry]) {
      expect(decision.memory).not.toHaveProperty('primaryFailures');
    }
    expect([commanded, scheduled].map((d) => d.plan.kind)).toEqual(['failover', 'failover']);
  });
});

describe('decide: route-target ENIs of a replaced member', () => {
  const NEW_STANDBY = 'i-0aaaaaaaaaaaaaaa2';
  const NEW_ENI = 'eni-0aaaaaaaaaaaaaaa2';

  it('after the standby is replaced by a new instance, fails over to the new ENI and forgets the old one', () => {
    // The memory still holds the old standby's ENI; observe read the new member's ENI afresh.
    const replaced = stoppedPrimary(
      withObservation(
        world({
          pair: { standby: { instanceId: NEW_STANDBY } },
          memory: { enis: { [INSTANCE.primary]: ENI.primary, [INSTANCE.standby]: ENI.standby } },
        }),
        { enis: { primary: ENI.primary, standby: NEW_ENI } },
      ),
    );
    const decision = decide(replaced);

    expect(movePlan(decision).targetEni).toBe(NEW_ENI);
    expect(decision.memory.enis).toEqual({ [INSTANCE.primary]: ENI.primary, [NEW_STANDBY]: NEW_ENI });
  });

  it('drops ENIs remembered by role by an older version, keeping those read this run by instance id', () => {
    const input = world({
      memory: { enis: { primary: 'eni-0000000000000000a', standby: 'eni-0000000000000000b' } },
    });
    expect(decide(input).memory.enis).toEqual({
      [INSTANCE.primary]: ENI.primary,
      [INSTANCE.standby]: ENI.standby,
    });
  });

  it('keeps the remembered ENI of a current member whose ENI was not read this run', () => {
    const input = withObservation(world({ memory: { enis: { [INSTANCE.standby]: ENI.standby } } }), {
      enis: { primary: ENI.primary, standby: undefined },
    });
    expect(decide(input).memory.enis).toEqual({
      [INSTANCE.primary]: ENI.primary,
      [INSTANCE.standby]: ENI.standby,
    });
  });
});

describe('decide: reasons', () => {
  it('says "1 route write" for one and "4 route writes" for four', () => {
    const one = decide(withRoute(world(), RTB_A, DESTINATIONS[1], missingRoute));
    const four = decide(stoppedPrimary());

    expect(one.plan.reasons).toContain(`1 route write to ${ENI.primary}`);
    expect(four.plan.reasons).toContain(`4 route writes to ${ENI.standby}`);
    expect(
      decide(world({ pair: { routeTables: [RTB_A], destinations: [DESTINATIONS[0]] } })).plan.reasons,
    ).toEqual([`primary carries traffic: 1 managed route on ${ENI.primary}`]);
  });
});

describe('decide: dry run and memory', () => {
  it('dry run reports the failover but keeps the active member', () => {
    const input = {
      ...withMemory(withProbe(world(), 'primary', 'failed'), {
        unhealthyStreak: streaks({ primary: { daemon: 1 } }),
      }),
      dryRun: true,
    };
    const decision = decide(input);

    expect(decision.dryRun).toBe(true);
    expect(decision.plan).toMatchObject({ kind: 'failover', to: 'standby' });
    expect(decision.memory.active).toBe('primary');
    expect(decision.memory.lastFailoverAt).toBeUndefined();
    expect(decision.memory.unhealthyStreak.primary.daemon).toBe(2);
  });

  it('a dry run carries the alarms of where traffic really stays, plus traffic-blackholed for the lost member it leaves traffic on', () => {
    const input = withProbe(
      withRoute(stoppedPrimary(), RTB_B, DESTINATIONS[0], foreignRoute),
      'standby',
      'succeeded',
    );
    const real = decide(input);
    const dry = decide({ ...input, dryRun: true });

    expect(dry.plan).toEqual(real.plan);
    // After the real move the lost primary is the spare (standby-unhealthy); in the dry run it still carries
    // traffic, so it is traffic-blackholed, and the healthy standby is no cause for alarm.
    expect(real.alarms.map((a) => a.kind)).toContain('standby-unhealthy');
    expect(dry.alarms).toEqual([
      ...real.alarms.filter((a) => a.kind !== 'foreign-route' && a.kind !== 'standby-unhealthy'),
      {
        kind: 'traffic-blackholed',
        detail:
          'primary i-0123456789abcdef0 carries traffic and is lost (i-0123456789abcdef0 is stopped); a dry run moves nothing (it would move traffic to standby)',
      },
      ...real.alarms.filter((a) => a.kind === 'foreign-route'),
    ]);
  });

  it("remembers the alarm kinds it raises (none: absent) and each member's health, not the words that explain it", () => {
    const healthy = decide(world());
    const failing = decide(withProbe(world(), 'standby', 'failed', '0 IKE_SAs established'));
    const reworded = decide(withProbe(world(), 'standby', 'failed', 'charon not responding'));

    expect(healthy.memory).not.toHaveProperty('alarms');
    expect(healthy.memory.verdicts).toEqual({
      primary: { health: 'healthy', signals: { instance: 'healthy', daemon: 'healthy', tunnel: 'healthy' } },
      standby: { health: 'healthy', signals: { instance: 'healthy', daemon: 'healthy', tunnel: 'healthy' } },
    });
    expect(failing.memory.alarms).toEqual(['standby-unhealthy']);
    expect(failing.memory.verdicts?.standby).toEqual({
      health: 'unhealthy',
      signals: { instance: 'healthy', daemon: 'unhealthy', tunnel: 'healthy' },
    });
    expect(reworded.memory).toEqual(failing.memory);
  });

  it('a steady, healthy pair keeps the same memory from tick to tick, so nothing is written', () => {
    for (const input of [world(), world({ active: 'standby' })]) {
      const first = decide(input);
      expect(decide({ ...input, memory: first.memory }).memory).toEqual(first.memory);
    }
  });

  it('counts the primary healthy streak only while the standby carries traffic under automatic failback, up to failbackAfter', () => {
    const automatic = { failback: 'automatic', failbackAfter: 3 } as const;
    const onPrimary = decide(
      world({ pair: automatic, memory: { healthyStreak: { primary: 7, standby: 7 } } }),
    );
    const onStandbyManual = decide(
      world({ active: 'standby', memory: { healthyStreak: { primary: 2, standby: 0 } } }),
    );
    const onStandby = decide(
      world({
        active: 'standby',
        pair: automatic,
        // The cooldown holds the failback, so the streak is seen saturating rather than acted on.
        memory: { healthyStreak: { primary: 3, standby: 0 }, lastFailoverAt: NOW - MINUTE },
      }),
    );

    expect(onPrimary.memory.healthyStreak).toEqual({ primary: 0, standby: 0 });
    expect(onStandbyManual.memory.healthyStreak).toEqual({ primary: 0, standby: 0 });
    expect(onStandby.plan.kind).toBe('noop');
    expect(onStandby.memory.healthyStreak).toEqual({ primary: 3, standby: 0 });
  });

  it('remembers the route-target ENIs read this run, per member instance id', () => {
    expect(decide(world()).memory.enis).toEqual({
      [INSTANCE.primary]: ENI.primary,
      [INSTANCE.standby]: ENI.standby,
    });
  });

  it('writes no undefined fields into the memory it returns (the state store marshals it)', () => {
    const decision = decide(world());
    expect(Object.entries(decision.memory).filter(([, value]) => value === undefined)).toEqual([]);
  });
});

describe('inferActive', () => {
  it('adopts the member most managed routes point at', () => {
    const pair = pairConfig();
    expect(inferActive(healthyObservation(pair, 'standby'))).toBe('standby');
    expect(inferActive(healthyObservation(pair, 'primary'))).toBe('primary');
  });

  it('chooses the primary on a tie or when no route names a member', () => {
    const input = withRoute(
      withRoute(world({ active: 'standby' }), RTB_A, DESTINATIONS[0], routeOn('primary')),
      RTB_A,
      DESTINATIONS[1],
      routeOn('primary'),
    );
    expect(inferActive(input.observation)).toBe('primary');
    expect(inferActive(withObservation(input, { routes: undefined }).observation)).toBe('primary');
  });
});
