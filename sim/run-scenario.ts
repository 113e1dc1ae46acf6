import { parseEvent, SCHEDULE_INPUT } from '../shared/controller/events.ts';
import { runController } from '../shared/controller/run.ts';
import { runScheduled } from '../shared/controller/scheduled.ts';
import { controllerTimeoutSeconds } from '../shared/controller/timing.ts';
import type { ControllerDeps, RunSummary, Trigger } from '../shared/controller/types.ts';
import type { Alarm, AlarmKind, Plan } from '../shared/domain/plan.ts';
import { ROLES, type Role } from '../shared/domain/types.ts';
import type { Log } from '../shared/logger.ts';
import { controllerDepsOf, createSimAccount, type InvocationOutcome, type SimAccount } from './account.ts';
import { trackBlackholes } from './blackhole.ts';
import {
  type CommandHandlers,
  controllerEvent,
  DEFAULT_COMMAND_HANDLERS,
  type UntimedEvent,
} from './commands.ts';
import type { LatencyModel } from './latency.ts';
import { currentInvocation } from './middleware.ts';
import type { FinalPair, FinalRoute, RouteOwner, SimEvent, SimulateOutput } from './output.ts';
import { EVERY_PAIR, type Scenario, type ScenarioCommand, type ScenarioFault } from './scenario.ts';
import { ACCOUNT_ID, type RouteTarget } from './world-model.ts';

/**
 * Run a scenario: build the simulated account, let the real controller run on its triggers (the schedule,
 * EC2 state-change events through EventBridge, operator commands) while the scenario's faults happen, all in
 * virtual time, and report the event log and the final state (docs/simulator.md#simulate-output).
 *
 * The Lambda around the controller is modelled too: concurrency (by default unreserved, as deployed: every
 * invocation starts at once, overlapping the others; with a reservation, invocations beyond it queue), a
 * maximum event age (older schedule and state-change events are dropped,
 * docs/aws-behaviour.md#lambda-asynchronous-invocation), the function's timeout, and the scheduled invocation's
 * evaluations (fast mode: every interval until the next schedule takes over) with their quick re-checks. CloudWatch
 * alarm triggers are not simulated: the deployed alarms watch the controller's own metrics, so they only ask it to
 * look again at what it has just seen.
 */

/** Options of a scenario run. */
export interface RunScenarioOptions {
  /** fixes every random draw; the scenario's seed, else 1 */
  readonly seed?: number;
  /**
   * Kill the first controller invocation that attempts a route write (ReplaceRoute or CreateRoute) after this
   * many (a list: one invocation per entry, in order); the next trigger has to finish the job. @default the scenario's crashAfterRouteWrites
   */
  readonly crashAfterReplaceRoutes?: number | readonly number[];
  /** @default DEFAULT_LATENCY */
  readonly latency?: LatencyModel;
  /**
   * Controller invocations that may run at once (reserved concurrency); more queue until one ends. @default
   * unreserved, as the CDK app deploys the function: every invocation starts at once
   */
  readonly reservedConcurrency?: number;
  /** add a `decision` event for every decision of every run. @default false */
  readonly verbose?: boolean;
  /** handlers of operator commands other than failover. @default DEFAULT_COMMAND_HANDLERS */
  readonly commandHandlers?: CommandHandlers;
  /** look at the account at the end, before it is closed (tests) */
  readonly inspect?: (account: SimAccount) => void | Promise<void>;
  /** look at the account before anything happens in it, e.g. to start recording its state (sim/ground-truth.ts) */
  readonly prepare?: (account: SimAccount) => void;
  /** a running local DynamoDB to share with other runs (SimAccountOptions.dynamoEndpoint) */
  readonly dynamoEndpoint?: string;
  /** the state table's name; give each run that shares a DynamoDB its own. @default vpn-failover-state */
  readonly tableName?: string;
}

/** One queued controller invocation. */
interface Queued {
  /** the Lambda event, as EventBridge, the Scheduler or the CLI sends it */
  readonly event: Record<string, unknown>;
  /** what kind of trigger it is, for the event log */
  readonly kind: Trigger['kind'];
  /** epoch ms of the event that caused it */
  readonly eventAt: number;
  /** events older than this (ms) when their turn comes are dropped */
  readonly maxAge?: number;
}

/** The decision record the controller logs once per pair and run (shared/controller/run.ts). */
interface DecisionRecord {
  readonly pair?: string;
  readonly trigger?: Trigger['kind'];
  readonly plan?: Plan;
  readonly alarms?: readonly Alarm[];
  readonly dryRun?: boolean;
}

/** The controller's log messages the simulator reads: a decision, and the intent of a move being stored. */
type DecisionMessage = 'decision' | 'intent stored';

/**
 * A Log that drops everything except the controller's decision records and its "intent stored" records, which
 * it hands over; records of an invocation that has already died (crash, timeout) are dropped too.
 */
function decisionLog(onDecision: (record: DecisionRecord, msg: DecisionMessage) => void): Log {
  const make = (bindings: Record<string, unknown>): Log => ({
    info: (obj, msg) => {
      if ((msg === 'decision' || msg === 'intent stored') && currentInvocation.getStore()?.dead !== true) {
        onDecision({ ...bindings, ...obj } as DecisionRecord, msg);
      }
    },
    warn: () => {},
    error: () => {},
    debug: () => {},
    child: (more) => make({ ...bindings, ...more }),
  });
  return make({});
}

const targetName = (pair: string, role: Role): string => `${pair}/${role}`;

/** The Lambda timeout the CDK app gives the controller, unless the latency model overrides it. */
function controllerTimeoutMs(scenario: Scenario, latency: LatencyModel): number {
  return latency.control.lambdaTimeout ?? controllerTimeoutSeconds(scenario.config) * 1000;
}

/** Run a scenario against a fresh simulated account. */
export async function runScenario(
  scenario: Scenario,
  options: RunScenarioOptions = {},
): Promise<SimulateOutput> {
  const seed = options.seed ?? scenario.seed ?? 1;
  const crashAfter = options.crashAfterReplaceRoutes ?? scenario.crashAfterRouteWrites;
  const account = await createSimAccount(scenario.config, {
    seed,
    ...(options.latency ? { latency: options.latency } : {}),
    ...(crashAfter !== undefined ? { crashAfterRouteWrites: crashAfter } : {}),
    ...(options.dynamoEndpoint !== undefined ? { dynamoEndpoint: options.dynamoEndpoint } : {}),
    ...(options.tableName !== undefined ? { tableName: options.tableName } : {}),
  });
  try {
    options.prepare?.(account);
    const run = new ScenarioRun(scenario, account, options);
    await run.execute();
    await options.inspect?.(account);
    return run.output(seed);
  } finally {
    await account.close();
  }
}

/** The moving parts of one scenario run. */
class ScenarioRun {
  readonly #scenario: Scenario;
  readonly #account: SimAccount;
  readonly #options: RunScenarioOptions;
  readonly #events: SimEvent[] = [];
  readonly #deps: ControllerDeps;
  readonly #queue: Queued[] = [];
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  /** ENI -> the member it belongs to */
  readonly #eniOwner = new Map<string, { pair: string; role: Role }>();
  /** "table destination" -> pair */
  readonly #routeOwner = new Map<string, string>();
  /** alarms each pair had at its last decision */
  readonly #alarms = new Map<string, Map<AlarmKind, string>>();
  /** dry run: the would-be move or repair each pair asked for at its last decision ("kind trigger from to") */
  readonly #wouldBe = new Map<string, string>();
  /** Moves decided per invocation, waiting for their intent to be stored (#decidedMove). */
  readonly #pendingMoves = new WeakMap<object, Map<string, SimEvent>>();
  /** ends the blackhole measurement and gives each pair's seconds; set once the run starts */
  #blackholes: (() => Record<string, number>) | undefined;
  /** events the world emits while a fault is injected, logged after the fault itself */
  #held: SimEvent[] | undefined;
  #running = 0;
  #invocations = 0;
  #stopped = false;

  constructor(scenario: Scenario, account: SimAccount, options: RunScenarioOptions) {
    this.#scenario = scenario;
    this.#account = account;
    this.#options = options;
    this.#concurrency =
      options.reservedConcurrency === undefined ? Infinity : Math.max(1, options.reservedConcurrency);
    this.#timeoutMs = controllerTimeoutMs(scenario, account.latency);
    this.#deps = controllerDepsOf(
      account,
      decisionLog((record, msg) =>
        msg === 'decision' ? this.#onDecision(record) : this.#onIntentStored(record),
      ),
    );
    for (const pair of scenario.config.pairs) {
      for (const role of ROLES) {
        const instance = account.world.member(pair.name, role);
        for (const eni of instance.enis) this.#eniOwner.set(eni, { pair: pair.name, role });
      }
      for (const table of pair.routeTables) {
        for (const destination of pair.destinations)
          this.#routeOwner.set(`${table} ${destination.toLowerCase()}`, pair.name);
      }
    }
  }

  #t(): number {
    return Math.round(this.#account.clock.elapsed() / 100) / 10;
  }

  #emit(event: UntimedEvent): void {
    this.#record({ t: this.#t(), ...event } as SimEvent);
  }

  #record(timed: SimEvent): void {
    if (this.#held) this.#held.push(timed);
    else this.#events.push(timed);
  }

  #draw(key: string, range: readonly [number, number]): number {
    return Math.round(this.#account.dice.between(key, range));
  }

  /** Which member (or neither) a route target is, for a given pair. */
  #owner(pair: string, target: RouteTarget | undefined): RouteOwner {
    if (target === undefined) return 'missing';
    if (target.kind !== 'eni') return 'other';
    const owner = this.#eniOwner.get(target.eni);
    return owner && owner.pair === pair ? owner.role : 'other';
  }

  async execute(): Promise<void> {
    const { clock, world } = this.#account;
    const start = clock.start;
    const end = start + this.#scenario.duration * 1000;
    this.#blackholes = trackBlackholes(this.#account);
    const { agents } = this.#account;
    agents.onReport((report) => {
      // Changes only: a heartbeat restates what the timeline already says.
      if (report.kind !== 'change') return;
      this.#emit({
        type: 'agent-report',
        pair: report.pair,
        member: report.role,
        verdict: report.verdict,
        detail: report.detail,
      });
    });
    // The event source mapping invokes the controller synchronously with the stream's records (the filter lets
    // only changes through): no maximum event age applies.
    agents.onStream((event) =>
      this.#enqueue({ event: { ...event }, kind: 'agent-report', eventAt: clock.now() }),
    );
    world.on((event) => {
      switch (event.kind) {
        case 'state-change': {
          this.#emit({
            type: 'state-change',
            target: targetName(event.pair, event.role),
            instanceId: event.instanceId,
            from: event.from,
            to: event.to,
          });
          // EventBridge delivers "EC2 Instance State-change Notification" a little later
          // (docs/aws-behaviour.md#eventbridge-events-and-scheduler).
          const at = clock.now();
          clock.after(
            this.#draw(`eventbridge ${event.instanceId}`, this.#account.latency.control.eventBridge),
            () =>
              this.#enqueue({
                event: {
                  version: '0',
                  id: this.#account.dice.hex(`event ${event.instanceId} ${at}`, 32),
                  'detail-type': 'EC2 Instance State-change Notification',
                  source: 'aws.ec2',
                  account: ACCOUNT_ID,
                  time: new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z'),
                  region: world.region,
                  resources: [`arn:aws:ec2:${world.region}:${ACCOUNT_ID}:instance/${event.instanceId}`],
                  detail: { 'instance-id': event.instanceId, state: event.to },
                },
                kind: 'instance-state-change',
                eventAt: at,
                maxAge: this.#account.latency.control.maxEventAge,
              }),
          );
          return;
        }
        case 'route-change': {
          const pair = this.#routeOwner.get(`${event.routeTableId} ${event.destination.toLowerCase()}`);
          if (pair === undefined) {
            this.#emit({
              type: 'error',
              message: `an unmanaged route was changed: ${event.destination} in ${event.routeTableId}`,
            });
            return;
          }
          this.#emit({
            type: 'route-change',
            pair,
            routeTable: event.routeTableId,
            destination: event.destination,
            to: this.#owner(pair, event.to),
            from: this.#owner(pair, event.from),
            action: event.action,
          });
          return;
        }
        case 'elastic-ip': {
          const pair = this.#scenario.config.pairs.find(
            (p) => p.elasticIp?.allocationId === event.allocationId,
          );
          if (pair)
            this.#emit({
              type: 'elastic-ip',
              pair: pair.name,
              to:
                event.eni === undefined ? 'missing' : this.#owner(pair.name, { kind: 'eni', eni: event.eni }),
            });
          return;
        }
        case 'instance-type':
          this.#emit({
            type: 'instance-type',
            target: targetName(event.pair, event.role),
            from: event.from,
            to: event.to,
          });
          return;
        case 'start-failed':
          this.#emit({
            type: 'start-failed',
            target: targetName(event.pair, event.role),
            reason: event.reason,
          });
          return;
      }
    });

    for (const fault of this.#scenario.faults)
      clock.schedule(start + fault.at * 1000, () => this.#inject(fault));
    for (const command of this.#scenario.commands)
      clock.schedule(start + command.at * 1000, () => this.#command(command));
    const period = this.#scenario.config.controller.schedule * 1000;
    for (let at = start; at < end; at += period) {
      const scheduledAt = at;
      clock.schedule(scheduledAt + this.#draw('scheduler', this.#account.latency.control.scheduler), () =>
        this.#enqueue({
          event: { ...SCHEDULE_INPUT },
          kind: 'schedule',
          eventAt: scheduledAt,
          maxAge: this.#account.latency.control.maxEventAge,
        }),
      );
    }
    await clock.runUntil(end);
    this.#stopped = true;
  }

  #inject(fault: ScenarioFault): void {
    const { world, throttle, clock } = this.#account;
    if (fault.fault === 'foreign-route') {
      // Someone else's route write: the route-change it causes follows the fault in the log.
      const { routeTable, destination } = fault;
      this.#emit({ type: 'fault', target: fault.target.pair, fault: fault.fault, routeTable, destination });
      world.pointRouteOutside(routeTable, destination);
      return;
    }
    const target = fault.target === '*' ? '*' : targetName(fault.target.pair, fault.target.role);
    const base = {
      type: 'fault' as const,
      target,
      fault: fault.fault,
      ...(fault.rate !== undefined ? { rate: fault.rate } : {}),
      ...(fault.for !== undefined ? { for: fault.for } : {}),
    };
    // The members the fault hits: one, or that member of every pair at the same instant (a zone-wide loss).
    const aimed = fault.target;
    const members =
      aimed === '*'
        ? []
        : aimed.pair === EVERY_PAIR
          ? this.#scenario.config.pairs.map((p) => world.member(p.name, aimed.role))
          : [world.member(aimed.pair, aimed.role)];
    if (fault.fault === 'api-throttling') {
      const ids = fault.target === '*' ? undefined : members.flatMap((m) => [m.id, ...m.enis]);
      throttle.addFault({
        rate: fault.rate ?? 0,
        from: clock.now(),
        until: clock.now() + (fault.for ?? 0) * 1000,
        ...(ids ? { ids } : {}),
      });
      this.#emit(base);
      return;
    }
    if (fault.fault === 'state-store-errors') {
      this.#account.addStateStoreFault({
        rate: fault.rate ?? 0,
        from: clock.now(),
        until: clock.now() + (fault.for ?? 0) * 1000,
      });
      this.#emit(base);
      return;
    }
    if (fault.target === '*') return;
    this.#held = [];
    const kind = fault.fault;
    const leadMs = fault.for === undefined ? undefined : fault.for * 1000;
    const notes = new Set(members.map((member) => world.applyFault(member, kind, leadMs)));
    const note = [...notes].filter((n) => n !== undefined).join('; ') || undefined;
    const consequences = this.#held;
    this.#held = undefined;
    this.#emit(note === undefined ? base : { ...base, note });
    this.#events.push(...consequences);
  }

  #command(command: ScenarioCommand): void {
    if (command.command !== 'resize') {
      const { at: _at, ...said } = command;
      this.#emit({ type: 'command', ...said });
      // What `vpn-failover failover|pause|resume` sends: a direct invocation, with no maximum event age.
      this.#enqueue({
        event: controllerEvent(command),
        kind: command.command,
        eventAt: this.#account.clock.now(),
      });
      return;
    }
    this.#emit({
      type: 'command',
      pair: command.pair,
      command: 'resize',
      instanceType: command.instanceType,
    });
    const handler = (this.#options.commandHandlers ?? DEFAULT_COMMAND_HANDLERS).resize;
    if (!handler) {
      this.#emit({
        type: 'error',
        pair: command.pair,
        message: 'resize is not available in this build of the simulator',
      });
      return;
    }
    handler({ account: this.#account, deps: this.#deps, command, emit: (event) => this.#emit(event) }).catch(
      (error: unknown) => {
        this.#emit({
          type: 'error',
          pair: command.pair,
          message: `resize failed: ${(error as Error).message}`,
        });
      },
    );
  }

  #enqueue(item: Queued): void {
    if (this.#stopped) return;
    this.#queue.push(item);
    this.#pump();
  }

  /** Start queued invocations while reserved concurrency allows. */
  #pump(): void {
    while (!this.#stopped && this.#running < this.#concurrency && this.#queue.length > 0) {
      const item = this.#queue.shift() as Queued;
      this.#running++;
      void this.#invoke(item).finally(() => {
        this.#running--;
        this.#pump();
      });
    }
  }

  async #invoke(item: Queued): Promise<void> {
    const { clock, latency } = this.#account;
    const age = clock.now() - item.eventAt;
    if (item.maxAge !== undefined && age > item.maxAge) {
      this.#emit({
        type: 'event-dropped',
        trigger: item.kind,
        ageSeconds: Math.round(age / 100) / 10,
      });
      return;
    }
    await clock.sleep(this.#draw('lambda start', latency.control.lambdaStart));
    this.#invocations++;
    // What the Lambda handler does (functions/controller/handler.ts handleEvent): parse the event; a scheduled
    // event evaluates at each of its slots and re-checks in between, until the invocation's deadline.
    const deadline = clock.now() + this.#timeoutMs;
    const work = (): Promise<RunSummary | RunSummary[]> => {
      const trigger = parseEvent(item.event);
      if (trigger.kind === 'schedule') return runScheduled({ ...this.#deps, deadline });
      return runController(this.#deps, trigger);
    };
    const outcome: InvocationOutcome<RunSummary | RunSummary[]> = await this.#account.invoke(
      work,
      this.#timeoutMs,
    );
    switch (outcome.kind) {
      case 'completed':
        for (const summary of Array.isArray(outcome.value) ? outcome.value : [outcome.value])
          this.#onSummary(summary);
        return;
      case 'failed':
        this.#emit({
          type: 'error',
          message: `controller run (${item.kind}) failed: ${(outcome.error as Error)?.message ?? String(outcome.error)}`,
        });
        return;
      case 'crashed':
        this.#emit({
          type: 'controller-crash',
          reason: 'crash-after-route-writes',
          routeWrites: outcome.routeWrites,
        });
        return;
      case 'timed-out':
        this.#emit({ type: 'controller-crash', reason: 'timeout' });
        return;
    }
  }

  /** A decision as the controller logs it: moves and alarm changes become events right away. */
  #onDecision(record: DecisionRecord): void {
    const { pair, plan } = record;
    if (pair === undefined || plan === undefined) return;
    if (this.#options.verbose) {
      this.#emit({
        type: 'decision',
        pair,
        plan: plan.kind,
        trigger: record.trigger ?? 'schedule',
        reasons: plan.reasons,
      });
    }
    const reason = plan.reasons.join('; ');
    if (record.dryRun) this.#wouldDo(pair, plan);
    else if (plan.kind === 'failover' || plan.kind === 'failback') {
      this.#decidedMove(pair, {
        type: 'failover',
        pair,
        from: plan.from,
        to: plan.to,
        reason,
        kind: plan.kind,
        trigger: plan.trigger,
      });
    } else if (plan.kind === 'repair-routes') {
      this.#decidedMove(pair, { type: 'repair', pair, to: plan.to, reason });
    }
    this.#alarmChanges(pair, record.alarms ?? []);
  }

  /**
   * A move decided by the invocation running now, kept until that invocation stores its intent: a run that
   * loses the conditional write (another run or a resize got there first) moved nothing, so it reports no move.
   */
  #decidedMove(pair: string, event: UntimedEvent): void {
    const invocation = currentInvocation.getStore();
    if (invocation === undefined) return;
    const moves = this.#pendingMoves.get(invocation) ?? new Map<string, SimEvent>();
    moves.set(pair, { t: this.#t(), ...event } as SimEvent);
    this.#pendingMoves.set(invocation, moves);
  }

  /** The intent of a decided move is stored: the move happens, reported at the time it was decided. */
  #onIntentStored(record: DecisionRecord): void {
    const invocation = currentInvocation.getStore();
    if (record.pair === undefined || invocation === undefined) return;
    const moves = this.#pendingMoves.get(invocation);
    const move = moves?.get(record.pair);
    if (move === undefined) return;
    moves?.delete(record.pair);
    this.#record(move);
  }

  /**
   * A dry-run decision: what the controller would have written, once per stretch of decisions asking for the
   * same thing (every run of a dry run asks again, since nothing moved), so scripts can count would-be moves.
   */
  #wouldDo(pair: string, plan: Plan): void {
    const reason = plan.reasons.join('; ');
    if (plan.kind === 'failover' || plan.kind === 'failback') {
      const { kind, from, to, trigger } = plan;
      // An operator command is a would-be move of its own and leaves the schedule's stretch as it was.
      const wanted = `${kind} ${trigger} ${from} ${to}`;
      if (trigger !== 'manual') {
        if (this.#wouldBe.get(pair) === wanted) return;
        this.#wouldBe.set(pair, wanted);
      }
      this.#emit({ type: 'would-failover', pair, from, to, reason, kind, trigger });
    } else if (plan.kind === 'repair-routes') {
      const wanted = `${plan.kind} ${plan.from} ${plan.to}`;
      if (this.#wouldBe.get(pair) === wanted) return;
      this.#wouldBe.set(pair, wanted);
      this.#emit({ type: 'would-repair', pair, to: plan.to, reason });
    } else {
      this.#wouldBe.delete(pair);
    }
  }

  #alarmChanges(pair: string, alarms: readonly Alarm[]): void {
    const before = this.#alarms.get(pair) ?? new Map<AlarmKind, string>();
    const now = new Map(alarms.map((a) => [a.kind, a.detail]));
    for (const [kind, detail] of now)
      if (!before.has(kind)) this.#emit({ type: 'alarm', pair, alarm: kind, detail });
    for (const kind of before.keys())
      if (!now.has(kind)) this.#emit({ type: 'alarm-cleared', pair, alarm: kind });
    this.#alarms.set(pair, now);
  }

  /** A finished run: per-pair errors become events (moves were reported from the decision records). */
  #onSummary(summary: RunSummary): void {
    if (summary.refused !== undefined) {
      const pair = summary.pairs.find((p) => p.refused !== undefined)?.pair;
      this.#emit({ type: 'refused', pair: pair ?? '', command: summary.trigger, reason: summary.refused });
    }
    for (const pair of summary.pairs) {
      if (pair.error !== undefined) this.#emit({ type: 'error', pair: pair.pair, message: pair.error });
    }
  }

  output(seed: number): SimulateOutput {
    const { world, stats } = this.#account;
    const blackholeSeconds = this.#blackholes?.() ?? {};
    const pairs: Record<string, FinalPair> = {};
    for (const pair of this.#scenario.config.pairs) {
      const routes = pair.routeTables.flatMap((tableId) =>
        pair.destinations.map((destination): FinalRoute => {
          const route = world.routeTables.get(tableId)?.routes.get(destination.toLowerCase());
          if (!route) return { routeTable: tableId, destination, to: 'missing', state: 'missing' };
          return {
            routeTable: tableId,
            destination: route.destination,
            to: this.#owner(pair.name, route.target),
            state: world.routeState(route.target),
          };
        }),
      );
      const owners = new Set(routes.map((r) => r.to));
      const [only] = [...owners];
      const active = owners.size === 1 && (only === 'primary' || only === 'standby') ? only : 'split';
      const member = (role: Role) => {
        const instance = world.member(pair.name, role);
        return { state: instance.state, instanceType: instance.instanceType };
      };
      const address = pair.elasticIp ? world.addresses.get(pair.elasticIp.allocationId) : undefined;
      pairs[pair.name] = {
        active,
        routes,
        members: { primary: member('primary'), standby: member('standby') },
        ...(pair.elasticIp
          ? {
              elasticIp:
                address?.eni === undefined
                  ? 'missing'
                  : this.#owner(pair.name, { kind: 'eni', eni: address.eni }),
            }
          : {}),
        blackholeSeconds: blackholeSeconds[pair.name] ?? 0,
      };
    }
    const sorted = (map: ReadonlyMap<string, number>) =>
      Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)));
    return {
      scenario: this.#scenario.name,
      seed,
      duration: this.#scenario.duration,
      // A run's route changes are recorded when its summary arrives; order by time (a stable sort keeps
      // same-instant events in the order they were recorded).
      events: [...this.#events].sort((a, b) => a.t - b.t),
      final: { pairs },
      stats: {
        invocations: this.#invocations,
        apiCalls: sorted(stats.calls),
        throttled: sorted(stats.throttled),
      },
    };
  }
}
