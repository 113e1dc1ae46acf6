import { StateStore } from '../aws/state-store.ts';
import type { Config, PairConfig } from '../config/schema.ts';
import { decide, inferActive } from '../decide/decide.ts';
import type { Decision } from '../domain/plan.ts';
import { isMove } from '../domain/plan.ts';
import type { PairMemory, PairObservation, Role, StoredPair } from '../domain/types.ts';
import { ROLES } from '../domain/types.ts';
import { BadEventError, ConflictError, UnhealthyTargetError } from '../errors.ts';
import { act } from './act.ts';
import { observePairs } from './observe.ts';
import type { ControllerDeps, MemberSummary, PairSummary, RunSummary, Trigger } from './types.ts';

/**
 * One reconcile: choose the pairs the trigger names, observe them all at once, decide each (pure), store the
 * intent, act, record history. Level-triggered: the trigger only selects pairs; decisions use fresh state.
 */
export async function runController(deps: ControllerDeps, trigger: Trigger): Promise<RunSummary> {
  const startedAt = deps.clock.now();
  const pairs = selectPairs(deps, trigger);
  const summaries = pairs.length === 0 ? [] : await reconcilePairs(deps, pairs, trigger);
  return {
    trigger: trigger.kind,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: deps.clock.now() - startedAt,
    pairs: summaries,
  };
}

/**
 * The controller Lambda's timeout, in seconds. In fast mode one invocation keeps probing until shortly before
 * the next schedule, so it may run for up to a schedule period; 30 s on top covers the last evaluation.
 * Otherwise one evaluation is a probe (at most controller.probeTimeout) plus reads and writes: 60 s, or
 * probeTimeout + 30 s if longer.
 */
export function controllerTimeoutSeconds(config: Config): number {
  const { schedule, fastMode, probeTimeout } = config.controller;
  return fastMode.enabled ? schedule + 30 : Math.max(60, probeTimeout + 30);
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
  for (;;) {
    const started = deps.clock.now();
    runs.push(await runController(deps, { kind: 'schedule' }));
    const next = started + options.intervalMs;
    if (next >= options.untilMs) return runs;
    await deps.clock.sleep(Math.max(0, next - deps.clock.now()));
  }
}

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
      if (!pair)
        deps.log.info({ instanceId: trigger.instanceId }, 'state change of an unmanaged instance ignored');
      return pair ? [pair] : [];
    }
    case 'alarm': {
      // The product's pair alarms are named "<deployment>.pair.<pair>.<kind>" (infra/telemetry.ts alarmName);
      // any other alarm means "look at everything".
      const pair = all.find((p) => trigger.alarmName.includes(`.pair.${p.name}.`));
      return pair ? [pair] : [...all];
    }
  }
}

async function reconcilePairs(
  deps: ControllerDeps,
  pairs: PairConfig[],
  trigger: Trigger,
): Promise<PairSummary[]> {
  const store = new StateStore({ dynamo: deps.clients.dynamo, tableName: deps.tableName, clock: deps.clock });
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
    deps.log.info(
      {
        pair: pair.name,
        trigger: trigger.kind,
        observed: observation,
        memory,
        plan: decision.plan,
        alarms: decision.alarms,
        dryRun: decision.dryRun,
      },
      'decision',
    );
    return { pair, current, memory, decision };
  });

  // An operator command that is refused touches nothing, for any pair.
  const refused = decisions.find((d) => d.decision.refusal !== undefined);
  if (refused) throw new UnhealthyTargetError(refused.decision.refusal as string);

  return Promise.all(decisions.map((d) => carryOut(deps, store, d.pair, d.current, d.memory, d.decision)));
}

/** Store the intent first (the conditional write is our right to act), then act, then record history. */
async function carryOut(
  deps: ControllerDeps,
  store: StateStore,
  pair: PairConfig,
  current: StoredPair,
  memoryBefore: PairMemory,
  decision: Decision,
): Promise<PairSummary> {
  const { plan } = decision;
  const base = summaryOf(pair.name, decision);
  try {
    if (decision.dryRun || !isMove(plan)) {
      if (!sameMemory(decision.memory, current.memory) || current.version === 0) {
        await store.savePair(pair.name, current.version, decision.memory);
      }
      return base;
    }
    await store.savePair(pair.name, current.version, decision.memory);
    const result = await act(deps, pair, plan);
    const now = deps.clock.now();
    await store.appendHistory(pair.name, now, {
      plan: plan.kind,
      ...(plan.kind === 'repair-routes' ? {} : { trigger: plan.trigger }),
      from: plan.from,
      to: plan.to,
      reasons: plan.reasons,
      routesChanged: result.routesChanged,
      elasticIpMoved: result.elasticIpMoved,
      failures: result.failures,
      unconfirmed: result.unconfirmed.length,
      activeBefore: memoryBefore.active,
    });
    const problems = [
      ...(result.failures.length > 0
        ? [
            `${result.failures.length} write(s) failed, the next run repairs them: ${result.failures.join('; ')}`,
          ]
        : []),
      ...(result.unconfirmed.length > 0 ? [`${result.unconfirmed.length} route(s) not confirmed yet`] : []),
    ];
    return {
      ...base,
      routesChanged: result.routesChanged,
      elasticIpMoved: result.elasticIpMoved,
      ...(problems.length > 0 ? { error: problems.join('; ') } : {}),
    };
  } catch (error) {
    const message =
      error instanceof ConflictError
        ? `state changed under us (another run or a resize holds the pair); nothing written: ${error.message}`
        : (error as Error).message;
    deps.log.error({ pair: pair.name, err: error }, 'pair run failed');
    return { ...base, active: memoryBefore.active, error: message };
  }
}

function storedOf(stored: ReadonlyMap<string, StoredPair>, name: string): StoredPair {
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
