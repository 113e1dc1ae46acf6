import { parseConfig } from '../../shared/config/load.ts';
import type { ConfigInput, PairConfig } from '../../shared/config/schema.ts';
import type { DecideInput } from '../../shared/decide/decide.ts';
import type { AgentReport } from '../../shared/domain/agent.ts';
import type {
  AgentObservation,
  Datapoint,
  InstanceObservation,
  ObservedRoute,
  PairMemory,
  PairObservation,
  ProbeObservation,
  Role,
} from '../../shared/domain/types.ts';
import { initialMemory, ROLES } from '../../shared/domain/types.ts';

/** A pair as a user writes it in the configuration file. */
export type PairInput = ConfigInput['pairs'][number];

/** The members' instance ids (examples/pairs.yaml). */
export const INSTANCE: Readonly<Record<Role, string>> = {
  primary: 'i-0123456789abcdef0',
  standby: 'i-0fedcba9876543210',
};
/** The members' route-target ENIs. */
export const ENI: Readonly<Record<Role, string>> = {
  primary: 'eni-0a1b2c3d4e5f60001',
  standby: 'eni-0f1e2d3c4b5a60002',
};
/** The pair's two managed route tables. */
export const RTB_A = 'rtb-0a1b2c3d4e5f60718';
/** The second managed route table. */
export const RTB_B = 'rtb-0f1e2d3c4b5a69788';
/** The pair's managed destinations. */
export const DESTINATIONS = ['10.50.0.0/16', '192.168.10.0/24'] as const;
/** 2026-11-30T12:00:00Z */
export const NOW = Date.UTC(2026, 10, 30, 12, 0, 0);
/** One minute in ms. */
export const MINUTE = 60_000;

/** The example pair (examples/pairs.yaml): strongSwan probe, tunnel metric, two tables, two destinations. */
export function pairConfig(overrides: Partial<PairInput> = {}): PairConfig {
  const [pair] = parseConfig({
    pairs: [
      {
        name: 'branch-a',
        primary: { instanceId: INSTANCE.primary },
        standby: { instanceId: INSTANCE.standby },
        routeTables: [RTB_A, RTB_B],
        destinations: [...DESTINATIONS],
        probe: { kind: 'strongswan', minSas: 1 },
        tunnel: { namespace: 'VpnFailover', metricName: 'TunnelUp', threshold: 1, datapointsToBreach: 2 },
        ...overrides,
      },
    ],
  }).pairs;
  if (pair === undefined) throw new Error('the test configuration has no pair');
  return pair;
}

/** A running instance with every status check ok and no scheduled event. */
export const runningInstance = (role: Role): InstanceObservation => ({
  instanceId: INSTANCE[role],
  found: true,
  state: 'running',
  systemStatus: 'ok',
  instanceStatus: 'ok',
  ebsStatus: 'ok',
  scheduledEvents: [],
});

/** The fields of an active route pointing at a member's route-target ENI (EC2 fills in the instance too). */
export const routeOn = (role: Role, state: ObservedRoute['state'] = 'active'): RouteShape => ({
  present: true,
  networkInterfaceId: ENI[role],
  instanceId: INSTANCE[role],
  state,
});
export const missingRoute: RouteShape = { present: false };
/** A route through something outside the pair (a transit gateway). */
export const foreignRoute: RouteShape = {
  present: true,
  otherTarget: 'tgw-0123456789abcdef0',
  state: 'active',
};

/** An observed route without its key. */
export type RouteShape = Omit<ObservedRoute, 'routeTableId' | 'destination'>;

/** Both members healthy on every configured signal, every managed route on `on`'s ENI. */
export function healthyObservation(pair: PairConfig, on: Role = 'primary'): PairObservation {
  const probe = (role: Role): ProbeObservation => ({
    instanceId: INSTANCE[role],
    outcome: 'succeeded',
    detail: '1 IKE_SA established',
  });
  return {
    instances: { primary: runningInstance('primary'), standby: runningInstance('standby') },
    ...(pair.probe.kind !== 'none' && { probes: { primary: probe('primary'), standby: probe('standby') } }),
    ...(pair.tunnel !== undefined && {
      tunnels: {
        primary: { instanceId: INSTANCE.primary, datapoints: recentDatapoints(pair, [1, 1, 1]) },
        standby: { instanceId: INSTANCE.standby, datapoints: recentDatapoints(pair, [1, 1, 1]) },
      },
    }),
    enis: { ...ENI },
    routes: pair.routeTables.flatMap((routeTableId) =>
      pair.destinations.map((destination) => ({ routeTableId, destination, ...routeOn(on) })),
    ),
    ...(pair.elasticIp !== undefined && { elasticIpOn: on }),
  };
}

/** A converged, healthy world: traffic and every route on `active`, memory agreeing, nothing pending. */
export function world(
  options: {
    readonly pair?: Partial<PairInput>;
    readonly active?: Role;
    readonly memory?: Partial<PairMemory>;
    readonly dryRun?: boolean;
  } = {},
): DecideInput {
  const pair = pairConfig(options.pair);
  const active = options.active ?? 'primary';
  return {
    pair,
    observation: healthyObservation(pair, active),
    memory: { ...initialMemory(), active, ...options.memory },
    now: NOW,
    dryRun: options.dryRun ?? false,
  };
}

/** Change what EC2 says about one member's instance. */
export function withInstance(
  input: DecideInput,
  role: Role,
  patch: Partial<InstanceObservation>,
): DecideInput {
  const { instances } = input.observation;
  return withObservation(input, { instances: { ...instances, [role]: { ...instances[role], ...patch } } });
}

/** One member's daemon probe answers with this outcome. */
export function withProbe(
  input: DecideInput,
  role: Role,
  outcome: ProbeObservation['outcome'],
  detail = outcome === 'failed' ? '0 IKE_SAs established' : 'agent did not answer',
): DecideInput {
  const probes = input.observation.probes;
  if (probes === undefined) throw new Error('the pair has no daemon probe');
  return withObservation(input, {
    probes: { ...probes, [role]: { instanceId: INSTANCE[role], outcome, detail } },
  });
}

/**
 * Datapoints with these values, newest first, one a period, the newest from the period that ended one period
 * before NOW: what GetMetricData shows of a publisher that is keeping up.
 */
export function recentDatapoints(pair: PairConfig, values: readonly number[], now = NOW): Datapoint[] {
  const periodMs = (pair.tunnel?.period ?? 60) * 1000;
  return values.map((value, i) => ({ at: now - (i + 2) * periodMs, value }));
}

/** One member's tunnel metric reads these values, newest first (undefined: the metric was unreadable). */
export function withTunnel(
  input: DecideInput,
  role: Role,
  values: readonly number[] | undefined,
): DecideInput {
  const tunnels = input.observation.tunnels;
  if (tunnels === undefined) throw new Error('the pair has no tunnel metric');
  const metric =
    values === undefined
      ? { detail: 'GetMetricData failed' }
      : { datapoints: recentDatapoints(input.pair, values, input.now) };
  return withObservation(input, {
    tunnels: { ...tunnels, [role]: { instanceId: INSTANCE[role], ...metric } },
  });
}

/** The same world observed at `now`: the clock and every tunnel datapoint moved on together. */
export function atTime(input: DecideInput, now: number): DecideInput {
  const shift = now - input.now;
  const tunnels = input.observation.tunnels;
  const moved = (role: Role) => {
    const metric = tunnels?.[role];
    if (metric?.datapoints === undefined) return metric;
    return { ...metric, datapoints: metric.datapoints.map((d) => ({ ...d, at: d.at + shift })) };
  };
  return {
    ...input,
    now,
    ...(tunnels && {
      observation: {
        ...input.observation,
        tunnels: { primary: moved('primary'), standby: moved('standby') },
      },
    }),
  } as DecideInput;
}

/** Replace the observed route for one managed (table, destination). */
export function withRoute(
  input: DecideInput,
  routeTableId: string,
  destination: string,
  shape: RouteShape,
): DecideInput {
  const routes = input.observation.routes;
  if (routes === undefined) throw new Error('the routes are unreadable in this world');
  return withObservation(input, {
    routes: routes.map((r) =>
      r.routeTableId === routeTableId && r.destination === destination
        ? { routeTableId, destination, ...shape }
        : r,
    ),
  });
}

/** Overwrite parts of the observation (set `routes: undefined` for unreadable tables). */
export function withObservation(input: DecideInput, patch: Partial<PairObservation>): DecideInput {
  return { ...input, observation: { ...input.observation, ...patch } };
}

/** Overwrite parts of the stored memory. */
export function withMemory(input: DecideInput, patch: Partial<PairMemory>): DecideInput {
  return { ...input, memory: { ...input.memory, ...patch } };
}

/** A member's soft-signal streaks as stored, for building memories. */
export function streaks(
  patch: Partial<Record<Role, Partial<Record<'daemon' | 'tunnel', number>>>>,
): PairMemory['unhealthyStreak'] {
  const base = initialMemory().unhealthyStreak;
  return Object.fromEntries(
    ROLES.map((role) => [role, { ...base[role], ...patch[role] }]),
  ) as PairMemory['unhealthyStreak'];
}

/** A member's own agent report (bound: its key and its claim name it), healthy, sent 10 s before NOW. */
export function agentReport(role: Role, patch: Partial<AgentReport> = {}): AgentReport {
  return {
    instanceId: INSTANCE[role],
    claimedInstanceId: INSTANCE[role],
    verdict: 'healthy',
    detail: 'healthy: 1 installed CHILD SAs (at least 1 required)',
    exitStatus: 0,
    tunnelUp: true,
    since: NOW - 30 * MINUTE,
    at: NOW - 10_000,
    kind: 'heartbeat',
    seq: 31,
    agentVersion: '1.0.0',
    ...patch,
  };
}

/** An unhealthy report the agent wrote on the change, 2 s before NOW (its verdict first seen 4 s before). */
export const unhealthyReport = (role: Role, patch: Partial<AgentReport> = {}): AgentReport =>
  agentReport(role, {
    verdict: 'unhealthy',
    detail: 'unhealthy: daemon not responding',
    exitStatus: 4,
    tunnelUp: false,
    since: NOW - 4_000,
    at: NOW - 2_000,
    kind: 'change',
    seq: 32,
    ...patch,
  });

/** The agent table's view of one member: its report (bound unless it claims another), none, or unreadable. */
export function agentSeen(role: Role, report: AgentReport | 'none' | 'unreadable'): AgentObservation {
  if (report === 'unreadable') return { readable: false, detail: 'ThrottlingException: Rate exceeded' };
  if (report === 'none') return { readable: true };
  return {
    readable: true,
    report,
    bound: report.instanceId === INSTANCE[role] && report.claimedInstanceId === INSTANCE[role],
  };
}

/** The agent table holds these for the members (default: each member's healthy heartbeat). */
export function withAgent(
  input: DecideInput,
  reports: Partial<Record<Role, AgentReport | 'none' | 'unreadable'>> = {},
): DecideInput {
  return withObservation(input, {
    agent: {
      primary: agentSeen('primary', reports.primary ?? agentReport('primary')),
      standby: agentSeen('standby', reports.standby ?? agentReport('standby')),
    },
  });
}
