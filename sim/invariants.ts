import type { Config, PairConfig } from '../shared/config/schema.ts';
import { CONFIRM_DELAYS_MS, ROUTE_WRITE_CONCURRENCY } from '../shared/controller/act.ts';
import { controllerTimeoutSeconds, fastModeDeadline } from '../shared/controller/run.ts';
import type { Role } from '../shared/domain/types.ts';
import { otherRole, ROLES } from '../shared/domain/types.ts';
import type { GroundTruth, MemberState, RecordedRun } from './ground-truth.ts';
import type { LatencyModel } from './latency.ts';
import type { RouteOwner, SimEvent, SimulateOutput } from './output.ts';
import type { Scenario } from './scenario.ts';

/**
 * The controller's safety and liveness invariants, judged on one recorded scenario run (sim/ground-truth.ts):
 * the event log the controller's decisions produced, against what really happened in the model. Pure
 * functions; all times are virtual seconds since the scenario start.
 *
 * "Healthy" is defined as the controller could know it, signal by signal, from the model:
 * - instance: the state EC2 reports (running) and the status checks as EC2 shows them (ok, not initializing;
 *   they lag the real fault by one to two minutes, aws-facts §1), and no scheduled retirement pending;
 * - daemon probe: what the probe script reports when it runs (systemd: the daemon unit active;
 *   strongswan/libreswan: the tunnel's SAs established), which needs the SSM agent online (aws-facts §4);
 * - tunnel metric: the tunnel state the instance published, seen after the publication delay (aws-facts §5).
 * A member is "observably healthy" once all of that has held for long enough that every configured signal
 * reads healthy (`settling` below), and "observably hard-down" while EC2 shows it not running or with an
 * impaired status check. The model's history starts before the scenario does (sim/ground-truth.ts), since
 * signals can still show the steady state the account was created in.
 *
 * Timing bounds (see `timingOf`), with the default latency model (sim/latency.ts):
 * - run: one controller run without throttling = observe + act + confirm + Lambda start, where observe is
 *   the probe deadline (controller.probeTimeout) plus three read round trips, act is the route writes in
 *   rounds of 8 (shared/controller/act.ts ROUTE_WRITE_CONCURRENCY) plus the Elastic IP, and confirm is the
 *   read-back's 3.5 s of pauses (act.ts CONFIRM_DELAYS_MS) plus four reads;
 * - gap: the longest wait between the starts of two scheduled evaluations: the schedule period P plus the
 *   Scheduler's and Lambda's start delays; in fast mode max(interval, P - K x interval) plus the same delays,
 *   where K x interval is the last loop start before P - probeTimeout - margin (functions/controller/handler.ts);
 * - evaluation = max(gap, run): the next evaluation starts at most this long after any instant (one may be in
 *   progress, and the one queued behind it starts when it ends; reserved concurrency 1);
 * - a throttling window that overlaps a bound extends it by the overlap plus one run and 15 s of SDK retries
 *   (standard mode: 3 attempts, throttling backoff up to 1 s then 2 s, aws-facts §3); a controller crash or
 *   Lambda timeout extends it by one evaluation plus one run.
 * For the example pair (4 routes, probeTimeout 20 s) on the 1-minute schedule: observe 21.75 s, act 0.7 s,
 * run 27.1 s, gap = evaluation 60.95 s, so the hard-loss bound (invariant 1) is 110.5 s and the convergence
 * bound (invariant 4, unhealthyThreshold 2) is 171.45 s after the world has settled; in fast mode every 10 s
 * (probeTimeout 15 s) the gap is 30.95 s and the hard-loss bound 70.5 s.
 */

/** A half-open interval of virtual seconds, [from, to). */
export type Interval = readonly [from: number, to: number];

/** One broken invariant. */
export interface Violation {
  /** which invariant: 1 hard loss moves in time, 2 healthy targets only, 3 cooldown, 4 convergence, 5 ownership */
  readonly invariant: 1 | 2 | 3 | 4 | 5;
  readonly pair?: string;
  /** virtual seconds */
  readonly t?: number;
  readonly message: string;
}

/** What one check found: its violations and how many situations it judged (0 means it did not apply). */
export interface CheckResult {
  readonly violations: readonly Violation[];
  readonly checked: number;
}

/** The controller timing bounds of a configuration under a latency model, in seconds (formulas above). */
export interface Timing {
  readonly observe: number;
  readonly act: number;
  readonly run: number;
  readonly gap: number;
  readonly evaluation: number;
  /** how long after a throttling window ends a run may still be retrying */
  readonly throttledRun: number;
}

/** Rounding of event times (0.1 s) and of the bounds' arithmetic. */
const SLACK = 0.2;
/** Pauses of the read-back after writing, in seconds. */
const CONFIRM_PAUSES = CONFIRM_DELAYS_MS.map((ms) => ms / 1000);
/** SDK standard-mode retries of one call under throttling: backoff up to 1 s then 2 s, plus latency (aws-facts §3). */
const RETRY_SLACK = 15;

// ---- intervals ---------------------------------------------------------------------------------------------

/** Sorted, merged, non-empty intervals. */
function normalise(intervals: readonly Interval[]): Interval[] {
  const sorted = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const [a, b] of sorted) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/** Where both hold. */
function intersect(left: readonly Interval[], right: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const [a, b] of left) for (const [c, d] of right) out.push([Math.max(a, c), Math.min(b, d)]);
  return normalise(out);
}

/** Where the condition has held for at least `settle` seconds. */
function settled(intervals: readonly Interval[], settle: number): Interval[] {
  return normalise(intervals.map(([a, b]) => [a + settle, b] as const));
}

/** The condition holds at some instant of [from, to]. */
function somewhere(intervals: readonly Interval[], from: number, to: number): boolean {
  return intervals.some(([a, b]) => a <= to && b > from);
}

// ---- member conditions -------------------------------------------------------------------------------------

/**
 * When a condition holds within one entry of a member's history: from the returned instant (virtual ms; the
 * conditions only ever switch on within an entry, as readiness instants pass) or, for undefined, not at all.
 */
type Condition = (state: MemberState) => number | undefined;

/** Where a condition holds over a member's history, up to `end` (seconds). */
function during(states: readonly MemberState[], end: number, condition: Condition): Interval[] {
  return normalise(
    states.map((state, i): Interval => {
      const from = condition(state);
      const next = states[i + 1];
      const to = next === undefined ? end : next.at / 1000;
      return from === undefined ? [0, 0] : [Math.max(state.at, from) / 1000, to];
    }),
  );
}

const ALWAYS = Number.NEGATIVE_INFINITY;
const running: Condition = (s) => (s.state === 'running' ? ALWAYS : undefined);
/** EC2 shows both status checks ok (no longer initializing). */
const checksOk: Condition = (s) =>
  s.state === 'running' && s.systemCheck === 'ok' && s.instanceCheck === 'ok'
    ? s.initializingUntil
    : undefined;
const noRetirement: Condition = (s) => (s.retirementPending ? undefined : ALWAYS);
/** The VPN daemon's unit is active (World.daemonActive). */
const daemonActive: Condition = (s) =>
  s.state === 'running' && !s.instanceFault && !s.daemonFault ? s.daemonReadyAt : undefined;
/** The tunnel's SAs are established (World.tunnelUp). */
const tunnelUp: Condition = (s) =>
  s.state === 'running' && !s.instanceFault && !s.daemonFault && !s.systemFault && !s.tunnelFault
    ? Math.max(s.daemonReadyAt, s.tunnelReadyAt)
    : undefined;
/** EC2 shows the member down: not running, or a status check impaired (hard loss, design.md). */
const hardDown: Condition = (s) => {
  if (s.state !== 'running') return ALWAYS;
  return s.systemCheck === 'impaired' || s.instanceCheck === 'impaired' ? s.initializingUntil : undefined;
};

/** What the pair's daemon probe reports on (World.#runProbe), if it has one. */
function probeCondition(pair: PairConfig): Condition | undefined {
  switch (pair.probe.kind) {
    case 'systemd':
      return daemonActive;
    case 'strongswan':
    case 'libreswan':
      return tunnelUp;
    case 'none':
      return undefined;
  }
}

/**
 * Everything that must hold for every configured signal to read healthy: running, checks ok, no retirement,
 * the guest and its services up (the agent online when probed; it also runs the tunnel publisher), daemon and
 * tunnel up.
 */
function fullyHealthy(pair: PairConfig): Condition {
  return (s) => {
    const base = checksOk(s);
    const daemon = daemonActive(s);
    const tunnel = tunnelUp(s);
    if (base === undefined || daemon === undefined || tunnel === undefined || s.retirementPending)
      return undefined;
    if (s.systemFault || (pair.probe.kind !== 'none' && s.agentFault)) return undefined;
    return Math.max(base, daemon, tunnel, s.agentReadyAt);
  };
}

/**
 * How long a fully healthy member takes to read healthy on every signal: one observation (the probe runs
 * during it), and with a tunnel metric, datapointsToBreach fresh datapoints published and visible (aws-facts §5).
 */
function settling(pair: PairConfig, timing: Timing, latency: LatencyModel): number {
  const tunnel = pair.tunnel;
  if (tunnel === undefined) return timing.observe;
  const interval = Math.min(latency.metrics.publishInterval / 1000, tunnel.period);
  const metric =
    tunnel.datapointsToBreach * Math.max(tunnel.period, interval) +
    latency.metrics.visibility[1] / 1000 +
    interval;
  return Math.max(timing.observe, metric);
}

// ---- timing ------------------------------------------------------------------------------------------------

/** The timing bounds of a configuration under a latency model (module comment). */
export function timingOf(config: Config, latency: LatencyModel): Timing {
  const s = (ms: number) => ms / 1000;
  const { schedule, fastMode, probeTimeout } = config.controller;
  const readMax = s(Math.max(latency.api.ec2Read[1], latency.api.ssm[1], latency.api.cloudwatch[1]));
  const writeMax = s(latency.api.ec2Write[1]);
  const lambdaStart = s(latency.control.lambdaStart[1]);
  const routes = Math.max(...config.pairs.map((p) => p.routeTables.length * p.destinations.length));
  const observe = probeTimeout + 3 * readMax + 1;
  const act = (Math.ceil(routes / ROUTE_WRITE_CONCURRENCY) + 1) * writeMax;
  const confirm =
    CONFIRM_PAUSES.reduce((a, b) => a + b, 0) + CONFIRM_PAUSES.length * s(latency.api.ec2Read[1]);
  const run = observe + act + confirm + lambdaStart;
  const startDelay = s(latency.control.scheduler[1]) + lambdaStart;
  let gap = schedule + startDelay;
  if (fastMode.enabled) {
    const timeoutMs = latency.control.lambdaTimeout ?? controllerTimeoutSeconds(config) * 1000;
    const until = fastModeDeadline(config.controller, 0, timeoutMs) / 1000;
    const lastStart = Math.max(0, Math.ceil(until / fastMode.interval) - 1) * fastMode.interval;
    gap = Math.max(fastMode.interval, schedule - lastStart) + startDelay;
  }
  return { observe, act, run, gap, evaluation: Math.max(gap, run), throttledRun: run + RETRY_SLACK };
}

/** The api-throttling windows of a scenario (any target: one member's throttling blinds batched reads too). */
function throttlingWindows(scenario: Scenario): Interval[] {
  return normalise(
    scenario.faults.flatMap((f) =>
      f.fault === 'api-throttling' && (f.rate ?? 0) > 0 ? [[f.at, f.at + (f.for ?? 0)] as const] : [],
    ),
  );
}

/** Controller invocations that died (crash option, Lambda timeout). */
function crashTimes(output: SimulateOutput): number[] {
  return output.events.filter((e) => e.type === 'controller-crash').map((e) => e.t);
}

/**
 * A deadline `from + base`, extended for every throttling window and controller crash that falls before it
 * (module comment), until no more do.
 */
function extendedDeadline(
  from: number,
  base: number,
  timing: Timing,
  throttling: readonly Interval[],
  crashes: readonly number[],
): number {
  let deadline = from + base;
  for (;;) {
    let extended = from + base;
    for (const [a, b] of throttling) {
      // A window that ended shortly before `from` still counts: a run may be retrying past its end.
      if (b <= from - timing.throttledRun || a >= deadline) continue;
      extended += Math.max(0, Math.min(b, deadline) - Math.max(a, from)) + timing.throttledRun;
    }
    for (const t of crashes) if (t >= from && t <= deadline) extended += timing.evaluation + timing.run;
    if (extended <= deadline) return deadline;
    deadline = extended;
  }
}

// ---- routes over time --------------------------------------------------------------------------------------

/** Where each managed route of a pair points over time, from the route-change events (all start on the primary). */
class RouteTimeline {
  readonly #changes: { t: number; key: string; to: RouteOwner }[];
  readonly #keys: string[];

  constructor(pair: PairConfig, events: readonly SimEvent[]) {
    this.#keys = pair.routeTables.flatMap((t) => pair.destinations.map((d) => `${t} ${d.toLowerCase()}`));
    this.#changes = events.flatMap((e) =>
      e.type === 'route-change' && e.pair === pair.name
        ? [{ t: e.t, key: `${e.routeTable} ${e.destination.toLowerCase()}`, to: e.to }]
        : [],
    );
  }

  /** Each route's owner at `t` (after every change logged at or before t). */
  at(t: number): RouteOwner[] {
    const owners = new Map<string, RouteOwner>(this.#keys.map((k) => [k, 'primary']));
    for (const change of this.#changes) if (change.t <= t) owners.set(change.key, change.to);
    return this.#keys.map((k) => owners.get(k) ?? 'missing');
  }

  /** Every route points at `role` at `t`. */
  allOn(role: Role, t: number): boolean {
    return this.at(t).every((owner) => owner === role);
  }

  /** The instants in [from, to] at which the routes may look different: from itself and every change. */
  instants(from: number, to: number): number[] {
    return [from, ...this.#changes.filter((c) => c.t > from && c.t <= to).map((c) => c.t)];
  }
}

// ---- context shared by the checks --------------------------------------------------------------------------

interface Context {
  readonly run: RecordedRun;
  readonly timing: Timing;
  readonly end: number;
  readonly throttling: readonly Interval[];
  readonly crashes: readonly number[];
}

function contextOf(run: RecordedRun): Context {
  return {
    run,
    timing: timingOf(run.scenario.config, run.latency),
    end: run.scenario.duration,
    throttling: throttlingWindows(run.scenario),
    crashes: crashTimes(run.output),
  };
}

function statesOf(truth: GroundTruth, pair: string, role: Role): readonly MemberState[] {
  const states = truth.members[`${pair}/${role}`];
  if (!states || states.length === 0) throw new Error(`no ground truth for ${pair}/${role}`);
  return states;
}

const moveEvents = (output: SimulateOutput, pair: string) =>
  output.events.filter(
    (e): e is Extract<SimEvent, { type: 'failover' }> => e.type === 'failover' && e.pair === pair,
  );

const fmt = (t: number): string => `${Number(t.toFixed(1))}s`;

// ---- the invariants ----------------------------------------------------------------------------------------

/**
 * Invariant 1: once one member of a pair is observably hard-down while the other is observably healthy, every
 * route of the pair is on the healthy one within one evaluation, one run queued ahead, one observation and the
 * route writes (`evaluation + run + observe + act`, extended for throttling and crashes), provided both
 * conditions last that long. `checked` counts the situations in which some route had to move.
 */
export function checkHardLossMoves(run: RecordedRun): CheckResult {
  const ctx = contextOf(run);
  const { timing, end } = ctx;
  const violations: Violation[] = [];
  let checked = 0;
  for (const pair of run.scenario.config.pairs) {
    const routes = new RouteTimeline(pair, run.output.events);
    for (const down of ROLES) {
      const up = otherRole(down);
      const lost = during(statesOf(run.truth, pair.name, down), end, hardDown);
      const healthy = settled(
        during(statesOf(run.truth, pair.name, up), end, fullyHealthy(pair)),
        settling(pair, timing, run.latency),
      );
      for (const [from, to] of intersect(lost, healthy)) {
        const base = timing.evaluation + timing.run + timing.observe + timing.act;
        const deadline = extendedDeadline(from, base, timing, ctx.throttling, ctx.crashes) + SLACK;
        if (deadline > to || deadline > end) continue;
        // Situations where traffic was already on the healthy member are judged, but not counted as applying.
        if (!routes.allOn(up, from)) checked++;
        if (!routes.allOn(up, deadline)) {
          violations.push({
            invariant: 1,
            pair: pair.name,
            t: deadline,
            message: `${pair.name}/${down} hard-down and ${up} observably healthy from ${fmt(from)} to ${fmt(to)}, but at ${fmt(deadline)} (bound ${fmt(deadline - from)}) routes are on [${routes.at(deadline).join(', ')}]`,
          });
        }
      }
    }
  }
  return { violations, checked };
}

/**
 * Invariant 2: every route change points the route at a member that was healthy when the move was decided,
 * each signal judged against what it could have shown then: EC2's state, status checks and scheduled events
 * and the daemon probe within the observation before the decision (longer when throttled), the tunnel metric
 * within the datapoints the controller reads (datapointsToBreach + 2 periods, the reader's window, plus the
 * publication delay). Every change must follow a decision to move that pair's routes to that member.
 */
export function checkHealthyTargets(run: RecordedRun): CheckResult {
  const ctx = contextOf(run);
  const { timing, end } = ctx;
  const violations: Violation[] = [];
  let checked = 0;
  const decisions = run.output.events.filter(
    (e): e is Extract<SimEvent, { type: 'failover' | 'repair' }> =>
      e.type === 'failover' || e.type === 'repair',
  );
  for (const change of run.output.events) {
    if (change.type !== 'route-change' || (change.to !== 'primary' && change.to !== 'standby')) continue;
    const pair = run.scenario.config.pairs.find((p) => p.name === change.pair);
    if (!pair) continue;
    checked++;
    const target = change.to;
    const decision = decisions
      .filter((d) => d.pair === pair.name && d.to === target && d.t <= change.t)
      .at(-1);
    if (decision === undefined) {
      violations.push({
        invariant: 2,
        pair: pair.name,
        t: change.t,
        message: `${change.routeTable} ${change.destination} moved to ${target} at ${fmt(change.t)} with no decision to move ${pair.name} there`,
      });
      continue;
    }
    const decided = decision.t;
    const throttled = ctx.throttling.some(
      ([a, b]) => a <= decided && b >= decided - timing.observe - RETRY_SLACK,
    );
    const window = timing.observe + (throttled ? RETRY_SLACK : 0) + SLACK;
    const states = statesOf(run.truth, pair.name, target);
    const checks: [string, Condition, number][] = [
      ['running', running, window],
      ['status checks ok', checksOk, window],
      ['no scheduled retirement', noRetirement, window],
    ];
    const probe = probeCondition(pair);
    if (probe !== undefined) {
      checks.push([
        pair.probe.kind === 'systemd' ? 'daemon active' : 'tunnel SAs established',
        probe,
        window,
      ]);
    }
    if (pair.tunnel !== undefined) {
      const interval = Math.min(run.latency.metrics.publishInterval / 1000, pair.tunnel.period);
      const metricWindow = (pair.tunnel.datapointsToBreach + 2) * pair.tunnel.period + 60 + interval;
      checks.push(['tunnel up (metric)', tunnelUp, window + metricWindow]);
    }
    const failed = checks.filter(
      ([, condition, tolerance]) =>
        !somewhere(during(states, end, condition), decided - tolerance, decided + SLACK),
    );
    if (failed.length > 0) {
      violations.push({
        invariant: 2,
        pair: pair.name,
        t: change.t,
        message: `${change.routeTable} ${change.destination} moved to ${target} at ${fmt(change.t)} (decided at ${fmt(decided)}: ${decision.reason}) but ${target} was not healthy then: not ${failed.map(([name]) => name).join(', not ')}`,
      });
    }
  }
  return { violations, checked };
}

/**
 * Invariant 3: an automatic failback comes at least `cooldown` after the pair's previous move (any failover
 * or failback), so traffic returns to the primary at most once per cooldown. Moves away from a failing
 * member are never held by the cooldown.
 */
export function checkCooldown(run: RecordedRun): CheckResult {
  const violations: Violation[] = [];
  let checked = 0;
  for (const pair of run.scenario.config.pairs) {
    const moves = moveEvents(run.output, pair.name);
    moves.forEach((move, i) => {
      if (move.trigger !== 'automatic-failback') return;
      checked++;
      const previous = moves[i - 1];
      if (previous !== undefined && move.t - previous.t < pair.cooldown - SLACK) {
        violations.push({
          invariant: 3,
          pair: pair.name,
          t: move.t,
          message: `automatic ${move.kind} to ${move.to} at ${fmt(move.t)} only ${fmt(move.t - previous.t)} after the ${previous.trigger} ${previous.kind} at ${fmt(previous.t)} (cooldown ${fmt(pair.cooldown)})`,
        });
      }
    });
  }
  return { violations, checked };
}

/**
 * A member's verdict once the world has stopped changing, per the pair's configured signals (the rules of
 * shared/decide/health.ts): the status checks as they will read once EC2 has re-evaluated them.
 */
function steadyVerdict(pair: PairConfig, state: MemberState): 'healthy' | 'unhealthy' | 'unknown' {
  const holds = (condition: Condition) => condition(state) !== undefined;
  if (!holds(running) || state.systemFault || state.instanceFault || state.retirementPending)
    return 'unhealthy';
  const signals: ('healthy' | 'unhealthy' | 'unknown')[] = [];
  const probe = probeCondition(pair);
  if (probe !== undefined)
    signals.push(state.agentFault ? 'unknown' : holds(probe) ? 'healthy' : 'unhealthy');
  if (pair.tunnel !== undefined) signals.push(holds(tunnelUp) ? 'healthy' : 'unhealthy');
  if (signals.includes('unhealthy')) return 'unhealthy';
  if (signals.includes('unknown')) return 'unknown';
  return 'healthy';
}

/**
 * The instant after which a member's history has no more changes: its last entry, the readiness instants it
 * awaits, and, while the status checks still disagree with the real condition, EC2's re-evaluation (the check
 * after next, aws-facts §1).
 */
function quietFrom(states: readonly MemberState[], latency: LatencyModel): number {
  const last = states[states.length - 1] as MemberState;
  const impaired = last.systemCheck === 'impaired' || last.instanceCheck === 'impaired';
  const recheck =
    last.state === 'running' && impaired !== (last.systemFault || last.instanceFault)
      ? last.at + 2 * latency.world.statusCheckInterval
      : 0;
  return (
    Math.max(
      last.at,
      last.agentReadyAt,
      last.daemonReadyAt,
      last.tunnelReadyAt,
      last.initializingUntil,
      recheck,
    ) / 1000
  );
}

/**
 * Invariant 4: after the last change to a pair's world (its faults, operator commands and throttling, and
 * the time the model takes to settle: state transitions, boots, status checks) plus the time every signal
 * takes to read it, and past the cooldown of the last move, every route of the pair is on one member that
 * reads healthy, within unhealthyThreshold evaluations, one run queued ahead, one observation and the writes
 * ("two schedule periods" with the default threshold of 2). It applies when one member reads healthy and
 * neither reads unknown (unknown never moves traffic, design.md principle 3), and the deadline falls inside
 * the run.
 */
export function checkConvergence(run: RecordedRun): CheckResult {
  const ctx = contextOf(run);
  const { timing, end } = ctx;
  const violations: Violation[] = [];
  let checked = 0;
  for (const pair of run.scenario.config.pairs) {
    const members = {
      primary: statesOf(run.truth, pair.name, 'primary'),
      standby: statesOf(run.truth, pair.name, 'standby'),
    };
    const verdicts = {
      primary: steadyVerdict(pair, members.primary.at(-1) as MemberState),
      standby: steadyVerdict(pair, members.standby.at(-1) as MemberState),
    };
    const healthy = ROLES.filter((r) => verdicts[r] === 'healthy');
    if (healthy.length === 0 || ROLES.some((r) => verdicts[r] === 'unknown')) continue;
    const touched = run.scenario.faults.flatMap((f) => {
      if (f.fault === 'api-throttling') return [f.at + (f.for ?? 0)];
      return f.target !== '*' && f.target.pair === pair.name ? [f.at] : [];
    });
    const commands = run.scenario.commands.filter((c) => c.pair === pair.name).map((c) => c.at);
    const quiet = Math.max(
      0,
      ...touched,
      ...commands,
      ...ROLES.map((r) => quietFrom(members[r], run.latency)),
    );
    let ready = quiet + settling(pair, timing, run.latency);
    const lastMove = moveEvents(run.output, pair.name)
      .filter((m) => m.t <= ready)
      .at(-1);
    if (lastMove !== undefined) ready = Math.max(ready, lastMove.t + pair.cooldown);
    const base =
      Math.max(1, pair.unhealthyThreshold) * timing.evaluation + timing.run + timing.observe + timing.act;
    const deadline = extendedDeadline(ready, base, timing, ctx.throttling, ctx.crashes) + SLACK;
    if (deadline > end) continue;
    checked++;
    const routes = new RouteTimeline(pair, run.output.events);
    const converged = routes
      .instants(ready, deadline)
      .some((t) => healthy.some((role) => routes.allOn(role, t)));
    if (!converged) {
      violations.push({
        invariant: 4,
        pair: pair.name,
        t: deadline,
        message: `${pair.name} quiet from ${fmt(quiet)} (ready ${fmt(ready)}; primary ${verdicts.primary}, standby ${verdicts.standby}) but by ${fmt(deadline)} its routes never all sat on a healthy member; at the deadline [${routes.at(deadline).join(', ')}]`,
      });
    }
  }
  return { violations, checked };
}

/**
 * Invariant 5: every route the controller writes points at a member of its own pair (never at another pair's
 * member, never elsewhere), and routes no pair manages (the default route, the local route, other pairs'
 * destinations) are never touched.
 */
export function checkRouteOwnership(run: RecordedRun): CheckResult {
  const violations: Violation[] = [];
  let checked = 0;
  for (const event of run.output.events) {
    if (event.type === 'route-change') {
      checked++;
      if (event.to !== 'primary' && event.to !== 'standby') {
        violations.push({
          invariant: 5,
          pair: event.pair,
          t: event.t,
          message: `${event.routeTable} ${event.destination} of ${event.pair} was pointed at ${event.to}, outside the pair`,
        });
      }
    } else if (event.type === 'error' && event.message.startsWith('an unmanaged route was changed')) {
      violations.push({ invariant: 5, t: event.t, message: event.message });
    }
  }
  const { start, end } = run.truth.unmanagedRoutes;
  for (const key of new Set([...Object.keys(start), ...Object.keys(end)])) {
    checked++;
    if (start[key] !== end[key]) {
      violations.push({
        invariant: 5,
        message: `unmanaged route ${key} changed from ${start[key] ?? 'nothing'} to ${end[key] ?? 'nothing'}`,
      });
    }
  }
  for (const [name, pair] of Object.entries(run.output.final.pairs)) {
    for (const route of pair.routes) {
      if (route.to !== 'primary' && route.to !== 'standby') {
        violations.push({
          invariant: 5,
          pair: name,
          message: `at the end ${route.routeTable} ${route.destination} points at ${route.to}`,
        });
      }
    }
  }
  return { violations, checked };
}

/** Every invariant's result on one run, by invariant number. */
export function checkInvariants(run: RecordedRun): Readonly<Record<1 | 2 | 3 | 4 | 5, CheckResult>> {
  return {
    1: checkHardLossMoves(run),
    2: checkHealthyTargets(run),
    3: checkCooldown(run),
    4: checkConvergence(run),
    5: checkRouteOwnership(run),
  };
}
