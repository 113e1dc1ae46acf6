import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PairConfig } from '../../shared/config/schema.ts';
import { type DecideInput, decide, pauseInForce } from '../../shared/decide/decide.ts';
import { isMove } from '../../shared/domain/plan.ts';
import type {
  InstanceObservation,
  Lease,
  ObservedRoute,
  PairMemory,
  PairObservation,
  Pause,
  PeerReach,
  ProbeReply,
  Role,
  ScheduledEvent,
  StatusSummary,
} from '../../shared/domain/types.ts';
import { ROLES } from '../../shared/domain/types.ts';
import {
  ENI,
  foreignRoute,
  healthyObservation,
  INSTANCE,
  MINUTE,
  missingRoute,
  NOW,
  pairConfig,
  type RouteShape,
  recentDatapoints,
  routeOn,
} from './builders.ts';

/**
 * Inputs per property: 250 in `npm test` (the pure decision is cheap, but eleven properties add up), and
 * CHAOS_RUNS (10,000) in `npm run chaos`, which runs this file beside the simulated-account properties.
 */
const RUNS = { numRuns: Number(process.env.CHAOS_RUNS ?? 250) };

/** Pair configurations covering every option decide reads. */
const PAIRS: readonly PairConfig[] = [
  pairConfig(),
  pairConfig({ probe: { kind: 'none' } }),
  pairConfig({ tunnel: undefined }),
  pairConfig({ probe: { kind: 'none' }, tunnel: undefined }),
  pairConfig({ failback: 'automatic', failbackAfter: 2, unhealthyThreshold: 1 }),
  pairConfig({ elasticIp: { allocationId: 'eipalloc-0123456789abcdef0' }, cooldown: 0 }),
  pairConfig({
    destinations: ['10.50.0.0/16', '2001:db8:50::/48', 'pl-0123456789abcdef0'],
    failback: 'automatic',
    failbackAfter: 1,
    unhealthyThreshold: 3,
    cooldown: '1m',
  }),
];

const pairArb = fc.constantFrom(...PAIRS);
const roleArb = fc.constantFrom<Role>('primary', 'standby');

/** Mostly the healthy value, sometimes one of the others: enough healthy members for moves to happen. */
const mostly = <T>(healthy: T, ...others: T[]): fc.Arbitrary<T> =>
  fc.oneof(
    { arbitrary: fc.constant(healthy), weight: 12 },
    { arbitrary: fc.constantFrom(...others), weight: 1 },
  );

const statusArb = mostly<StatusSummary | undefined>(
  'ok',
  'impaired',
  'initializing',
  'insufficient-data',
  'not-applicable',
  undefined,
);

const instanceArb = (role: Role): fc.Arbitrary<InstanceObservation> =>
  fc.record({
    instanceId: fc.constant(INSTANCE[role]),
    found: mostly(true, false),
    state: mostly<InstanceObservation['state']>('running', 'stopped', 'pending', 'stopping', undefined),
    systemStatus: statusArb,
    instanceStatus: statusArb,
    ebsStatus: statusArb,
    scheduledEvents: mostly<'none' | 'some'>('none', 'some').chain(
      (events): fc.Arbitrary<readonly ScheduledEvent[]> =>
        events === 'none'
          ? fc.constant([])
          : fc.array(
              fc.record({
                code: fc.constantFrom(
                  'instance-retirement',
                  'system-reboot',
                  'instance-stop',
                  'something-new',
                ),
                notBefore: fc.option(fc.integer({ min: NOW - 86_400_000, max: NOW + 86_400_000 * 14 }), {
                  nil: undefined,
                }),
                description: fc.constantFrom(
                  undefined,
                  'The instance is scheduled for retirement',
                  '[Completed] Reboot',
                ),
              }),
              { minLength: 1, maxLength: 2 },
            ),
    ),
  });

const probeArb = (role: Role) =>
  fc.record({
    instanceId: fc.constant(INSTANCE[role]),
    outcome: mostly<'succeeded' | 'failed' | 'unknown'>('succeeded', 'failed', 'failed', 'unknown'),
    detail: fc.constantFrom('', '1 IKE_SA established', 'exit 3'),
    reply: mostly<ProbeReply | undefined>('answered', 'silent', 'silent', 'unreadable', undefined),
    peer: mostly<PeerReach | undefined>('reachable', 'unreachable', 'unreachable', 'unknown', undefined),
  });

const tunnelArb = (role: Role) =>
  fc.record({
    instanceId: fc.constant(INSTANCE[role]),
    datapoints: fc.oneof(
      { arbitrary: fc.constant(recentDatapoints(PAIRS[0] as PairConfig, [1, 1, 1])), weight: 12 },
      {
        arbitrary: fc
          .array(fc.constantFrom(0, 0.5, 1), { maxLength: 4 })
          .map((values) => recentDatapoints(PAIRS[0] as PairConfig, values)),
        weight: 2,
      },
      {
        // a publisher that stopped a while ago: its datapoints are stale
        arbitrary: fc
          .array(fc.constantFrom(0, 1), { maxLength: 4 })
          .map((values) => recentDatapoints(PAIRS[0] as PairConfig, values, NOW - 10 * MINUTE)),
        weight: 1,
      },
      { arbitrary: fc.constant(undefined), weight: 1 },
    ),
  });

/** Every way a managed route can look: on either member (by ENI or only by instance), gone, or foreign. */
const routeShapeArb: fc.Arbitrary<RouteShape> = fc.oneof(
  { arbitrary: fc.constant(routeOn('primary')), weight: 6 },
  { arbitrary: fc.constant(routeOn('standby')), weight: 6 },
  { arbitrary: fc.constant(routeOn('primary', 'blackhole')), weight: 1 },
  { arbitrary: fc.constant(routeOn('standby', 'blackhole')), weight: 1 },
  { arbitrary: fc.constant(missingRoute), weight: 1 },
  { arbitrary: fc.constant(foreignRoute), weight: 1 },
  {
    arbitrary: fc.constant<RouteShape>({ present: true, instanceId: INSTANCE.standby, state: 'active' }),
    weight: 1,
  },
  {
    arbitrary: fc.constant<RouteShape>({
      present: true,
      networkInterfaceId: 'eni-0123456789abcdef9',
      instanceId: INSTANCE.primary,
      state: 'active',
    }),
    weight: 1,
  },
  {
    arbitrary: fc.constant<RouteShape>({
      present: true,
      networkInterfaceId: 'eni-0123456789abcdef9',
      state: 'active',
    }),
    weight: 1,
  },
);

const observationArb = (pair: PairConfig): fc.Arbitrary<PairObservation> => {
  const keys = pair.routeTables.flatMap((routeTableId) =>
    pair.destinations.map((destination) => ({ routeTableId, destination })),
  );
  const eniArb = (role: Role) =>
    fc.oneof(
      { arbitrary: fc.constant(ENI[role]), weight: 9 },
      { arbitrary: fc.constant(undefined), weight: 1 },
    );
  return fc.record({
    instances: fc.record({ primary: instanceArb('primary'), standby: instanceArb('standby') }),
    probes:
      pair.probe.kind === 'none'
        ? fc.constant(undefined)
        : fc.record({ primary: probeArb('primary'), standby: probeArb('standby') }),
    tunnels:
      pair.tunnel === undefined
        ? fc.constant(undefined)
        : fc.record({ primary: tunnelArb('primary'), standby: tunnelArb('standby') }),
    enis: fc.record({ primary: eniArb('primary'), standby: eniArb('standby') }),
    routes: fc.option(
      fc
        .tuple(...keys.map((key) => routeShapeArb.map((shape): ObservedRoute => ({ ...key, ...shape }))))
        .map((routes) => [...routes]),
      { nil: undefined, freq: 10 },
    ),
    elasticIpOn: fc.constantFrom<PairObservation['elasticIpOn']>(
      'primary',
      'standby',
      'other',
      'none',
      undefined,
    ),
  });
};

const streakArb = fc.integer({ min: 0, max: 4 });
const leaseArb: fc.Arbitrary<Lease> = fc.record(
  {
    owner: fc.constant('resize-branch-a'),
    until: fc.integer({ min: NOW - 5 * MINUTE, max: NOW + 30 * MINUTE }),
    member: roleArb,
  },
  { requiredKeys: ['owner', 'until'] },
);

/** An operator's pause, in force or run out. */
const pauseArb: fc.Arbitrary<Pause> = fc.record(
  {
    until: fc.integer({ min: NOW - 5 * MINUTE, max: NOW + 30 * MINUTE }),
    reason: fc.constant('maintenance'),
    by: fc.constant('alice'),
    at: fc.constant(NOW - 60 * MINUTE),
  },
  { requiredKeys: ['until', 'reason', 'at'] },
);

const memoryArb: fc.Arbitrary<PairMemory> = fc.record(
  {
    active: roleArb,
    unhealthyStreak: fc.record({
      primary: fc.record({ daemon: streakArb, tunnel: streakArb }),
      standby: fc.record({ daemon: streakArb, tunnel: streakArb }),
    }),
    healthyStreak: fc.record({ primary: streakArb, standby: streakArb }),
    unknownStreak: streakArb,
    lastFailoverAt: fc.integer({ min: NOW - 20 * MINUTE, max: NOW }),
    lease: leaseArb,
    silenceStreak: fc.record({ primary: streakArb, standby: streakArb }),
    peerReached: fc.subarray([INSTANCE.primary, INSTANCE.standby]),
    pause: pauseArb,
  },
  { requiredKeys: ['active', 'unhealthyStreak', 'healthyStreak', 'unknownStreak'] },
);

const commandArb = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  {
    arbitrary: fc.record({ action: fc.constant<'failover'>('failover'), to: roleArb, force: fc.boolean() }),
    weight: 1,
  },
  {
    arbitrary: fc.record({
      action: fc.constant<'pause'>('pause'),
      seconds: fc.integer({ min: 60, max: 7 * 86_400 }),
      reason: fc.constant('firmware'),
    }),
    weight: 1,
  },
  { arbitrary: fc.record({ action: fc.constant<'resume'>('resume') }), weight: 1 },
);

/** Any input decide may be given: arbitrary observations, memories, commands and dry-run settings. */
const inputArb: fc.Arbitrary<DecideInput> = pairArb.chain((pair) =>
  fc
    .record({
      observation: observationArb(pair),
      memory: memoryArb,
      dryRun: fc.boolean(),
      command: commandArb,
    })
    .map(({ command, ...rest }) => ({ pair, now: NOW, ...rest, ...(command !== undefined && { command }) })),
);

/** Freeze deeply, so that a decide that mutated its input would throw. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

/** An independent reading of "foreign": present, and naming neither member by a known ENI or its instance id. */
function isForeign(route: ObservedRoute, observation: PairObservation): boolean {
  if (!route.present) return false;
  const memberEnis = ROLES.map((role) => observation.enis[role]).filter((eni) => eni !== undefined);
  const memberIds = ROLES.map((role) => INSTANCE[role]);
  const byEni = route.networkInterfaceId !== undefined && memberEnis.includes(route.networkInterfaceId);
  const byInstance = route.instanceId !== undefined && memberIds.includes(route.instanceId);
  return !byEni && !byInstance;
}

describe('decide properties', () => {
  it('never plans a move to a member that is not positively healthy, unless an operator forces it or the member carrying traffic is certainly lost and the target is merely unverified', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const decision = decide(input);
        if (!isMove(decision.plan) || (input.command?.action === 'failover' && input.command.force)) return;
        const target = decision.verdicts[decision.plan.to];
        if (target.health === 'healthy') return;
        // the unverified exception: a hard loss, to a running member that nothing says is unhealthy
        expect(decision.plan.kind === 'repair-routes' ? undefined : decision.plan.trigger).toBe('hard-loss');
        expect(decision.verdicts[decision.plan.from].hard).toBe(true);
        expect(target.health).toBe('unknown');
        const instance = input.observation.instances[decision.plan.to];
        expect(instance.state).toBe('running');
        expect([instance.systemStatus, instance.instanceStatus, instance.ebsStatus]).not.toContain(
          'impaired',
        );
        expect(decision.alarms.map((a) => a.kind)).toContain('moved-to-unverified');
      }),
      RUNS,
    );
  });

  it('raises moved-to-unverified only with a move to a member that is not verified healthy', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const decision = decide(input);
        if (!decision.alarms.some((a) => a.kind === 'moved-to-unverified')) return;
        expect(isMove(decision.plan)).toBe(true);
        if (isMove(decision.plan)) expect(decision.verdicts[decision.plan.to].health).not.toBe('healthy');
      }),
      RUNS,
    );
  });

  it('never plans a move to a member under a live maintenance lease, unless an operator forces it', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const { plan } = decide(input);
        const lease = input.memory.lease;
        if (
          !isMove(plan) ||
          (input.command?.action === 'failover' && input.command.force) ||
          lease === undefined ||
          lease.until <= input.now
        )
          return;
        expect(lease.member).not.toBe(plan.to);
      }),
      RUNS,
    );
  });

  it('plans noop with no route writes and no alarm in a converged, healthy world', () => {
    const convergedArb = fc
      .record({ pair: pairArb, active: roleArb, memory: memoryArb, dryRun: fc.boolean() })
      // Automatic failback legitimately moves a converged world off the standby; that is its own rule.
      .filter(({ pair, active }) => active === 'primary' || pair.failback === 'manual');
    fc.assert(
      fc.property(convergedArb, ({ pair, active, memory, dryRun }) => {
        const decision = decide({
          pair,
          observation: healthyObservation(pair, active),
          memory: { ...memory, active },
          now: NOW,
          dryRun,
        });
        expect(decision.plan.kind).toBe('noop');
        expect(isMove(decision.plan)).toBe(false);
        // An operator's pause in force is alarmed on every evaluation, even with nothing to hold.
        expect(decision.alarms.map((a) => a.kind)).toEqual(pauseInForce(memory, NOW) ? ['paused'] : []);
        expect(decision.memory.active).toBe(active);
      }),
      RUNS,
    );
  });

  it('gives the same decision for the same input, without changing the input', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const copy = structuredClone(input);
        const first = decide(deepFreeze(input));
        expect(decide(copy)).toEqual(first);
        expect(input).toEqual(copy);
      }),
      RUNS,
    );
  });

  it('never writes a route that points outside the pair', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const { plan } = decide(input);
        if (!isMove(plan)) return;
        const { routes = [] } = input.observation;
        for (const write of plan.routes) {
          const observed = routes.find(
            (r) => r.routeTableId === write.routeTableId && r.destination === write.destination,
          );
          expect(observed === undefined || !isForeign(observed, input.observation)).toBe(true);
          expect(write.networkInterfaceId).toBe(input.observation.enis[plan.to]);
        }
      }),
      RUNS,
    );
  });

  it('keeps the active member and the last failover time in a dry run', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const { memory } = decide({ ...input, dryRun: true });
        expect(memory.active).toBe(input.memory.active);
        expect(memory.lastFailoverAt).toBe(input.memory.lastFailoverAt);
      }),
      RUNS,
    );
  });

  it('makes no automatic move while an operator pause is in force, and raises paused every time', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const { command } = input;
        if (command?.action === 'failover') return;
        const held =
          command?.action === 'pause' ||
          (command?.action !== 'resume' && pauseInForce(input.memory, input.now) !== undefined);
        const decision = decide(input);
        expect(decision.alarms.some((a) => a.kind === 'paused')).toBe(held);
        if (held) {
          expect(isMove(decision.plan)).toBe(false);
          expect(decision.memory.pause?.until).toBeGreaterThan(input.now);
        }
      }),
      RUNS,
    );
  });

  it('lets an operator failover through a pause, keeping the pause', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const live = pauseInForce(input.memory, input.now);
        if (input.command?.action !== 'failover' || live === undefined) return;
        const decision = decide(input);
        const unpaused = decide({ ...input, memory: { ...input.memory, pause: undefined } });
        expect(decision.plan.kind).toBe(unpaused.plan.kind);
        expect(decision.refusal).toBe(unpaused.refusal);
        expect(decision.memory.pause).toEqual(live);
      }),
      RUNS,
    );
  });

  it('drops a pause that has run out, and it holds nothing', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const pause = input.memory.pause;
        if (pause === undefined || pause.until > input.now || input.command?.action === 'pause') return;
        const decision = decide(input);
        expect(decision.memory.pause).toBeUndefined();
        expect(decision.alarms.some((a) => a.kind === 'paused')).toBe(false);
        const { pause: _, ...without } = input.memory;
        expect(decision.plan.kind).toBe(decide({ ...input, memory: without }).plan.kind);
      }),
      RUNS,
    );
  });

  it('makes the target active after a real failover or failback, and only then', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const { plan, memory } = decide({ ...input, dryRun: false });
        const moved = plan.kind === 'failover' || plan.kind === 'failback';
        expect(memory.active).toBe(moved ? plan.to : input.memory.active);
        expect(memory.lastFailoverAt).toBe(moved ? NOW : input.memory.lastFailoverAt);
      }),
      RUNS,
    );
  });
});
