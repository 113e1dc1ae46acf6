import type { LoadedPair, PendingHistory } from '../aws/state-item.ts';
import { pendingHistories, type StateStore } from '../aws/state-store.ts';
import type { PairConfig } from '../config/schema.ts';
import { pausedAlarm, pauseInForce } from '../decide/decide.ts';
import { recheckAfterMs } from '../decide/recheck.ts';
import type { Decision } from '../domain/plan.ts';
import { isMove } from '../domain/plan.ts';
import type { PairMemory, Role } from '../domain/types.ts';
import { ROLES } from '../domain/types.ts';
import { ConflictError } from '../errors.ts';
import { countOf } from '../plural.ts';
import type { ActResult } from './act.ts';
import type { ControllerDeps, MemberSummary, OperatorTrigger, PairSummary, Trigger } from './types.ts';

/**
 * A pair's decision from stored intent to summary: the conditional write of its memory with the history
 * records of what it is about to do, and, once its writes are done, the records completed and the pair's
 * summary of the run.
 */

/**
 * The history record of a pause or resume command: the hold it set (and the one it replaced), or the hold it
 * lifted; none for a resume of a pair that was not paused (nothing changed).
 */
export function holdRecord(
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
export function alarmRecord(before: PairMemory, decision: Decision): Record<string, unknown> | undefined {
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
export const deferredIntent = (
  pair: PairConfig,
  memoryBefore: PairMemory,
  decision: Decision,
): Promise<Intent> => Promise.resolve({ pair, decision, memoryBefore, problems: [], deferred: true });

/** A pair's decision once its intent is stored (or storing it failed). */
export interface Intent {
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
export async function storeIntent(
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
export async function finish(
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

/** Two memories are the same, the lease aside (the lease methods write it, never the controller). */
function sameMemory(a: PairMemory, b: PairMemory): boolean {
  const { lease: _a, ...left } = a;
  const { lease: _b, ...right } = b;
  return JSON.stringify(sorted(left)) === JSON.stringify(sorted(right));
}

/** The value with its object keys in order and undefined values dropped, for comparing as JSON. */
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

/** The pair's summary of the run as its decision has it, before anything is written. */
export function summaryOf(pair: PairConfig, decision: Decision): PairSummary {
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
