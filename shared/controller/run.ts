import { randomUUID } from 'node:crypto';
import { type LoadedPair, type PendingHistory, pendingHistory, StateStore } from '../aws/state-store.ts';
import { TokenBucket } from '../concurrency.ts';
import type { Config, PairConfig } from '../config/schema.ts';
import { decide, inferActive } from '../decide/decide.ts';
import type { Decision } from '../domain/plan.ts';
import { isMove } from '../domain/plan.ts';
import type { PairMemory, PairObservation, Role, StoredPair } from '../domain/types.ts';
import { ROLES } from '../domain/types.ts';
import { BadEventError, ConflictError, UnhealthyTargetError } from '../errors.ts';
import { type ActResult, actAll, EC2_WRITE_BUCKET, writePriority } from './act.ts';
import { observePairs } from './observe.ts';
import type { ControllerDeps, MemberSummary, PairSummary, RunSummary, Trigger } from './types.ts';

/**
 * One reconcile: choose the pairs the trigger names, observe them all at once, decide each (pure), store the
 * intent, act, record history. Level-triggered: the trigger only selects pairs; decisions use fresh state.
 * Route writes of all pairs share one write budget paced to EC2's mutating bucket, and one run at a time (the
 * writer lease's holder) spends it; overlapping runs leave their moves to the holder.
 */
export async function runController(deps: ControllerDeps, trigger: Trigger): Promise<RunSummary> {
  const startedAt = deps.clock.now();
  const deadline = deps.deadline ?? startedAt + controllerTimeoutSeconds(deps.config) * 1000;
  const pairs = selectPairs(deps, trigger);
  const outcome = pairs.length === 0 ? { summaries: [] } : await reconcileAll(deps, pairs, trigger, deadline);
  return {
    trigger: trigger.kind,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: deps.clock.now() - startedAt,
    pairs: outcome.summaries,
    ...(outcome.deferred ? { deferred: outcome.deferred } : {}),
  };
}

/** Lambda's maximum timeout (https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html). */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/** Time a run keeps after its last route write to read the routes back and store the outcome. */
export const OUTCOME_ROOM_MS = 10_000;

/**
 * The controller Lambda's timeout, in seconds. In fast mode one invocation keeps probing until shortly before
 * the next schedule, so it may run for up to a schedule period; 30 s on top covers the last evaluation.
 * Otherwise one evaluation is a probe (at most controller.probeTimeout) plus reads and writes: 60 s, or
 * probeTimeout + 30 s if longer. When every managed route (and Elastic IP) of the configuration may have to
 * move at once (a zone-wide loss) and that is more than EC2's burst of mutating calls, the invocation also
 * needs the time to write the rest at EC2's refill rate, plus the room to store the outcome; that part stops
 * at Lambda's maximum of 900 s. Beyond it, the writes that do not fit are left to the next invocation, which
 * finds those routes still on the lost member and repairs them first.
 */
export function controllerTimeoutSeconds(config: Config): number {
  const { schedule, fastMode, probeTimeout } = config.controller;
  const base = fastMode.enabled ? schedule + 30 : Math.max(60, probeTimeout + 30);
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

/** Room a fast-mode loop leaves at the end of its period besides one probe, so it ends before the next one. */
export const FAST_MODE_MARGIN_MS = 5_000;

/**
 * Until when a fast-mode invocation starting at `startMs` keeps starting runs: the schedule period (or the time
 * the Lambda has left, if shorter) minus one probe timeout and a margin, so the loop ends before the next
 * scheduled invocation (reserved concurrency 1 would otherwise throttle it).
 */
export function fastModeDeadline(
  controller: Config['controller'],
  startMs: number,
  remainingMs: number,
): number {
  const budget = Math.min(controller.schedule * 1000, remainingMs);
  return startMs + budget - controller.probeTimeout * 1000 - FAST_MODE_MARGIN_MS;
}

/**
 * Fast mode: re-run the scheduled reconcile every `intervalMs` until `untilMs`, so detection is not bound to
 * the one-minute schedule (aws-facts.md section 7: Scheduler's minimum rate is one minute). Waiting is on the
 * injected clock.
 */
export async function runFastMode(
  deps: ControllerDeps,
  options: { readonly untilMs: number; readonly intervalMs: number },
): Promise<RunSummary[]> {
  const runs: RunSummary[] = [];
  // Every run of the loop shares the invocation's deadline.
  const invocation: ControllerDeps = {
    ...deps,
    deadline: deps.deadline ?? deps.clock.now() + controllerTimeoutSeconds(deps.config) * 1000,
  };
  for (;;) {
    const started = deps.clock.now();
    runs.push(await runController(invocation, { kind: 'schedule' }));
    const next = started + options.intervalMs;
    if (next >= options.untilMs) return runs;
    await deps.clock.sleep(Math.max(0, next - deps.clock.now()));
  }
}

/** EC2 instance states in which a member carries no traffic (or soon will not). */
const LEAVING_STATES: ReadonlySet<string> = new Set(['stopping', 'stopped', 'shutting-down', 'terminated']);

/** The pairs a trigger asks about. Unknown pairs named by an operator are an error; unknown instances are not. */
function selectPairs(deps: ControllerDeps, trigger: Trigger): PairConfig[] {
  const all = deps.config.pairs;
  switch (trigger.kind) {
    case 'schedule':
      return [...all];
    case 'reconcile':
    case 'failover': {
      if (trigger.pair === undefined) return [...all];
      const pair = all.find((p) => p.name === trigger.pair);
      if (!pair) {
        throw new BadEventError(
          `unknown pair "${trigger.pair}" (configured: ${all.map((p) => p.name).join(', ')})`,
        );
      }
      return [pair];
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
  // Events come in bursts when many instances fail together (one EC2 event per instance). An event's run takes
  // the writer lease before it looks at anything; while another run holds it, the event's run only marks its
  // pairs for that run, which looks at them before it lets go: a burst costs one write each, not one look at
  // the fleet each.
  if (trigger.kind === 'instance-state-change' || trigger.kind === 'alarm') {
    try {
      if (!(await holdWriterLease(deps, run))) {
        await run.store.markPairs(pairs.map((p) => p.name));
        deps.log.info({ pairs: pairs.map((p) => p.name) }, 'pairs left to the run holding the writer lease');
        return { summaries: [], deferred: pairs.map((p) => p.name) };
      }
    } catch (error) {
      deps.log.warn({ err: error }, 'writer lease unavailable; looking at the pairs here');
    }
  }
  const summaries = new Map<string, PairSummary>();
  try {
    for (const summary of await reconcilePairs(deps, pairs, trigger, run))
      summaries.set(summary.pair, summary);
    while (run.holding && deps.clock.now() < run.stopAt) {
      const marked = await run.store.takeMarkedPairs(run.owner);
      if (marked === undefined) {
        run.holding = false;
      } else if (marked.length === 0) {
        run.holding = !(await run.store.releaseWriterLease(run.owner, run.budget.level()));
      } else {
        await keepWriterLease(deps, run);
        const more = deps.config.pairs.filter((p) => marked.includes(p.name));
        for (const summary of await reconcilePairs(deps, more, { kind: 'reconcile' }, run)) {
          summaries.set(summary.pair, summary);
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

async function reconcilePairs(
  deps: ControllerDeps,
  pairs: PairConfig[],
  trigger: Trigger,
  run: RunWrites,
): Promise<PairSummary[]> {
  const { store } = run;
  const stored = await store.loadPairs(pairs.map((p) => p.name));
  const memories = new Map(pairs.map((p) => [p.name, storedOf(stored, p.name).memory]));
  const observations = await observePairs(deps, pairs, memories);
  const now = deps.clock.now();

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
      ...(trigger.kind === 'failover'
        ? { command: { action: 'failover', to: trigger.to, force: trigger.force } }
        : {}),
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

  // An operator command that is refused touches nothing, for any pair.
  const refused = decisions.find((d) => d.decision.refusal !== undefined);
  if (refused) {
    for (const d of decisions) log(d, 'decision');
    throw new UnhealthyTargetError(refused.decision.refusal as string);
  }

  // Moves need the writer lease, so that overlapping runs do not each spend the account's write budget. A run
  // that cannot have it marks its moving pairs for the holder and leaves them alone. An operator's command
  // (one pair, a few writes) is carried out at once.
  const moving = decisions.filter((d) => !d.decision.dryRun && isMove(d.decision.plan));
  let deferred = false;
  if (moving.length > 0 && !run.holding && trigger.kind !== 'failover') {
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
        : storeIntent(deps, store, d.pair, d.current, d.memory, d.decision, now),
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
  return Promise.all(intents.map((i) => finish(deps, store, i, results.get(i.pair.name))));
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
   * and the next run decides again from what it stored. Not a failure: nobody needs to be told.
   */
  readonly superseded?: string;
  /** the move is left to the run holding the writer lease */
  readonly deferred?: boolean;
}

/**
 * Store the pair's intent: the conditional write of its memory is the run's right to act, and a move's history
 * record goes into the same write, so the record of a route change exists before the change. History that an
 * earlier run stored that way but could not copy to its own item is copied first.
 */
async function storeIntent(
  deps: ControllerDeps,
  store: StateStore,
  pair: PairConfig,
  current: LoadedPair,
  memoryBefore: PairMemory,
  decision: Decision,
  now: number,
): Promise<Intent> {
  const { plan } = decision;
  const problems: string[] = [];
  let leftovers = current.unrecorded ?? [];
  if (leftovers.length > 0) {
    const failed = await store.recordHistory(pair.name, leftovers);
    leftovers = failed.map((f) => f.entry);
    if (failed.length > 0) problems.push(historyProblem(failed.length, failed[0]?.error));
  }
  try {
    if (decision.dryRun || !isMove(plan)) {
      if (!sameMemory(decision.memory, current.memory) || current.version === 0) {
        await store.savePair(pair.name, current.version, decision.memory);
      }
      return { pair, decision, memoryBefore, problems };
    }
    const record = pendingHistory(now, {
      plan: plan.kind,
      ...(plan.kind === 'repair-routes' ? {} : { trigger: plan.trigger }),
      from: plan.from,
      to: plan.to,
      reasons: plan.reasons,
      routesPlanned: plan.routes.length,
      activeBefore: memoryBefore.active,
    });
    await store.savePair(pair.name, current.version, decision.memory, { unrecorded: [...leftovers, record] });
    // The decision is now this run's to carry out (a run that loses the conditional write never gets here).
    deps.log.info({ pair: pair.name, plan: plan.kind, from: plan.from, to: plan.to }, 'intent stored');
    return { pair, decision, memoryBefore, record, problems };
  } catch (error) {
    if (error instanceof ConflictError) {
      const superseded = `state changed under us (another run or a resize stored the pair first); nothing written, the next run decides again: ${error.message}`;
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
): Promise<PairSummary> {
  const { pair, decision, record } = intent;
  const { plan } = decision;
  const base = summaryOf(pair.name, decision);
  const withProblems = (summary: PairSummary, problems: readonly string[]): PairSummary =>
    problems.length > 0 ? { ...summary, error: problems.join('; ') } : summary;
  if (intent.deferred) return { ...base, active: intent.memoryBefore.active, deferred: true };
  if (intent.superseded !== undefined) {
    return withProblems(
      { ...base, active: intent.memoryBefore.active, reasons: [...base.reasons, intent.superseded] },
      intent.problems,
    );
  }
  if (intent.error !== undefined) {
    return {
      ...base,
      active: intent.memoryBefore.active,
      error: [intent.error, ...intent.problems].join('; '),
    };
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
            `${result.failures.length} write(s) failed, the next run repairs them: ${result.failures.join('; ')}`,
          ]
        : []),
      ...(result.unconfirmed.length > 0 ? [`${result.unconfirmed.length} route(s) not confirmed yet`] : []),
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
  `${count} history record(s) not copied to the history yet (kept on the pair item; the next run copies them): ${error?.message ?? 'unknown error'}`;

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

function summaryOf(pair: string, decision: Decision): PairSummary {
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
  return {
    pair,
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
  };
}
