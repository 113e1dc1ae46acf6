import { randomUUID } from 'node:crypto';
import type { LoadedPair, PendingHistory } from '../aws/state-item.ts';
import { pendingHistories, StateStore } from '../aws/state-store.ts';
import { TokenBucket } from '../concurrency.ts';
import type { Config, PairConfig } from '../config/schema.ts';
import { decide, inferActive, type OperatorCommand, pausedAlarm, pauseInForce } from '../decide/decide.ts';
import { writePriority } from '../decide/priority.ts';
import { recheckAfterMs } from '../decide/recheck.ts';
import type { Decision } from '../domain/plan.ts';
import { isMove } from '../domain/plan.ts';
import type { PairMemory, PairObservation, Role, StoredPair } from '../domain/types.ts';
import { ROLES } from '../domain/types.ts';
import { BadEventError, ConflictError } from '../errors.ts';
import { countOf } from '../plural.ts';
import { type ActResult, actAll, EC2_WRITE_BUCKET } from './act.ts';
import { observePairs } from './observe.ts';
import type {
  ControllerDeps,
  MemberSummary,
  OperatorTrigger,
  PairSummary,
  RunSummary,
  Trigger,
} from './types.ts';

/**
 * One reconcile: choose the pairs the trigger names, observe them all at once, decide each (pure), store the
 * intent, act, record history. Level-triggered: the trigger only selects pairs; decisions use fresh state.
 * Route writes of all pairs share one write budget paced to EC2's mutating bucket, and one run at a time (the
 * writer lease's holder) spends it; overlapping runs leave their moves to the holder.
 */
export async function runController(deps: ControllerDeps, trigger: Trigger): Promise<RunSummary> {
  const startedAt = deps.clock.now();
  const deadline = deps.deadline ?? startedAt + controllerTimeoutSeconds(deps.config) * 1000;
  const summary = (pairs: PairSummary[], more: Partial<RunSummary> = {}): RunSummary => ({
    trigger: trigger.kind,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: deps.clock.now() - startedAt,
    pairs,
    ...more,
  });
  const unknown = isOperator(trigger) ? unknownPair(deps, trigger.pair) : undefined;
  if (unknown !== undefined) {
    deps.log.info({ trigger }, 'operator command refused');
    return summary([], { refused: `refused ${trigger.kind} of ${unknown}` });
  }
  const pairs = selectPairs(deps, trigger);
  const outcome = pairs.length === 0 ? { summaries: [] } : await reconcileAll(deps, pairs, trigger, deadline);
  const refused = outcome.summaries.find((p) => p.refused !== undefined)?.refused;
  return summary(outcome.summaries, {
    ...(outcome.deferred ? { deferred: outcome.deferred } : {}),
    ...(refused !== undefined ? { refused } : {}),
  });
}

const isOperator = (trigger: Trigger): trigger is OperatorTrigger =>
  trigger.kind === 'failover' || trigger.kind === 'pause' || trigger.kind === 'resume';

/** Says why, when an operator names a pair the configuration does not have. */
function unknownPair(deps: ControllerDeps, name: string): string | undefined {
  const all = deps.config.pairs;
  return all.some((p) => p.name === name)
    ? undefined
    : `unknown pair "${name}" (configured: ${all.map((p) => p.name).join(', ')})`;
}

/** The operator command a trigger carries to decide, if any. */
function commandOf(trigger: Trigger): OperatorCommand | undefined {
  switch (trigger.kind) {
    case 'failover':
      return { action: 'failover', to: trigger.to, force: trigger.force };
    case 'pause':
      return {
        action: 'pause',
        seconds: trigger.seconds,
        reason: trigger.reason,
        ...(trigger.by !== undefined && { by: trigger.by }),
      };
    case 'resume':
      return { action: 'resume', ...(trigger.by !== undefined && { by: trigger.by }) };
    default:
      return undefined;
  }
}

/** Lambda's maximum timeout (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html). */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/** Time a run keeps after its last route write to read the routes back and store the outcome. */
export const OUTCOME_ROOM_MS = 10_000;

/**
 * How long one evaluation may take: a probe (at most controller.probeTimeout) plus reads and writes, 60 s or
 * probeTimeout + 30 s if longer.
 */
const evaluationMs = (controller: Config['controller']): number =>
  Math.max(60, controller.probeTimeout + 30) * 1000;

/**
 * The controller Lambda's timeout, in seconds. One evaluation takes at most evaluationMs. A scheduled
 * invocation also re-checks what its evaluation asks it to (a failure seen fewer than unhealthyThreshold
 * times): in economy mode it gets a second evaluation's time for that; in fast mode it keeps evaluating until
 * the next scheduled invocation takes over a schedule period after it started, so it needs that period plus
 * one evaluation. When every managed route (and Elastic IP) of the configuration may have to move at once (a
 * zone-wide loss) and that is more than EC2's burst of mutating calls, the invocation also needs the time to
 * write the rest at EC2's refill rate, plus the room to store the outcome; that part stops at Lambda's maximum
 * of 900 s. Beyond it, the writes that do not fit are left to the next invocation, which finds those routes
 * still on the lost member and repairs them first.
 */
export function controllerTimeoutSeconds(config: Config): number {
  const { controller } = config;
  const evaluation = evaluationMs(controller) / 1000;
  const base = (controller.fastMode.enabled ? controller.schedule : evaluation) + evaluation;
  const writes = config.pairs.reduce(
    (sum, p) => sum + p.routeTables.length * p.destinations.length + (p.elasticIp ? 1 : 0),
    0,
  );
  if (writes <= EC2_WRITE_BUCKET.capacity) return base;
  const writing =
    Math.ceil((writes - EC2_WRITE_BUCKET.capacity) / EC2_WRITE_BUCKET.refillPerSecond) +
    OUTCOME_ROOM_MS / 1000;
  return Math.max(base, Math.min(LAMBDA_MAX_TIMEOUT_SECONDS, base + writing));
}

/**
 * When a scheduled invocation starting at `startMs` with the given deadline starts its evaluations (epoch
 * ms), and until when it may start re-checks (`takeOver`). Economy: once, at the start. Fast mode: every
 * `interval` from the start, as many as fit in one schedule period, so the next scheduled invocation's first
 * evaluation (a period later) follows the last one after at most `interval`: the grid carries on across
 * invocations, give or take the Scheduler's delay, and no part of a period goes unwatched. Each invocation
 * anchors the grid at its own start, so that delay never accumulates. Nothing starts once the next scheduled
 * invocation has taken over, or when one more evaluation would not fit before the deadline.
 */
export function evaluationSlots(
  controller: Config['controller'],
  startMs: number,
  deadlineMs: number,
): { readonly slots: readonly number[]; readonly takeOver: number } {
  const takeOver = Math.min(startMs + controller.schedule * 1000, deadlineMs - evaluationMs(controller));
  if (!controller.fastMode.enabled) return { slots: [startMs], takeOver };
  const count = Math.ceil(controller.schedule / controller.fastMode.interval);
  const slots = Array.from({ length: count }, (_, k) => startMs + k * controller.fastMode.interval * 1000);
  return { slots: slots.filter((at, k) => k === 0 || at < takeOver), takeOver };
}

/**
 * A scheduled invocation: evaluate every pair at each of its evaluationSlots, and in between re-check the pairs
 * whose evaluation asked for it (a failure seen fewer than unhealthyThreshold times, shared/decide/recheck.ts)
 * as soon as they asked, instead of at the next slot or schedule. Re-checks start only while the next
 * scheduled invocation has not taken over (a schedule period after `startMs`) and one more evaluation fits
 * before the invocation's deadline. An evaluation that overruns its slot makes the next one start as soon as
 * it ends (slots it overran entirely are covered by that one). Each run is handed to `onRun` as soon as it
 * finishes (its metrics are published then, not at the end of the invocation). Each run holds the writer lease
 * only while it writes, never between evaluations, so an EC2 event's run overlapping the loop is not held up.
 * Waiting is on the injected clock.
 */
export async function runScheduled(
  deps: ControllerDeps,
  options: { readonly onRun?: (summary: RunSummary) => void } = {},
): Promise<RunSummary[]> {
  const { controller } = deps.config;
  const startMs = deps.clock.now();
  // Every run of the invocation shares its deadline.
  const deadline = deps.deadline ?? startMs + controllerTimeoutSeconds(deps.config) * 1000;
  const invocation: ControllerDeps = { ...deps, deadline };
  const { slots, takeOver } = evaluationSlots(controller, startMs, deadline);
  const runs: RunSummary[] = [];
  const run = async (trigger: Trigger): Promise<RunSummary> => {
    const summary = await runController(invocation, trigger);
    runs.push(summary);
    options.onRun?.(summary);
    return summary;
  };
  for (const [k, slot] of slots.entries()) {
    const nextSlot = slots[k + 1] ?? takeOver;
    // An overrun past the following slot too: that slot's evaluation starts now instead.
    if ((slots[k + 1] ?? Infinity) <= deps.clock.now()) continue;
    await deps.clock.sleep(Math.max(0, slot - deps.clock.now()));
    let summary = await run({ kind: 'schedule' });
    for (;;) {
      const asked = summary.pairs.filter((p) => p.recheckAfterMs !== undefined);
      if (asked.length === 0) break;
      // The delay counts from the start of the evaluation that asked, so the two readings are that far apart.
      const at = Date.parse(summary.startedAt) + Math.min(...asked.map((p) => p.recheckAfterMs as number));
      if (at >= nextSlot) break;
      await deps.clock.sleep(Math.max(0, at - deps.clock.now()));
      summary = await run({ kind: 'recheck', pairs: asked.map((p) => p.pair) });
    }
  }
  return runs;
}

/** EC2 instance states in which a member carries no traffic (or soon will not). */
const LEAVING_STATES: ReadonlySet<string> = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

/** The pairs a trigger asks about. Unknown pairs named by an operator are an error; unknown instances are not. */
function selectPairs(deps: ControllerDeps, trigger: Trigger): PairConfig[] {
  const all = deps.config.pairs;
  switch (trigger.kind) {
    case 'schedule':
      return [...all];
    case 'recheck':
      return all.filter((p) => trigger.pairs.includes(p.name));
    case 'reconcile':
    case 'failover':
    case 'pause':
    case 'resume': {
      if (trigger.pair === undefined) return [...all];
      const unknown = unknownPair(deps, trigger.pair);
      if (unknown !== undefined) throw new BadEventError(unknown);
      return all.filter((p) => p.name === trigger.pair);
    }
    case 'instance-state-change': {
      const pair = all.find((p) => ROLES.some((r) => p[r].instanceId === trigger.instanceId));
      if (!pair) {
        deps.log.info({ instanceId: trigger.instanceId }, 'state change of an unmanaged instance ignored');
        return [];
      }
      // A managed instance going down is often one of many (a zone or a host lost): look at every pair, so one
      // run moves all the lost pairs through one write budget instead of one invocation per instance.
      return LEAVING_STATES.has(trigger.state) ? [...all] : [pair];
    }
    case 'agent-report': {
      for (const reason of trigger.ignored ?? []) deps.log.warn({ reason }, 'agent stream record ignored');
      const pairs = all.filter((p) => ROLES.some((r) => trigger.instanceIds.includes(p[r].instanceId)));
      const managed = new Set(pairs.flatMap((p) => ROLES.map((r) => p[r].instanceId)));
      const unmanaged = trigger.instanceIds.filter((id) => !managed.has(id));
      if (unmanaged.length > 0) {
        deps.log.info(
          { instanceIds: unmanaged },
          'agent report of an instance in no configured pair ignored',
        );
      }
      return pairs;
    }
    case 'alarm': {
      // The product's pair alarms are named "<deployment>.pair.<pair>.<kind>" (infra/telemetry.ts alarmName);
      // any other alarm means "look at everything".
      const pair = all.find((p) => trigger.alarmName.includes(`.pair.${p.name}.`));
      return pair ? [pair] : [...all];
    }
  }
}

/** What the runs of one invocation share: the write budget, the deadline and the writer lease. */
interface RunWrites {
  readonly store: StateStore;
  budget: TokenBucket;
  /** epoch ms: the invocation's deadline, and the writer lease's expiry while this invocation holds it */
  readonly deadline: number;
  /** epoch ms after which no write starts */
  readonly stopAt: number;
  /** who this invocation is, as the writer lease's owner */
  readonly owner: string;
  holding: boolean;
  /** epoch ms of the last time the lease was taken or extended */
  renewedAt: number;
}

/**
 * How long the writer lease holds without being extended, and how often its holder extends it while it works:
 * a holder that dies blocks others' writes for at most this long.
 */
export const WRITER_LEASE_MS = 60_000;
const WRITER_LEASE_RENEW_MS = 15_000;

/** Take or extend the writer lease; false when someone else holds it. */
async function holdWriterLease(deps: ControllerDeps, run: RunWrites): Promise<boolean> {
  const now = deps.clock.now();
  const lease = await run.store.takeWriterLease(
    run.owner,
    Math.min(run.deadline, now + WRITER_LEASE_MS),
    now,
  );
  if (lease === undefined) {
    run.holding = false;
    return false;
  }
  // The account's bucket is as the last holder left it, refilled since.
  if (!run.holding && lease.level) run.budget = new TokenBucket(deps.clock, EC2_WRITE_BUCKET, lease.level);
  run.holding = true;
  run.renewedAt = now;
  return true;
}

/** While writing, extend the writer lease every so often (a failed extension is left to the next one). */
async function keepWriterLease(deps: ControllerDeps, run: RunWrites): Promise<void> {
  if (!run.holding || deps.clock.now() - run.renewedAt < WRITER_LEASE_RENEW_MS) return;
  run.renewedAt = deps.clock.now();
  await holdWriterLease(deps, run).catch((error: unknown) => {
    deps.log.warn({ err: error }, 'writer lease not extended');
    return true;
  });
}

/**
 * Reconcile the selected pairs; if this run moves traffic, it holds the writer lease, and before letting go
 * it also reconciles every pair that overlapping runs marked for it (they found moves to make while this run
 * held the lease), all through the same write budget.
 */
async function reconcileAll(
  deps: ControllerDeps,
  pairs: PairConfig[],
  trigger: Trigger,
  deadline: number,
): Promise<{ readonly summaries: PairSummary[]; readonly deferred?: string[] }> {
  const run: RunWrites = {
    store: new StateStore({ dynamo: deps.clients.dynamo, tableName: deps.tableName, clock: deps.clock }),
    budget: new TokenBucket(deps.clock, EC2_WRITE_BUCKET),
    deadline,
    stopAt: deadline - OUTCOME_ROOM_MS,
    owner: randomUUID(),
    holding: false,
    renewedAt: 0,
  };
  // Events come in bursts when many instances fail together (one EC2 event per instance, one agent report per
  // member). An event's run takes the writer lease before it looks at anything; while another run holds it,
  // the event's run only marks its pairs for that run, which looks at them before it lets go: a burst costs one
  // write each, not one look at the fleet each.
  if (
    trigger.kind === 'instance-state-change' ||
    trigger.kind === 'alarm' ||
    trigger.kind === 'agent-report'
  ) {
    try {
      if (!(await holdWriterLease(deps, run))) {
        await run.store.markPairs(pairs.map((p) => p.name));
        // The holder may have let go between the two calls, before it could see the marks: then nobody would
        // look at them until the next run that moves. Trying once more after marking closes that gap: either
        // the holder's release fails on the marks (it looks at them), or the lease is free now (this run does).
        if (!(await holdWriterLease(deps, run))) {
          deps.log.info(
            { pairs: pairs.map((p) => p.name) },
            'pairs left to the run holding the writer lease',
          );
          return { summaries: [], deferred: pairs.map((p) => p.name) };
        }
      }
    } catch (error) {
      deps.log.warn({ err: error }, 'writer lease unavailable; looking at the pairs here');
    }
  }
  const summaries = new Map<string, PairSummary>();
  try {
    let outcome = await reconcilePairs(deps, pairs, trigger, run);
    for (const summary of outcome.summaries) keep(summaries, summary);
    // A pair whose conditional write this run lost was stored by an overlapping run (or a resize) meanwhile:
    // look again from what is stored now, rather than leave the pair, or a move it needs, to the next run.
    // What this run observed seconds ago still holds; only the stored memory is read again.
    for (let again = 1; again <= CONFLICT_RETRIES && outcome.conflicted.length > 0; again++) {
      if (deps.clock.now() >= run.stopAt) break;
      const conflicted = outcome.conflicted;
      outcome = await reconcilePairs(
        deps,
        pairs.filter((p) => conflicted.includes(p.name)),
        trigger,
        run,
        outcome.observations,
      );
      for (const summary of outcome.summaries) keep(summaries, summary);
    }
    while (run.holding && deps.clock.now() < run.stopAt) {
      const marked = await run.store.takeMarkedPairs(run.owner);
      if (marked === undefined) {
        run.holding = false;
      } else if (marked.length === 0) {
        run.holding = !(await run.store.releaseWriterLease(run.owner, run.budget.level()));
      } else {
        await keepWriterLease(deps, run);
        const more = deps.config.pairs.filter((p) => marked.includes(p.name));
        for (const summary of (await reconcilePairs(deps, more, { kind: 'reconcile' }, run)).summaries) {
          keep(summaries, summary);
        }
      }
    }
  } finally {
    // Out of time with marks waiting (or a failure): the lease then runs out on its own within
    // WRITER_LEASE_MS, and whoever takes it next finds the marks.
    if (run.holding) await run.store.releaseWriterLease(run.owner, run.budget.level()).catch(() => false);
  }
  return { summaries: [...summaries.values()] };
}

/**
 * Keep a pair's latest summary of the run, except that a later look at a pair this run has already moved (it
 * was marked again meanwhile) does not hide the move: the move is what the run did for the pair.
 */
function keep(summaries: Map<string, PairSummary>, summary: PairSummary): void {
  const earlier = summaries.get(summary.pair);
  if (earlier?.moveStarted === true && summary.moveStarted !== true) return;
  summaries.set(summary.pair, summary);
}

/** How many times a run looks again at a pair whose conditional write it lost to an overlapping run. */
const CONFLICT_RETRIES = 2;

/**
 * Observe (unless `observed` has the pairs already), decide, store and act for the given pairs.
 * @returns each pair's summary, the pairs whose conditional write was lost (another run stored first), and
 *   what was observed
 */
async function reconcilePairs(
  deps: ControllerDeps,
  pairs: PairConfig[],
  trigger: Trigger,
  run: RunWrites,
  observed?: ReadonlyMap<string, PairObservation>,
): Promise<{
  readonly summaries: PairSummary[];
  readonly conflicted: string[];
  readonly observations: ReadonlyMap<string, PairObservation>;
}> {
  const { store } = run;
  const stored = await store.loadPairs(pairs.map((p) => p.name));
  const memories = new Map(pairs.map((p) => [p.name, storedOf(stored, p.name).memory]));
  const observations =
    observed !== undefined && pairs.every((p) => observed.has(p.name))
      ? observed
      : await observePairs(deps, pairs, memories, {
          urgent: trigger.kind === 'agent-report' || trigger.kind === 'instance-state-change',
          confirming: trigger.kind === 'agent-report',
        });
  const now = deps.clock.now();
  const command = commandOf(trigger);

  const decisions = pairs.map((pair) => {
    const current = storedOf(stored, pair.name);
    const observation = observations.get(pair.name) as PairObservation;
    const memory = firstRunMemory(current, observation);
    const decision = decide({
      pair,
      observation,
      memory,
      now,
      dryRun: deps.config.dryRun || pair.dryRun === true,
      ...(command !== undefined && { command }),
    });
    return { pair, current, memory, observation, decision };
  });
  const log = (d: (typeof decisions)[number], message: string) =>
    deps.log.info(
      {
        pair: d.pair.name,
        trigger: trigger.kind,
        observed: d.observation,
        memory: d.memory,
        plan: d.decision.plan,
        alarms: d.decision.alarms,
        dryRun: d.decision.dryRun,
      },
      message,
    );

  // An operator command that is refused touches nothing, for any pair: its answer is the refusal.
  const refused = decisions.find((d) => d.decision.refusal !== undefined);
  if (refused) {
    for (const d of decisions) log(d, 'decision');
    return {
      summaries: decisions.map((d) => ({
        ...summaryOf(d.pair, d.decision),
        active: d.memory.active,
        ...(d.decision.refusal !== undefined && { refused: d.decision.refusal }),
      })),
      conflicted: [],
      observations,
    };
  }

  // Moves need the writer lease, so that overlapping runs do not each spend the account's write budget. A run
  // that cannot have it marks its moving pairs for the holder and leaves them alone. An operator's command
  // (one pair, a few writes: a failover, or a resume that lets a held move go) is carried out at once.
  const moving = decisions.filter((d) => !d.decision.dryRun && isMove(d.decision.plan));
  let deferred = false;
  if (moving.length > 0 && !run.holding && !isOperator(trigger)) {
    try {
      deferred = !(await holdWriterLease(deps, run));
      if (deferred) await store.markPairs(moving.map((d) => d.pair.name));
    } catch (error) {
      // Coordination failing must not hold a move back: write on this run's own budget.
      deps.log.warn({ err: error }, 'writer lease unavailable; writing without it');
      deferred = false;
    }
  }
  const isDeferred = (d: (typeof decisions)[number]) => deferred && moving.includes(d);
  for (const d of decisions) log(d, isDeferred(d) ? 'decision deferred to the writer' : 'decision');

  // Every intent is stored before any route is written, so the write budget goes to the most urgent moves of
  // the whole run rather than to whichever pair's save came back first. Observing may have taken a while.
  await keepWriterLease(deps, run);
  const intents = await Promise.all(
    decisions.map((d) =>
      isDeferred(d)
        ? deferredIntent(d.pair, d.memory, d.decision)
        : storeIntent(deps, store, d.pair, d.current, d.memory, d.decision, now, {
            operator: holdRecord(trigger, d.memory, d.decision, now),
            alarms: alarmRecord(d.memory, d.decision),
          }),
    ),
  );
  const results = actAll(
    deps,
    intents.flatMap((i) =>
      i.record !== undefined && isMove(i.decision.plan)
        ? [{ pair: i.pair, plan: i.decision.plan, priority: writePriority(i.decision) }]
        : [],
    ),
    { stopAt: run.stopAt, budget: run.budget, afterWrite: () => keepWriterLease(deps, run) },
  );
  return {
    summaries: await Promise.all(
      intents.map((i) =>
        finish(deps, store, i, results.get(i.pair.name), isOperator(trigger) ? trigger.kind : undefined),
      ),
    ),
    conflicted: intents.filter((i) => i.superseded !== undefined).map((i) => i.pair.name),
    observations,
  };
}

/**
 * The history record of a pause or resume command: the hold it set (and the one it replaced), or the hold it
 * lifted; none for a resume of a pair that was not paused (nothing changed).
 */
function holdRecord(
  trigger: Trigger,
  before: PairMemory,
  decision: Decision,
  now: number,
): Record<string, unknown> | undefined {
  const previous = pauseInForce(before, now);
  const by = trigger.kind === 'pause' || trigger.kind === 'resume' ? trigger.by : undefined;
  const common = { ...(by !== undefined && { by }), ...(previous !== undefined && { previous }) };
  if (trigger.kind === 'pause' && decision.memory.pause !== undefined) {
    const { until, reason } = decision.memory.pause;
    return { event: 'pause', until, reason, ...common };
  }
  if (trigger.kind === 'resume' && previous !== undefined) return { event: 'resume', ...common };
  return undefined;
}

/**
 * The history record of the alarms an evaluation raised or cleared: the kinds it raises that the stored memory
 * did not (each with its detail), and the stored kinds it no longer raises. None when the kinds are the same,
 * so a pair steadily healthy or steadily alarmed records nothing. A dry run's alarms are recorded too.
 */
function alarmRecord(before: PairMemory, decision: Decision): Record<string, unknown> | undefined {
  const was = new Set(before.alarms ?? []);
  const is = new Set(decision.memory.alarms ?? []);
  const raised = decision.alarms.filter((alarm) => !was.has(alarm.kind));
  const cleared = [...was].filter((kind) => !is.has(kind));
  if (raised.length === 0 && cleared.length === 0) return undefined;
  return {
    event: 'alarm',
    raised: raised.map(({ kind, detail }) => ({ kind, detail })),
    cleared,
    ...(decision.dryRun && { dryRun: true }),
  };
}

/** A move left to the writer lease's holder: nothing stored, nothing written. */
const deferredIntent = (pair: PairConfig, memoryBefore: PairMemory, decision: Decision): Promise<Intent> =>
  Promise.resolve({ pair, decision, memoryBefore, problems: [], deferred: true });

/** A pair's decision once its intent is stored (or storing it failed). */
interface Intent {
  readonly pair: PairConfig;
  readonly decision: Decision;
  readonly memoryBefore: PairMemory;
  /** the history record stored with a move's intent; present exactly when the move is to be carried out */
  readonly record?: PendingHistory;
  /** problems that did not stop the pair's run */
  readonly problems: readonly string[];
  /** why the intent could not be stored: nothing is written for the pair */
  readonly error?: string;
  /**
   * Another writer (an overlapping run, the resize workflow's lease) stored the pair first: nothing is written
   * and this run decides again from what it stored (reconcileAll), up to CONFLICT_RETRIES times, after that the
   * next run does. Not a failure: nobody needs to be told.
   */
  readonly superseded?: string;
  /** the move is left to the run holding the writer lease */
  readonly deferred?: boolean;
}

/**
 * Store the pair's intent: the conditional write of its memory is the run's right to act, and a move's history
 * record goes into the same write, so the record of a route change exists before the change. So do the
 * evaluation's other records (an operator's pause or resume before the move, the alarms raised or cleared
 * after it, in that order), copied out at once. A run that loses the conditional write stores none of them and
 * decides again from what the winner stored, so each change is recorded once however often the write is
 * retried. History that an earlier run stored that way but could not copy to its own item is copied first.
 */
async function storeIntent(
  deps: ControllerDeps,
  store: StateStore,
  pair: PairConfig,
  current: LoadedPair,
  memoryBefore: PairMemory,
  decision: Decision,
  now: number,
  records: { readonly operator?: Record<string, unknown>; readonly alarms?: Record<string, unknown> },
): Promise<Intent> {
  const { plan } = decision;
  const problems: string[] = [];
  let leftovers = current.unrecorded ?? [];
  if (leftovers.length > 0) {
    const failed = await store.recordHistory(pair.name, leftovers);
    leftovers = failed.map((f) => f.entry);
    if (failed.length > 0) problems.push(historyProblem(failed.length, failed[0]?.error));
  }
  const move =
    decision.dryRun || !isMove(plan)
      ? undefined
      : {
          plan: plan.kind,
          ...(plan.kind === 'repair-routes' ? {} : { trigger: plan.trigger }),
          from: plan.from,
          to: plan.to,
          reasons: plan.reasons,
          routesPlanned: plan.routes.length,
          activeBefore: memoryBefore.active,
        };
  const made = pendingHistories(
    now,
    [records.operator, move, records.alarms].filter((r) => r !== undefined),
  );
  const record = made.find((entry) => entry.record === move);
  const others = made.filter((entry) => entry !== record);
  const copyOthers = async () => {
    if (others.length === 0) return;
    const failed = await store.recordHistory(pair.name, others);
    if (failed.length > 0) problems.push(historyProblem(failed.length, failed[0]?.error));
  };
  try {
    if (made.length > 0) {
      await store.savePair(pair.name, current.version, decision.memory, {
        unrecorded: [...leftovers, ...made],
      });
      await copyOthers();
    } else if (!sameMemory(decision.memory, current.memory) || current.version === 0) {
      await store.savePair(pair.name, current.version, decision.memory);
    }
    if (record === undefined || !isMove(plan)) return { pair, decision, memoryBefore, problems };
    // The decision is now this run's to carry out (a run that loses the conditional write never gets here).
    deps.log.info({ pair: pair.name, plan: plan.kind, from: plan.from, to: plan.to }, 'intent stored');
    return { pair, decision, memoryBefore, record, problems };
  } catch (error) {
    if (error instanceof ConflictError) {
      const superseded = `state changed under us (another run or a resize stored the pair first); nothing written: ${error.message}`;
      deps.log.info({ pair: pair.name, err: error }, 'pair superseded');
      return { pair, decision, memoryBefore, problems, superseded };
    }
    deps.log.error({ pair: pair.name, err: error }, 'pair run failed');
    return { pair, decision, memoryBefore, problems, error: (error as Error).message };
  }
}

/** Wait for the pair's writes, copy its history record out with the outcome, and summarise. */
async function finish(
  deps: ControllerDeps,
  store: StateStore,
  intent: Intent,
  acting: Promise<ActResult> | undefined,
  command: OperatorTrigger['kind'] | undefined,
): Promise<PairSummary> {
  const { pair, decision, record } = intent;
  const { plan } = decision;
  const base = summaryOf(pair, decision);
  const withProblems = (summary: PairSummary, problems: readonly string[]): PairSummary =>
    problems.length > 0 ? { ...summary, error: problems.join('; ') } : summary;
  // Nothing was stored: the pair is as it was, with the pause it had.
  const { pause: _decided, ...decided } = base;
  const before = pauseInForce(intent.memoryBefore, deps.clock.now());
  const unchanged = {
    ...decided,
    active: intent.memoryBefore.active,
    alarms: [
      ...base.alarms.filter((alarm) => alarm.kind !== 'paused'),
      ...(before !== undefined ? [pausedAlarm(before)] : []),
    ],
    ...(before !== undefined && { pause: before }),
  };
  if (intent.deferred) return { ...unchanged, deferred: true };
  if (intent.superseded !== undefined) {
    // An operator's command that could not be stored was not carried out: the operator must hear it.
    const notDone = command === undefined ? [] : [`the ${command} was not carried out; try again`];
    return withProblems({ ...unchanged, reasons: [...base.reasons, intent.superseded] }, [
      ...notDone,
      ...intent.problems,
    ]);
  }
  if (intent.error !== undefined) {
    return { ...unchanged, error: [intent.error, ...intent.problems].join('; ') };
  }
  if (record === undefined || acting === undefined || !isMove(plan))
    return withProblems(base, intent.problems);

  const moving = {
    ...base,
    active: plan.to,
    ...(plan.kind === 'repair-routes' ? {} : { moveStarted: true }),
  };
  try {
    const result = await acting;
    const failed = await store.recordHistory(pair.name, [
      {
        ...record,
        record: {
          ...record.record,
          routesChanged: result.routesChanged,
          elasticIpMoved: result.elasticIpMoved,
          failures: result.failures,
          unconfirmed: result.unconfirmed.length,
        },
      },
    ]);
    const problems = [
      ...intent.problems,
      ...(result.failures.length > 0
        ? [
            `${countOf(result.failures.length, 'write')} failed, the next run repairs them: ${result.failures.join('; ')}`,
          ]
        : []),
      ...(result.unconfirmed.length > 0
        ? [`${countOf(result.unconfirmed.length, 'route')} not confirmed yet`]
        : []),
      ...(failed.length > 0 ? [historyProblem(failed.length, failed[0]?.error)] : []),
    ];
    return withProblems(
      { ...moving, routesChanged: result.routesChanged, elasticIpMoved: result.elasticIpMoved },
      problems,
    );
  } catch (error) {
    deps.log.error({ pair: pair.name, err: error }, 'pair run failed');
    return { ...moving, error: [(error as Error).message, ...intent.problems].join('; ') };
  }
}

const historyProblem = (count: number, error: Error | undefined): string =>
  `${countOf(count, 'history record')} not copied to the history yet (kept on the pair item; the next run copies them): ${error?.message ?? 'unknown error'}`;

function storedOf(stored: ReadonlyMap<string, LoadedPair>, name: string): LoadedPair {
  const found = stored.get(name);
  if (!found) throw new Error(`state store returned nothing for pair ${name}`);
  return found;
}

/** On a pair's very first run, adopt where the routes point now, so that deploying never moves traffic. */
function firstRunMemory(current: StoredPair, observation: PairObservation): PairMemory {
  return current.version === 0 ? { ...current.memory, active: inferActive(observation) } : current.memory;
}

function sameMemory(a: PairMemory, b: PairMemory): boolean {
  const { lease: _a, ...left } = a;
  const { lease: _b, ...right } = b;
  return JSON.stringify(sorted(left)) === JSON.stringify(sorted(right));
}

function sorted(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sorted);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .sort(([x], [y]) => x.localeCompare(y))
        .map(([k, v]) => [k, sorted(v)]),
    );
  }
  return value;
}

function summaryOf(pair: PairConfig, decision: Decision): PairSummary {
  const { plan } = decision;
  const members = Object.fromEntries(
    ROLES.map((role): [Role, MemberSummary] => {
      const verdict = decision.verdicts[role];
      const signals = Object.fromEntries(
        Object.entries(verdict.signals).map(([name, s]) => [name, s.health]),
      );
      return [role, { health: verdict.health, reason: verdict.reason, signals }];
    }),
  ) as Record<Role, MemberSummary>;
  const recheck = recheckAfterMs(pair, decision);
  return {
    pair: pair.name,
    plan: plan.kind,
    ...(plan.kind === 'failover' || plan.kind === 'failback' ? { trigger: plan.trigger } : {}),
    ...(isMove(plan) ? { from: plan.from, to: plan.to } : {}),
    active: decision.memory.active,
    reasons: plan.reasons,
    alarms: decision.alarms,
    routesChanged: [],
    elasticIpMoved: false,
    dryRun: decision.dryRun,
    members,
    ...(decision.memory.pause !== undefined ? { pause: decision.memory.pause } : {}),
    ...(recheck !== undefined ? { recheckAfterMs: recheck } : {}),
  };
}
