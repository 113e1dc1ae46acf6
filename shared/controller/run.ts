import { randomUUID } from 'node:crypto';
import type { LoadedPair } from '../aws/state-item.ts';
import { StateStore } from '../aws/state-store.ts';
import { TokenBucket } from '../concurrency.ts';
import type { PairConfig } from '../config/schema.ts';
import { decide, inferActive } from '../decide/decide.ts';
import { writePriority } from '../decide/priority.ts';
import { isMove } from '../domain/plan.ts';
import type { PairMemory, PairObservation, StoredPair } from '../domain/types.ts';
import { actAll, EC2_WRITE_BUCKET } from './act.ts';
import { alarmRecord, deferredIntent, finish, holdRecord, storeIntent, summaryOf } from './intent.ts';
import { observePairs } from './observe.ts';
import { controllerTimeoutSeconds, OUTCOME_ROOM_MS } from './timing.ts';
import { commandOf, isOperator, selectPairs, unknownPair } from './triggers.ts';
import type { ControllerDeps, PairSummary, RunSummary, Trigger } from './types.ts';
import { holdWriterLease, keepWriterLease, type RunWrites } from './writer-lease.ts';

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

function storedOf(stored: ReadonlyMap<string, LoadedPair>, name: string): LoadedPair {
  const found = stored.get(name);
  if (!found) throw new Error(`state store returned nothing for pair ${name}`);
  return found;
}

/** On a pair's very first run, adopt where the routes point now, so that deploying never moves traffic. */
function firstRunMemory(current: StoredPair, observation: PairObservation): PairMemory {
  return current.version === 0 ? { ...current.memory, active: inferActive(observation) } : current.memory;
}
