import { readAgentReports } from '../aws/agent-reports.ts';
import { readTunnelMetrics } from '../aws/cloudwatch.ts';
import {
  readDeletedEnis,
  readElasticIps,
  readInstanceStatuses,
  readRouteTables,
  readRouteTargets,
  type TableRoute,
} from '../aws/ec2.ts';
import type { ReadResult } from '../aws/read-result.ts';
import { type ProbeTarget, probeDaemons, probeParameters } from '../aws/ssm.ts';
import { agentEnabled, type PairConfig } from '../config/schema.ts';
import { reportedTunnel } from '../decide/tunnel-source.ts';
import type { AgentReport } from '../domain/agent.ts';
import type {
  AgentObservation,
  Datapoint,
  InstanceObservation,
  ObservedRoute,
  PairMemory,
  PairObservation,
  ProbeObservation,
  ReportedTunnel,
  Role,
  TunnelObservation,
} from '../domain/types.ts';
import { NO_ADDRESS, ROLES } from '../domain/types.ts';
import { PROBE_PARAMETERS } from '../telemetry-names.ts';
import type { ControllerDeps } from './types.ts';

/**
 * How long a pair with a member EC2 reports down waits for its surviving member's probe. Traffic through the
 * lost member is already dropped, and a survivor that runs with status checks ok may take it even unverified,
 * so the probe only gets the few seconds a healthy member needs to answer (SSM delivery and execution, about
 * 1-3 s, plus a poll), not the full probe timeout. A survivor that has not answered by then reads unknown.
 */
export const SURVIVOR_PROBE_WAIT_MS = 5_000;

/**
 * How long a member's probe is still waited for once its partner's probe in the same command has answered. A
 * healthy member answers within a second or two of its partner (SSM delivers and runs both at once); one that
 * has not after this long is silent this round, and waiting out the full probe timeout would only slow every
 * evaluation while a member hangs. Silence alone never moves traffic, so cutting it short costs nothing.
 */
export const PARTNER_GRACE_MS = 5_000;

/**
 * How often a probe's answers are looked for (ListCommandInvocations). A run started by an event (an agent's
 * report, an EC2 state change) looks at a few pairs, and every second it takes is traffic dropped or at risk:
 * it looks every 250 ms, so an answer is seen at most a quarter second after SSM has it. Other runs look at
 * every pair, where four times the calls buy nothing worth their share of SSM's request rate.
 */
export const PROBE_POLL_MS = { urgent: 250, routine: 1000 } as const;

/**
 * The probe's per-command timeout, in seconds, when it confirms a member agent's report: the agent has just
 * waited its own timeout (2 s) for the daemon, so the controller's second look need wait only 1 s more; a
 * hung daemon is then confirmed a second sooner. Other runs use the document's default (2 s).
 */
export const CONFIRMING_COMMAND_TIMEOUT_S = 1;

/** How long the agent table is asked again for reports it left unprocessed (it answers in milliseconds). */
export const AGENT_READ_WAIT_MS = 2_000;

/**
 * Observe every given pair with as few AWS calls as the APIs allow: one batched read per kind of fact for all
 * pairs together (instance status, route tables, daemon probes, agent reports, tunnel metrics, Elastic IPs), in
 * parallel, except that the tunnel metrics wait for the agent reports (a member whose fresh report says its
 * tunnel is up has no metric read, shared/decide/tunnel-source.ts) and the probes for the instance status: a
 * member EC2 already reports not running (stopped, terminated, gone) is not probed, so a hard loss is decided
 * without waiting out a probe that cannot answer.
 * Route-target ENIs come from the pair's memory when known, so a steady tick makes no DescribeInstances call:
 * a member's default target is its primary ENI (device index 0), which EC2 never lets anyone detach, so it
 * cannot change while the instance id stays the same; the memory is keyed by instance id, so a member
 * replaced by a new instance has its ENI read afresh. A configured networkInterfaceId needs no read at all.
 * Members' private addresses (for the probe's peer check) are remembered the same way, and read only for
 * running members whose route-target ENI is already known.
 */
export async function observePairs(
  deps: ControllerDeps,
  pairs: readonly PairConfig[],
  memories: ReadonlyMap<string, PairMemory>,
  options: {
    readonly urgent?: boolean;
    /** the run confirms a member agent's report: probes use CONFIRMING_COMMAND_TIMEOUT_S */
    readonly confirming?: boolean;
  } = {},
): Promise<Map<string, PairObservation>> {
  const { clients } = deps;
  const pollIntervalMs = options.urgent === true ? PROBE_POLL_MS.urgent : PROBE_POLL_MS.routine;
  const instanceIds = pairs.flatMap((p) => ROLES.map((r) => p[r].instanceId));
  const tableIds = [...new Set(pairs.flatMap((p) => p.routeTables))];
  const probed = pairs.filter((p) => p.probe.kind !== 'none');
  const metered = pairs.filter((p) => p.tunnel !== undefined);
  const allocationIds = pairs.flatMap((p) => (p.elasticIp ? [p.elasticIp.allocationId] : []));
  const knownEnis = new Map<string, string>();
  for (const p of pairs) {
    for (const role of ROLES) {
      const id = p[role].instanceId;
      const eni = p[role].networkInterfaceId ?? memories.get(p.name)?.enis?.[id];
      if (eni) knownEnis.set(id, eni);
    }
  }
  const knownAddresses = new Map<string, string>();
  for (const p of pairs) {
    for (const role of ROLES) {
      const id = p[role].instanceId;
      const address = memories.get(p.name)?.addresses?.[id];
      if (address !== undefined) knownAddresses.set(id, address);
    }
  }
  // A member whose route-target ENI or its address is not known yet: one DescribeInstances gives both, so a
  // pair's first run learns everything and later steady ticks make no such call.
  const unreadTargets = pairs.flatMap((p) =>
    ROLES.flatMap((r) => {
      const id = p[r].instanceId;
      return knownEnis.has(id) && knownAddresses.has(id)
        ? []
        : [{ instanceId: id, networkInterfaceId: knownEnis.get(id) }];
    }),
  );
  const targetsRead =
    unreadTargets.length === 0
      ? Promise.resolve(undefined)
      : readRouteTargets(clients.ec2, unreadTargets).then((read) => {
          for (const [id, target] of read.values) {
            knownEnis.set(id, target.eni);
            knownAddresses.set(id, target.address);
          }
          return read;
        });
  const startedAt = deps.clock.now();
  const deadlineMs = startedAt + deps.config.controller.probeTimeout * 1000;
  const probe = (targets: readonly ProbeTarget[], until: number) =>
    targets.length === 0
      ? Promise.resolve(new Map<string, ProbeObservation>())
      : probeDaemons(clients.ssm, {
          documentName: deps.probeDocument,
          probes: targets,
          deadlineMs: until,
          clock: deps.clock,
          partnerGraceMs: PARTNER_GRACE_MS,
          pollIntervalMs,
        });

  const statusRead = readInstanceStatuses(clients.ec2, instanceIds);
  // Probe every member not known to be down (an unreadable status may hide a running member).
  const probesRead = Promise.all([statusRead, targetsRead]).then(async ([statuses]) => {
    const down = (id: string) => {
      const status = statuses.values.get(id);
      return status !== undefined && (!status.found || status.state !== 'running');
    };
    const lost = (p: PairConfig) => ROLES.some((r) => down(p[r].instanceId));
    const notProbed = new Map(
      probed.flatMap((p) =>
        ROLES.flatMap((r) => {
          const id = p[r].instanceId;
          const state = statuses.values.get(id);
          return down(id)
            ? [[id, notProbedObservation(id, state?.found === false ? 'not found' : `${state?.state}`)]]
            : [];
        }),
      ),
    );
    // A pair with a member down has traffic to move now: its survivor's probe starts at once and is waited
    // for only SURVIVOR_PROBE_WAIT_MS (an unanswered survivor may still take traffic off a certain loss).
    const survivors = probed
      .filter(lost)
      .flatMap((p) => probeTargets(p, knownAddresses, options.confirming === true))
      .filter((t) => !down(t.instanceId));
    const hurried = probe(survivors, Math.min(deadlineMs, startedAt + SURVIVOR_PROBE_WAIT_MS));
    const steady = probed.filter((p) => !lost(p));
    const answers = await Promise.all([
      hurried,
      probe(
        steady.flatMap((p) => probeTargets(p, knownAddresses, options.confirming === true)),
        deadlineMs,
      ),
    ]);
    return new Map([...notProbed, ...answers.flatMap((m) => [...m])]);
  });

  const agentTable = agentTableOf(deps);
  const reporting = agentTable === undefined ? [] : pairs.filter((p) => agentEnabled(deps.config, p));
  const reportsRead =
    agentTable === undefined || reporting.length === 0
      ? Promise.resolve<ReadResult<string, AgentReport | undefined>>({ values: new Map(), errors: [] })
      : readAgentReports(clients.dynamo, {
          ...agentTable,
          instanceIds: reporting.flatMap((p) => ROLES.map((r) => p[r].instanceId)),
          deadlineMs: startedAt + AGENT_READ_WAIT_MS,
          clock: deps.clock,
          log: deps.log,
        });
  const agentsRead = reportsRead.then(
    (reports) =>
      new Map(
        reporting.map((p) => [
          p.name,
          {
            primary: agentObservation(deps, p, 'primary', reports),
            standby: agentObservation(deps, p, 'standby', reports),
          },
        ]),
      ),
  );
  // The tunnel metric is read only for members whose agent report cannot stand for it (reportedTunnel): the
  // reports come first (DynamoDB answers in milliseconds, while the probes take seconds alongside).
  const tunnelsRead = agentsRead.then(async (agents) => {
    const reported = new Map<string, ReportedTunnel>();
    const queries = metered.flatMap((p) => {
      const agent = agents.get(p.name);
      return ROLES.flatMap((r) => {
        const fromReport = reportedTunnel(p, agent?.[r], deps.clock.now());
        if (fromReport === undefined) return [tunnelQuery(p, r)];
        reported.set(`${p.name}/${r}`, fromReport);
        return [];
      });
    });
    const read =
      queries.length === 0
        ? { values: new Map<string, Datapoint[]>(), errors: [] }
        : await readTunnelMetrics(clients.cloudwatch, {
            queries,
            now: deps.clock.now(),
            datapoints: Math.max(...metered.map((p) => p.tunnel?.datapointsToBreach ?? 1)),
          });
    return { ...read, reported };
  });
  const [statuses, tables, probes, tunnels, addresses, agents] = await Promise.all([
    statusRead,
    readRouteTables(clients.ec2, tableIds),
    probesRead,
    tunnelsRead,
    allocationIds.length === 0 ? Promise.resolve(undefined) : readElasticIps(clients.ec2, allocationIds),
    agentsRead,
  ]);
  const deletedEnis = await deletedRouteTargets(deps, pairs, tables.values, new Set(knownEnis.values()));

  const observations = new Map<string, PairObservation>();
  for (const p of pairs) {
    const instances = {} as Record<Role, InstanceObservation>;
    for (const role of ROLES) {
      const id = p[role].instanceId;
      instances[role] = statuses.values.get(id) ?? unreadInstance(id);
    }
    const tableFailed = p.routeTables.some((t) => !tables.values.has(t));
    const allocation = p.elasticIp?.allocationId;
    const eniOf = (role: Role) => knownEnis.get(p[role].instanceId);
    const addressOf = (role: Role) => knownAddresses.get(p[role].instanceId);
    const observation: PairObservation = {
      instances,
      enis: { primary: eniOf('primary'), standby: eniOf('standby') },
      ...(ROLES.some((r) => addressOf(r) !== undefined) && {
        addresses: { primary: addressOf('primary'), standby: addressOf('standby') },
      }),
      ...(p.probe.kind === 'none'
        ? {}
        : {
            probes: {
              primary: probes.get(p.primary.instanceId) ?? noProbe(p.primary.instanceId),
              standby: probes.get(p.standby.instanceId) ?? noProbe(p.standby.instanceId),
            },
          }),
      ...(p.tunnel === undefined
        ? {}
        : {
            tunnels: {
              primary: tunnelObservation(p, 'primary', tunnels),
              standby: tunnelObservation(p, 'standby', tunnels),
            },
          }),
      ...(tableFailed ? {} : { routes: managedRoutes(p, tables.values, deletedEnis) }),
      ...(allocation === undefined || addresses === undefined || !addresses.values.has(allocation)
        ? {}
        : { elasticIpOn: elasticIpHolder(addresses.values.get(allocation)?.networkInterfaceId, eniOf) }),
      ...(agents.has(p.name) && { agent: agents.get(p.name) }),
    };
    observations.set(p.name, observation);
  }
  return observations;
}

/** The agent table and its key prefix, when the deployment has one (otherwise the agent is off everywhere). */
function agentTableOf(deps: ControllerDeps): { tableName: string; keyPrefix: string } | undefined {
  const { agentTableName, agentMemberKeyPrefix } = deps;
  return agentTableName === undefined || agentMemberKeyPrefix === undefined
    ? undefined
    : { tableName: agentTableName, keyPrefix: agentMemberKeyPrefix };
}

/**
 * What the agent table says about one member. A report stored under the member's key but claiming to be
 * another instance is kept (the decision says why it does not count) and logged: the member's agent is
 * misconfigured, or it is trying to speak for someone else.
 */
function agentObservation(
  deps: ControllerDeps,
  pair: PairConfig,
  role: Role,
  reports: ReadResult<string, AgentReport | undefined>,
): AgentObservation {
  const id = pair[role].instanceId;
  if (!reports.values.has(id)) {
    return { readable: false, detail: reports.errors[0] ?? 'agent table not readable' };
  }
  const report = reports.values.get(id);
  if (report === undefined) return { readable: true };
  const bound = report.instanceId === id && report.claimedInstanceId === id;
  if (!bound) {
    deps.log.warn(
      { pair: pair.name, role, key: report.instanceId, claimed: report.claimedInstanceId },
      'agent report not bound to its sender: not evidence',
    );
  }
  return { readable: true, report, bound };
}

/** The tunnel metric query of one member; dimensions default to the member's instance id. */
export function tunnelQuery(pair: PairConfig, role: Role) {
  const tunnel = pair.tunnel;
  if (!tunnel) throw new Error(`pair ${pair.name} has no tunnel metric`);
  return {
    key: `${pair.name}/${role}`,
    namespace: tunnel.namespace,
    metricName: tunnel.metricName,
    dimensions: tunnel.dimensions?.[role] ?? { InstanceId: pair[role].instanceId },
    statistic: tunnel.statistic,
    period: tunnel.period,
  };
}

/**
 * The probe targets of a pair: both members in one group (one SendCommand, so their answers can be compared),
 * each with its address when known, so that each can ping the other.
 */
function probeTargets(
  pair: PairConfig,
  addresses: ReadonlyMap<string, string>,
  confirming: boolean,
): ProbeTarget[] {
  const parameters = {
    ...probeParameters(pair.probe),
    ...(confirming && { [PROBE_PARAMETERS.commandTimeout]: String(CONFIRMING_COMMAND_TIMEOUT_S) }),
  };
  return ROLES.map((role) => {
    const address = addresses.get(pair[role].instanceId);
    return {
      instanceId: pair[role].instanceId,
      parameters,
      group: pair.name,
      ...(address !== undefined && address !== NO_ADDRESS && { address }),
    };
  });
}

/** A member's tunnel reading: from its agent's report, else from the metric (or why the metric was unreadable). */
function tunnelObservation(
  pair: PairConfig,
  role: Role,
  read: ReadResult<string, Datapoint[]> & { readonly reported: ReadonlyMap<string, ReportedTunnel> },
): TunnelObservation {
  const key = `${pair.name}/${role}`;
  const instanceId = pair[role].instanceId;
  const reported = read.reported.get(key);
  if (reported !== undefined) return { instanceId, reported };
  const series = read.values.get(key);
  return series === undefined
    ? {
        instanceId,
        detail: read.errors.find((e) => e.startsWith(key)) ?? read.errors[0] ?? 'metric not readable',
      }
    : { instanceId, datapoints: series };
}

/**
 * The interfaces that blackholed managed routes point at, when they are no member's and EC2 has deleted them
 * (one DescribeNetworkInterfaces call, made only when such a route exists: a steady tick makes none).
 */
async function deletedRouteTargets(
  deps: ControllerDeps,
  pairs: readonly PairConfig[],
  tables: ReadonlyMap<string, readonly TableRoute[]>,
  memberEnis: ReadonlySet<string>,
): Promise<ReadonlySet<string>> {
  const suspects = pairs.flatMap((p) =>
    managedRoutes(p, tables).flatMap((route) =>
      route.state === 'blackhole' &&
      route.networkInterfaceId !== undefined &&
      !memberEnis.has(route.networkInterfaceId)
        ? [route.networkInterfaceId]
        : [],
    ),
  );
  return suspects.length === 0 ? new Set() : readDeletedEnis(deps.clients.ec2, suspects);
}

/** One entry per configured (table, destination), as the tables show it now. */
function managedRoutes(
  pair: PairConfig,
  tables: ReadonlyMap<string, readonly TableRoute[]>,
  deletedEnis: ReadonlySet<string> = new Set(),
): ObservedRoute[] {
  return pair.routeTables.flatMap((routeTableId) =>
    pair.destinations.map((destination): ObservedRoute => {
      const route = (tables.get(routeTableId) ?? []).find((r) => sameDestination(r.destination, destination));
      if (!route) return { routeTableId, destination, present: false };
      return {
        routeTableId,
        destination,
        present: true,
        state: route.state,
        ...(route.networkInterfaceId ? { networkInterfaceId: route.networkInterfaceId } : {}),
        ...(route.instanceId ? { instanceId: route.instanceId } : {}),
        ...(route.otherTarget ? { otherTarget: route.otherTarget } : {}),
        ...(route.networkInterfaceId !== undefined &&
          deletedEnis.has(route.networkInterfaceId) && { targetDeleted: true }),
      };
    }),
  );
}

/** EC2 canonicalises CIDRs; IPv6 is compared case-insensitively. */
const sameDestination = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

function elasticIpHolder(
  eni: string | undefined,
  eniOf: (role: Role) => string | undefined,
): Role | 'other' | 'none' {
  if (eni === undefined) return 'none';
  return ROLES.find((r) => eniOf(r) === eni) ?? 'other';
}

const unreadInstance = (instanceId: string): InstanceObservation => ({
  instanceId,
  found: true,
  scheduledEvents: [],
});

/** A member EC2 reports not running: its probe could not answer, so it is not sent. */
const notProbedObservation = (instanceId: string, state: string): ProbeObservation => ({
  instanceId,
  outcome: 'unknown',
  detail: `not probed: the instance is ${state}`,
  reply: 'unreadable',
});

const noProbe = (instanceId: string): ProbeObservation => ({
  instanceId,
  outcome: 'unknown',
  detail: 'no probe result',
});
