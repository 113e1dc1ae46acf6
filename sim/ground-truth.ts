import type { InstanceState, Role } from '../shared/domain/types.ts';
import { ROLES } from '../shared/domain/types.ts';
import type { SimAccount } from './account.ts';
import type { LatencyModel } from './latency.ts';
import type { SimulateOutput } from './output.ts';
import { type RunScenarioOptions, runScenario } from './run-scenario.ts';
import type { Scenario } from './scenario.ts';
import type { World } from './world.ts';
import type { RouteTarget, SimInstance } from './world-model.ts';

/**
 * What really happened in a scenario run, beside what the controller logged: each member's state in the model
 * over time (the faults' real conditions, the instants its guest services come up, the status checks as EC2
 * shows them) and the routes no pair manages. The invariants of test/support/invariants.ts judge the event log against
 * it. Recorded by watching the virtual clock: whenever the clock has settled at an instant, every member whose
 * state changed gets a new entry, so each entry holds from its `at` until the next one.
 */

/** One member's model state from `at` (virtual ms since the scenario start) until the next entry. */
export interface MemberState {
  readonly at: number;
  readonly state: InstanceState;
  /** the real conditions faults set (SimInstance in sim/world-model.ts) */
  readonly systemFault: boolean;
  readonly instanceFault: boolean;
  readonly agentFault: boolean;
  /** agent-stop: the member agent (and the TunnelUp datapoints it publishes) is stopped */
  readonly memberAgentStopped: boolean;
  readonly daemonFault: boolean;
  readonly tunnelFault: boolean;
  /** virtual ms since the start from which the guest's SSM agent, VPN daemon and tunnel are up */
  readonly agentReadyAt: number;
  readonly daemonReadyAt: number;
  readonly tunnelReadyAt: number;
  /** virtual ms since the start until which the status checks read `initializing` */
  readonly initializingUntil: number;
  /**
   * the status checks as EC2 last evaluated them (they lag the real condition,
   * docs/aws-behaviour.md#instance-status-and-scheduled-events)
   */
  readonly systemCheck: 'ok' | 'impaired';
  readonly instanceCheck: 'ok' | 'impaired';
  /** a scheduled retirement is announced and not completed yet */
  readonly retirementPending: boolean;
}

/** A write a controller invocation made for a pair: a route write, or a write of the pair's state item. */
export interface RecordedWrite {
  /** virtual seconds since the scenario start */
  readonly t: number;
  /** the controller invocation that made it; absent outside invocations (the resize workflow's own runs) */
  readonly invocation?: number;
  readonly pair: string;
  readonly what: 'route' | 'state';
}

/** The ground truth of one run. */
export interface GroundTruth {
  /**
   * "PAIR/ROLE" -> the member's states in time order. The first holds from before the start (the steady state
   * the account is created in, as far back as its metric history goes), so its `at` is negative.
   */
  readonly members: Readonly<Record<string, readonly MemberState[]>>;
  /** successful route writes and updates of a pair's state item, in time order */
  readonly writes: readonly RecordedWrite[];
  /** routes that no pair manages, "TABLE DESTINATION" -> their target, when the run started and ended */
  readonly unmanagedRoutes: {
    readonly start: Readonly<Record<string, string>>;
    readonly end: Readonly<Record<string, string>>;
  };
}

/** A run of a scenario with its ground truth and the latency model it ran with. */
export interface RecordedRun {
  readonly scenario: Scenario;
  readonly output: SimulateOutput;
  readonly truth: GroundTruth;
  readonly latency: LatencyModel;
}

const memberKey = (pair: string, role: Role): string => `${pair}/${role}`;

function stateOf(world: World, instance: SimInstance, elapsed: (epochMs: number) => number): MemberState {
  return {
    at: world.clock.elapsed(),
    state: instance.state,
    systemFault: instance.systemFault,
    instanceFault: instance.instanceFault,
    agentFault: instance.agentFault,
    memberAgentStopped: instance.memberAgentStopped,
    daemonFault: instance.daemonFault,
    tunnelFault: instance.tunnelFault,
    agentReadyAt: elapsed(instance.agentReadyAt),
    daemonReadyAt: elapsed(instance.daemonReadyAt),
    tunnelReadyAt: elapsed(instance.tunnelReadyAt),
    initializingUntil: elapsed(instance.initializingUntil),
    systemCheck: instance.checks.system,
    instanceCheck: instance.checks.instance,
    retirementPending: instance.events.some((e) => !e.description.startsWith('[')),
  };
}

/** Two entries say the same thing (ignoring when). */
function sameState(a: MemberState, b: MemberState): boolean {
  return (
    a.state === b.state &&
    a.systemFault === b.systemFault &&
    a.instanceFault === b.instanceFault &&
    a.agentFault === b.agentFault &&
    a.memberAgentStopped === b.memberAgentStopped &&
    a.daemonFault === b.daemonFault &&
    a.tunnelFault === b.tunnelFault &&
    a.agentReadyAt === b.agentReadyAt &&
    a.daemonReadyAt === b.daemonReadyAt &&
    a.tunnelReadyAt === b.tunnelReadyAt &&
    a.initializingUntil === b.initializingUntil &&
    a.systemCheck === b.systemCheck &&
    a.instanceCheck === b.instanceCheck &&
    a.retirementPending === b.retirementPending
  );
}

function describeTarget(target: RouteTarget): string {
  switch (target.kind) {
    case 'eni':
      return target.eni;
    case 'gateway':
      return `${target.field} ${target.id}`;
    case 'local':
      return 'local';
  }
}

/** The managed route a route write names, as "TABLE DESTINATION". */
function routeKey(input: unknown): string {
  const fields = (input ?? {}) as Record<string, string | undefined>;
  const destination =
    fields.DestinationCidrBlock ?? fields.DestinationIpv6CidrBlock ?? fields.DestinationPrefixListId ?? '';
  return `${fields.RouteTableId} ${destination.toLowerCase()}`;
}

/**
 * The pair whose item a state-table update writes: a key attribute naming it after a `#` (the state store's
 * keys are "<kind>#<pair>"), or none.
 */
function updatedPair(input: unknown, pairs: readonly string[]): string | undefined {
  const key = ((input ?? {}) as { Key?: Record<string, { S?: string }> }).Key ?? {};
  const values = Object.values(key).flatMap((v) => (v.S === undefined ? [] : [v.S]));
  return pairs.find((pair) => values.some((v) => v.endsWith(`#${pair}`)));
}

/** Every route of the account that no pair manages, with its target. */
function unmanagedRoutes(account: SimAccount): Record<string, string> {
  const managed = new Set(
    account.config.pairs.flatMap((p) =>
      p.routeTables.flatMap((t) => p.destinations.map((d) => `${t} ${d.toLowerCase()}`)),
    ),
  );
  const routes: Record<string, string> = {};
  for (const table of account.world.routeTables.values()) {
    for (const [destination, route] of table.routes) {
      const key = `${table.id} ${destination}`;
      if (!managed.has(key)) routes[key] = describeTarget(route.target);
    }
  }
  return routes;
}

/**
 * Start recording an account's ground truth; call before its clock first runs. The returned function ends
 * the recording (call it before the account is closed) and gives the record.
 */
export function recordGroundTruth(account: SimAccount): () => GroundTruth {
  const { world, clock } = account;
  const elapsed = (epochMs: number) => epochMs - clock.start;
  const members = account.config.pairs.flatMap((pair) =>
    ROLES.map((role) => ({ key: memberKey(pair.name, role), instance: world.member(pair.name, role) })),
  );
  // The account starts in a steady state with some history (its tunnel metrics go back this far): the first
  // entry holds from then, so that what signals may still show of the time before the start is covered.
  const past = -account.latency.metrics.history;
  const initial = (instance: SimInstance): MemberState => {
    const state = stateOf(world, instance, elapsed);
    const since = (at: number) => (at <= 0 ? past : at);
    return {
      ...state,
      at: past,
      agentReadyAt: since(state.agentReadyAt),
      daemonReadyAt: since(state.daemonReadyAt),
      tunnelReadyAt: since(state.tunnelReadyAt),
      initializingUntil: since(state.initializingUntil),
    };
  };
  const history = new Map<string, MemberState[]>(
    members.map(({ key, instance }) => [key, [initial(instance)]]),
  );
  const start = unmanagedRoutes(account);
  let recording = true;
  const pairs = account.config.pairs.map((p) => p.name);
  const routeOwners = new Map<string, string>(
    account.config.pairs.flatMap((p) =>
      p.routeTables.flatMap((t) =>
        p.destinations.map((d): [string, string] => [`${t} ${d.toLowerCase()}`, p.name]),
      ),
    ),
  );
  const writes: RecordedWrite[] = [];
  account.onCall((call) => {
    if (!recording) return;
    const pair =
      call.service === 'DynamoDB'
        ? call.action === 'UpdateItem'
          ? updatedPair(call.input, pairs)
          : undefined
        : routeOwners.get(routeKey(call.input));
    if (pair === undefined) return;
    const what = call.service === 'DynamoDB' ? 'state' : 'route';
    writes.push({
      t: elapsed(call.at) / 1000,
      ...(call.invocation !== undefined ? { invocation: call.invocation } : {}),
      pair,
      what,
    });
  });
  clock.onSettled(() => {
    if (!recording) return;
    for (const { key, instance } of members) {
      const states = history.get(key) as MemberState[];
      const now = stateOf(world, instance, elapsed);
      const last = states[states.length - 1] as MemberState;
      if (sameState(last, now)) continue;
      // Several settles at one instant: only the last word of that instant counts.
      if (last.at === now.at) states[states.length - 1] = now;
      else states.push(now);
    }
  });
  return () => {
    recording = false;
    return {
      members: Object.fromEntries(history),
      writes,
      unmanagedRoutes: { start, end: unmanagedRoutes(account) },
    };
  };
}

/** Run a scenario (runScenario) and record its ground truth. */
export async function runRecorded(
  scenario: Scenario,
  options: RunScenarioOptions = {},
): Promise<RecordedRun> {
  let finish: (() => GroundTruth) | undefined;
  let truth: GroundTruth | undefined;
  let latency: LatencyModel | undefined;
  const output = await runScenario(scenario, {
    ...options,
    prepare: (account) => {
      options.prepare?.(account);
      latency = account.latency;
      finish = recordGroundTruth(account);
    },
    inspect: async (account) => {
      truth = finish?.();
      await options.inspect?.(account);
    },
  });
  if (truth === undefined || latency === undefined) throw new Error('the run ended before it was recorded');
  return { scenario, output, truth, latency };
}
