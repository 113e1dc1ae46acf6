import { createAgentTable } from '../shared/aws/agent-table.ts';
import { type AwsClients, createClients } from '../shared/aws/clients.ts';
import type { Config } from '../shared/config/schema.ts';
import type { ControllerDeps } from '../shared/controller/types.ts';
import { type Log, silentLogger } from '../shared/logger.ts';
import { MemberAgents } from './agent.ts';
import { VirtualClock } from './clock.ts';
import { DEFAULT_LATENCY, type LatencyModel } from './latency.ts';
import { startLocalDynamo } from './local-dynamo.ts';
import {
  type ApiStats,
  type CustomizableClient,
  currentInvocation,
  type Invocation,
  installSimulator,
  type ObservedCall,
  type SimBackend,
  type StateStoreFault,
} from './middleware.ts';
import { Dice } from './random.ts';
import { cloudwatchHandlers } from './services/cloudwatch.ts';
import type { Handler, ServiceHandlers } from './services/common.ts';
import { ec2Handlers } from './services/ec2.ts';
import { ssmHandlers } from './services/ssm.ts';
import { createStateTable } from './state-table.ts';
import { Throttle } from './throttle.ts';
import { World } from './world.ts';

/**
 * A simulated AWS account built from a configuration: the World (instances, routes, agents, metrics), a
 * virtual clock, SDK clients with the simulator installed beneath them, and a fresh state table in a local
 * DynamoDB. The production controller runs against `clients` unchanged.
 */

/** Options of a simulated account. */
export interface SimAccountOptions {
  /** fixes every random draw. @default 1 */
  readonly seed?: number;
  /** timing and throttling. @default DEFAULT_LATENCY */
  readonly latency?: LatencyModel;
  /** @default eu-west-1 */
  readonly region?: string;
  /** the SSM document name the controller probes with. @default VpnFailover-DaemonProbe */
  readonly probeDocument?: string;
  /** @default vpn-failover-state */
  readonly tableName?: string;
  /** the member agents' report table. @default the state table's name + "-agent" */
  readonly agentTableName?: string;
  /**
   * Kill the first invocation that attempts a route write (ReplaceRoute/CreateRoute) after this many; a list
   * kills one invocation per entry, in order (the next entry arms once the previous one has killed).
   */
  readonly crashAfterRouteWrites?: number | readonly number[];
  /**
   * A local DynamoDB that is already running (startLocalDynamo) to create the state table in, instead of a
   * server of the account's own: many runs can share one. The caller stops it; give each account its own
   * tableName. @default a fresh server, stopped with the account
   */
  readonly dynamoEndpoint?: string;
}

/** How one invocation ended. */
export type InvocationOutcome<T> =
  | { readonly kind: 'completed'; readonly value: T }
  | { readonly kind: 'failed'; readonly error: unknown }
  | { readonly kind: 'crashed'; readonly routeWrites: number }
  | { readonly kind: 'timed-out' };

/** A running simulated account. */
export interface SimAccount {
  readonly config: Config;
  readonly clock: VirtualClock;
  readonly world: World;
  readonly throttle: Throttle;
  readonly dice: Dice;
  readonly latency: LatencyModel;
  readonly clients: AwsClients;
  readonly tableName: string;
  readonly probeDocument: string;
  /** the member agents of the pairs with the agent enabled, their report table and its stream */
  readonly agents: MemberAgents;
  readonly stats: ApiStats;
  /** Be told of every route write and state-table call that succeeds, with the invocation that made it. */
  onCall(listener: (call: ObservedCall) => void): void;
  /** Make a share of the state table's calls fail for a while (the `state-store-errors` fault). */
  addStateStoreFault(fault: StateStoreFault): void;
  /** Answer another SDK action from a handler (Step Functions for the resize workflow...). */
  extend(service: string, action: string, handler: Handler): void;
  /**
   * Run `work` as one Lambda invocation: its SDK calls and sleeps belong to it, so a simulated crash or a
   * timeout (virtual ms) ends it for good, as a killed process would.
   */
  invoke<T>(work: () => Promise<T>, timeoutMs: number): Promise<InvocationOutcome<T>>;
  /** End every running invocation and stop the local DynamoDB (unless it was given in dynamoEndpoint). */
  close(): Promise<void>;
}

/** Build a simulated account for a configuration; starts a local DynamoDB with a fresh state table. */
export async function createSimAccount(config: Config, options: SimAccountOptions = {}): Promise<SimAccount> {
  const seed = options.seed ?? 1;
  const latency = options.latency ?? DEFAULT_LATENCY;
  const region = options.region ?? 'eu-west-1';
  const probeDocument = options.probeDocument ?? 'VpnFailover-DaemonProbe';
  const tableName = options.tableName ?? 'vpn-failover-state';
  const dice = new Dice(seed);
  const clock = new VirtualClock({ isAbandoned: () => currentInvocation.getStore()?.dead === true });
  const world = new World({ config, clock, dice, latency, region, probeDocument });
  const throttle = new Throttle(latency.throttling, dice);
  const services = new Map<string, ServiceHandlers>([
    ['EC2', ec2Handlers(world)],
    ['SSM', ssmHandlers(world)],
    ['CloudWatch', cloudwatchHandlers(world)],
  ]);
  const stats: ApiStats = { calls: new Map(), throttled: new Map() };
  const backend: SimBackend = {
    clock,
    dice,
    latency: latency.api,
    throttle,
    services,
    stats,
    crashes: [options.crashAfterRouteWrites ?? []].flat(),
    stateStoreFaults: [],
    callObservers: [],
  };

  const dynamo =
    options.dynamoEndpoint === undefined
      ? await startLocalDynamo()
      : { endpoint: options.dynamoEndpoint, close: async () => {} };
  const clients = createClients({
    region,
    dynamoEndpoint: dynamo.endpoint,
    customize: (client) => installSimulator(client as unknown as CustomizableClient, backend),
  });
  // The agents write with the instances' own credentials: their calls are not the controller's (not counted in
  // its stats, untouched by the state table's faults), but they too stop time while in flight.
  const agentClients = createClients({
    region,
    dynamoEndpoint: dynamo.endpoint,
    customize: (client) =>
      installSimulator(client as unknown as CustomizableClient, {
        ...backend,
        stats: { calls: new Map(), throttled: new Map() },
        crashes: [],
        stateStoreFaults: [],
        callObservers: [],
      }),
  });
  const agents = new MemberAgents({
    world,
    dynamo: agentClients.dynamo,
    tableName: options.agentTableName ?? `${tableName}-agent`,
  });
  try {
    await createStateTable(clients.dynamo, tableName);
    if (agents.pairs().length > 0) {
      await createAgentTable(agentClients.dynamo, agents.tableName);
      await agents.start();
    }
  } catch (error) {
    await dynamo.close();
    throw error;
  }
  // Count only what happens in the account from now on, not its setup.
  stats.calls.clear();

  let invocations = 0;
  const live = new Set<Invocation>();
  const invoke = <T>(work: () => Promise<T>, timeoutMs: number): Promise<InvocationOutcome<T>> =>
    new Promise<InvocationOutcome<T>>((resolve) => {
      const invocation: Invocation = { id: ++invocations, dead: false, routeWrites: 0 };
      live.add(invocation);
      const crashAfter = backend.crashes[0];
      if (crashAfter !== undefined) {
        invocation.crashAfterRouteWrites = crashAfter;
        invocation.onCrash = () => {
          live.delete(invocation);
          backend.crashes.shift();
          resolve({ kind: 'crashed', routeWrites: invocation.routeWrites });
        };
      }
      const cancelTimeout = clock.after(timeoutMs, () => {
        if (invocation.dead) return;
        invocation.dead = true;
        resolve({ kind: 'timed-out' });
      });
      currentInvocation.run(invocation, () => {
        work().then(
          (value) => {
            cancelTimeout();
            live.delete(invocation);
            if (!invocation.dead) resolve({ kind: 'completed', value });
          },
          (error: unknown) => {
            cancelTimeout();
            live.delete(invocation);
            if (!invocation.dead) resolve({ kind: 'failed', error });
          },
        );
      });
    });

  return {
    config,
    clock,
    world,
    throttle,
    dice,
    latency,
    clients,
    tableName,
    probeDocument,
    agents,
    stats,
    onCall: (listener) => {
      backend.callObservers.push(listener);
    },
    addStateStoreFault: (fault) => {
      backend.stateStoreFaults.push(fault);
    },
    extend: (service, action, handler) => {
      services.set(service, { ...services.get(service), [action]: handler });
    },
    invoke,
    close: () => {
      // Invocations still running at the end die with the account: nothing they await will ever answer.
      for (const invocation of live) invocation.dead = true;
      live.clear();
      // The document client's destroy() leaves its connections open; its request handler closes them, so a
      // shared server is not left holding this account's keep-alive sockets.
      for (const client of [clients.dynamo, agentClients.dynamo])
        (client.config.requestHandler as { destroy?: () => void }).destroy?.();
      return dynamo.close();
    },
  };
}

/**
 * What the controller (and the resize step) run with in a simulated account, as the deployed functions' environment
 * gives it: the account's clients, configuration, state table, probe document and clock, and the member agents'
 * report table where any pair runs the agent.
 */
export function controllerDepsOf(account: SimAccount, log: Log = silentLogger): ControllerDeps {
  return {
    clients: account.clients,
    config: account.config,
    tableName: account.tableName,
    probeDocument: account.probeDocument,
    ...account.agents.controllerDeps(),
    clock: account.clock,
    log,
  };
}
