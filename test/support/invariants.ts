import type { Config, PairConfig } from '../../shared/config/schema.ts';
import { CONFIRM_DELAYS_MS, ROUTE_WRITE_CONCURRENCY } from '../../shared/controller/act.ts';
import { controllerTimeoutSeconds, evaluationSlots } from '../../shared/controller/timing.ts';
import { WRITER_LEASE_MS } from '../../shared/controller/writer-lease.ts';
import { ALARM_KINDS, type AlarmKind } from '../../shared/domain/plan.ts';
import type { Role } from '../../shared/domain/types.ts';
import { otherRole, ROLES } from '../../shared/domain/types.ts';
import { CALL_FAULTS, type CallFault, type FaultKind } from '../../sim/faults.ts';
import type { GroundTruth, MemberState, RecordedRun } from '../../sim/ground-truth.ts';
import type { LatencyModel } from '../../sim/latency.ts';
import type { RouteOwner, SimEvent, SimulateOutput } from '../../sim/output.ts';
import type { Scenario } from '../../sim/scenario.ts';

/**
 * The controller's safety and liveness invariants, judged on one recorded scenario run (sim/ground-truth.ts):
 * the event log the controller's decisions produced, against what really happened in the model. Pure
 * functions; all times are virtual seconds since the scenario start.
 *
 * "Healthy" is defined as the controller could know it, signal by signal, from the model:
 * - instance: the state EC2 reports (running) and the status checks as EC2 shows them (ok, not initializing;
 *   they run every minute and lag the real fault by one to two minutes,
 *   https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-system-instance-status-check.html), and no
 *   scheduled retirement pending;
 * - daemon probe: what the probe script reports when it runs (systemd: the daemon unit active;
 *   strongswan/libreswan: the tunnel's SAs established), which needs the SSM agent online
 *   (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_InstanceInformation.html, PingStatus);
 * - tunnel metric: the tunnel state the instance published, seen after the publication delay
 *   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/publishingMetrics.html).
 * A member is "observably healthy" once all of that has held for long enough that every configured signal
 * reads healthy (`settling` below), and "observably hard-down" while EC2 shows it not running or with an
 * impaired status check. The model's history starts before the scenario does (sim/ground-truth.ts), since
 * signals can still show the steady state the account was created in.
 *
 * Timing bounds (see `timingOf`), with the default latency model (sim/latency.ts):
 * - run: one controller run without throttling = observe + act + confirm + Lambda start, where observe is
 *   the probe deadline (controller.probeTimeout) plus three read round trips, act is the route writes in
 *   rounds of 8 (shared/controller/act.ts ROUTE_WRITE_CONCURRENCY) plus the Elastic IP, plus, when all pairs'
 *   routes together exceed EC2's mutating burst (50 writes), the rest at its refill rate ((writes - 50) / 5 s,
 *   https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html), and confirm is the
 *   read-back's 3.5 s of pauses (act.ts CONFIRM_DELAYS_MS) plus four reads;
 * - gap: the longest wait between the starts of two scheduled evaluations: the schedule period P plus the
 *   Scheduler's and Lambda's start delays; in fast mode max(interval, P - K x interval) plus the same delays,
 *   where K x interval is the last loop start before P - probeTimeout - margin (functions/controller/handler.ts);
 * - evaluation = max(gap, run): the next evaluation starts at most this long after any instant (one may be in
 *   progress, and the one queued behind it starts when it ends; reserved concurrency 1);
 * - a throttling window that overlaps a bound extends it by the overlap plus one run and 15 s of SDK retries
 *   (standard mode: 3 attempts, throttling backoff up to 1 s then 2 s,
 *   https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html); a controller crash or
 *   Lambda timeout extends it by one evaluation, or the writer lease the dead invocation may have held
 *   (WRITER_LEASE_MS, whichever is longer), plus one run.
 * For the example pair (4 routes, probeTimeout 20 s) on the 1-minute schedule: observe 21.75 s, act 0.7 s,
 * run 27.1 s, gap = evaluation 60.95 s, so the hard-loss bound (invariant 1) is 110.5 s and the convergence
 * bound (invariant 4, unhealthyThreshold 2) is 171.45 s after the world has settled; in fast mode every 10 s
 * (probeTimeout 15 s) the gap is 30.95 s and the hard-loss bound 70.5 s.
 */

/** A half-open interval of virtual seconds, [from, to). */
export type Interval = readonly [from: number, to: number];

/**
 * The invariants by number: 1 hard loss moves in time, 2 healthy targets only, 3 cooldown, 4 convergence,
 * 5 ownership, 6 no move away from a healthy active unless an operator asked, 7 unknown alone never moves
 * traffic, 8 the Elastic IP follows traffic, 9 an alarm while the pair has no healthy member, 10 intent first
 * (no route write before the pair's state is stored).
 */
export const INVARIANTS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] as const;

/** An invariant's number. */
export type InvariantNumber = (typeof INVARIANTS)[number];

/** One broken invariant. */
export interface Violation {
  /** which invariant (INVARIANTS) */
  readonly invariant: InvariantNumber;
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
/** Event times are rounded to 0.1 s. */
const EVENT_ROUNDING = 0.051;
/** The SDK's retries of one state-table call: up to four attempts, backing off up to 1, 2 and 4 s. */
const STORE_RETRIES = 8;
/** Pauses of the read-back after writing, in seconds. */
const CONFIRM_PAUSES = CONFIRM_DELAYS_MS.map((ms) => ms / 1000);
/**
 * SDK standard-mode retries of one call under throttling: backoff up to 1 s then 2 s, plus latency
 * (https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html).
 */
const RETRY_SLACK = 15;
/** The longest an SSM command takes to reach an agent (sim/latency.ts ssm.invocationVisible + delivery), rounded up. */
const DELIVERY_SLACK = 3;

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

/** Where none of the intervals holds, within [from, to). */
function complement(intervals: readonly Interval[], from: number, to: number): Interval[] {
  const out: Interval[] = [];
  let at = from;
  for (const [a, b] of normalise(intervals)) {
    if (a > at) out.push([at, Math.min(a, to)]);
    at = Math.max(at, b);
  }
  if (at < to) out.push([at, to]);
  return normalise(out);
}

/** Where either holds. */
function union(...sets: readonly (readonly Interval[])[]): Interval[] {
  return normalise(sets.flat());
}

/** The condition holds at every instant of [from, to]. */
function throughout(intervals: readonly Interval[], from: number, to: number): boolean {
  return intervals.some(([a, b]) => a <= from && b > to);
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
/** EC2 shows no status check impaired (initializing counts as not impaired). */
const checksNotImpaired: Condition = (s) =>
  s.state === 'running' && s.systemCheck !== 'impaired' && s.instanceCheck !== 'impaired'
    ? ALWAYS
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
/** EC2 shows the member down: not running, or a status check impaired (a hard loss). */
const hardDown: Condition = (s) => {
  if (s.state !== 'running') return ALWAYS;
  return s.systemCheck === 'impaired' || s.instanceCheck === 'impaired' ? s.initializingUntil : undefined;
};

/**
 * Nothing is wrong with the member itself, whatever its signals can read: running, no system or instance fault
 * (real or as EC2 shows it), no scheduled retirement, and the probed daemon or tunnel up (when probed). A member
 * without this is faulty: evidence that may move traffic away from it.
 */
function sound(pair: PairConfig): Condition {
  const probe = probeCondition(pair);
  return (s) => {
    if (s.state !== 'running' || s.systemFault || s.instanceFault || s.retirementPending) return undefined;
    if (s.systemCheck === 'impaired' || s.instanceCheck === 'impaired') return undefined;
    return probe === undefined ? ALWAYS : probe(s);
  };
}
/** The SSM agent answers (World.agentOnline). */
const agentOnline: Condition = (s) =>
  s.state === 'running' && !s.systemFault && !s.instanceFault && !s.agentFault ? s.agentReadyAt : undefined;
/** The SSM agent does not answer on a running member (the probe times out). */
const agentSilent: Condition = (s) => (s.state === 'running' && s.agentFault ? ALWAYS : undefined);
/** The probe can run and reads the daemon (or its tunnel) down. */
function probeReadsDown(pair: PairConfig): Condition | undefined {
  const probe = probeCondition(pair);
  if (probe === undefined) return undefined;
  return (s) => (probe(s) === undefined ? agentOnline(s) : undefined);
}
/** The published tunnel state is down on a running member. */
const tunnelDown: Condition = (s) =>
  s.state === 'running' && tunnelUp(s) === undefined ? ALWAYS : undefined;
const retiring: Condition = (s) => (s.retirementPending ? ALWAYS : undefined);

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
 * the guest and its services up (the SSM agent online when probed; the member agent running when the pair has
 * a tunnel metric, since it publishes it), daemon and tunnel up.
 */
function fullyHealthy(pair: PairConfig): Condition {
  return (s) => {
    const base = checksOk(s);
    const daemon = daemonActive(s);
    const tunnel = tunnelUp(s);
    if (base === undefined || daemon === undefined || tunnel === undefined || s.retirementPending)
      return undefined;
    if (s.systemFault || (pair.probe.kind !== 'none' && s.agentFault)) return undefined;
    if (pair.tunnel !== undefined && s.memberAgentStopped) return undefined;
    return Math.max(base, daemon, tunnel, s.agentReadyAt);
  };
}

/**
 * How long a fully healthy member takes to read healthy on every signal: one observation (the probe runs
 * during it), and with a tunnel metric, datapointsToBreach fresh datapoints published and visible
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/publishingMetrics.html).
 */
function settling(pair: PairConfig, timing: Timing, latency: LatencyModel): number {
  return Math.max(timing.observe, metricSettling(pair, latency));
}

/** How long a change of the tunnel takes to show in datapointsToBreach fresh datapoints (0 without a metric). */
function metricSettling(pair: PairConfig, latency: LatencyModel): number {
  const tunnel = pair.tunnel;
  if (tunnel === undefined) return 0;
  const interval = Math.min(latency.metrics.publishInterval / 1000, tunnel.period);
  return (
    tunnel.datapointsToBreach * Math.max(tunnel.period, interval) +
    latency.metrics.visibility[1] / 1000 +
    interval
  );
}

const isCallFault = (fault: FaultKind): fault is CallFault =>
  (CALL_FAULTS as readonly string[]).includes(fault);

// ---- timing ------------------------------------------------------------------------------------------------

/** The timing bounds of a configuration under a latency model (module comment). */
export function timingOf(config: Config, latency: LatencyModel): Timing {
  const s = (ms: number) => ms / 1000;
  const { schedule, fastMode, probeTimeout } = config.controller;
  const readMax = s(Math.max(latency.api.ec2Read[1], latency.api.ssm[1], latency.api.cloudwatch[1]));
  const writeMax = s(latency.api.ec2Write[1]);
  const lambdaStart = s(latency.control.lambdaStart[1]);
  const perPair = config.pairs.map((p) => p.routeTables.length * p.destinations.length);
  const routes = Math.max(...perPair);
  const observe = probeTimeout + 3 * readMax + 1;
  // Every pair may need its routes moved at once (a zone-wide loss): past EC2's burst, writes go at its refill rate.
  const bucket = latency.throttling.ec2Mutating;
  const paced = Math.max(0, perPair.reduce((a, b) => a + b, 0) - bucket.capacity) / bucket.refillPerSecond;
  const act = (Math.ceil(routes / ROUTE_WRITE_CONCURRENCY) + 1) * writeMax + paced;
  const confirm =
    CONFIRM_PAUSES.reduce((a, b) => a + b, 0) + CONFIRM_PAUSES.length * s(latency.api.ec2Read[1]);
  const run = observe + act + confirm + lambdaStart;
  const startDelay = s(latency.control.scheduler[1]) + lambdaStart;
  let gap = schedule + startDelay;
  if (fastMode.enabled) {
    const timeoutMs = latency.control.lambdaTimeout ?? controllerTimeoutSeconds(config) * 1000;
    const lastStart = Math.max(...evaluationSlots(config.controller, 0, timeoutMs).slots) / 1000;
    gap = Math.max(fastMode.interval, schedule - lastStart) + startDelay;
  }
  return { observe, act, run, gap, evaluation: Math.max(gap, run), throttledRun: run + RETRY_SLACK };
}

/**
 * The windows of a scenario in which calls fail: api-throttling (any target: one member's throttling blinds
 * batched reads too) and state-store-errors (a run that cannot read or write its state does nothing).
 */
function throttlingWindows(scenario: Scenario): Interval[] {
  return normalise(
    scenario.faults.flatMap((f) =>
      isCallFault(f.fault) && (f.rate ?? 0) > 0 ? [[f.at, f.at + (f.for ?? 0)] as const] : [],
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
    // A dead invocation may have held the writer lease: nobody writes until it runs out (WRITER_LEASE_MS), so a
    // crash shortly before `from` still counts.
    const lease = WRITER_LEASE_MS / 1000;
    for (const t of crashes) {
      if (t >= from - lease && t <= deadline) extended += Math.max(timing.evaluation, lease) + timing.run;
    }
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

/**
 * The moves of a pair that were carried out: decided (not in a dry run) and their intent stored. A decision
 * whose state write failed (the table erred, or an overlapping run stored first) moved nothing. The state store
 * is local real I/O, so its write lands at the decision's virtual instant, or after the SDK's retries.
 */
const moveEvents = (run: RecordedRun, pair: string) =>
  run.output.events.filter(
    (e): e is Extract<SimEvent, { type: 'failover' }> =>
      e.type === 'failover' &&
      e.pair === pair &&
      run.truth.writes.some(
        (w) =>
          w.what === 'state' && w.pair === pair && w.t >= e.t - EVENT_ROUNDING && w.t <= e.t + STORE_RETRIES,
      ),
  );

const fmt = (t: number): string => `${Number(t.toFixed(1))}s`;

// ---- the invariants ----------------------------------------------------------------------------------------

/**
 * Invariant 1: once one member of a pair is observably hard-down while the other is observably healthy, every
 * route of the pair is on the healthy one within one evaluation, one run queued ahead, one observation and the
 * route writes (`evaluation + run + observe + act`, extended for throttling and crashes), provided both
 * conditions last that long, and stays there while they last (a forced operator failover onto the lost member
 * is taken back within the same bound). `checked` counts the situations in which some route had to move.
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
      const base = timing.evaluation + timing.run + timing.observe + timing.act;
      const bound = (at: number) => extendedDeadline(at, base, timing, ctx.throttling, ctx.crashes) + SLACK;
      // A forced operator failover may put traffic on the lost member; the controller must take it off again.
      const forced = forcedWindows(ctx, pair.name, down);
      for (const [from, to] of intersect(lost, healthy)) {
        const deadline = bound(from);
        if (deadline > to || deadline > end) continue;
        // Situations where traffic was already on the healthy member are judged, but not counted as applying.
        if (!routes.allOn(up, from)) checked++;
        // Judged at the deadline and at every later instant the routes change or a forced move's bound ends,
        // while both conditions last: traffic is not left, nor put back, on the lost member.
        const judged = [
          deadline,
          ...routes
            .instants(deadline, to)
            .slice(1)
            .filter((t) => t < to),
          ...forced.map(([, until]) => bound(until)).filter((t) => t > deadline && t < to && t <= end),
        ];
        const stuck = judged.find(
          (t) => !routes.allOn(up, t) && !forced.some(([a, until]) => a <= t && t <= bound(until)),
        );
        if (stuck !== undefined) {
          violations.push({
            invariant: 1,
            pair: pair.name,
            t: stuck,
            message: `${pair.name}/${down} hard-down and ${up} observably healthy from ${fmt(from)} to ${fmt(to)}, but at ${fmt(stuck)} (bound ${fmt(deadline - from)}) routes are on [${routes.at(stuck).join(', ')}]`,
          });
        }
      }
    }
  }
  return { violations, checked };
}

/** The stretches in which a forced operator failover of `pair` to `to` may run (operatorWindows' bound). */
function forcedWindows(ctx: Context, pair: string, to: Role): Interval[] {
  const { timing } = ctx;
  return normalise(
    ctx.run.scenario.commands.flatMap((c) =>
      c.command === 'failover' && c.force === true && c.pair === pair && c.to === to
        ? [
            [
              c.at,
              extendedDeadline(
                c.at,
                timing.evaluation + 2 * timing.run,
                timing,
                ctx.throttling,
                ctx.crashes,
              ) + SLACK,
            ] as const,
          ]
        : [],
    ),
  );
}

/**
 * Invariant 2: every route change points the route at a member that was healthy when the move was decided,
 * each signal judged against what it could have shown then: EC2's state, status checks and scheduled events
 * and the daemon probe within the observation before the decision (longer when throttled), the tunnel metric
 * within the datapoints the controller reads (datapointsToBreach + 2 periods, the reader's window, plus the
 * publication delay). Every change must follow a decision to move that pair's routes to that member. A forced
 * operator failover is exempt from the health checks (only). A move off a member that was hard-down (not
 * running, a status check impaired) may go to a member that is only running with status checks ok: traffic was
 * already dropped, so a standby whose daemon or tunnel could not be read is better than a certain blackhole
 * (design principle "never make it worse", the moved-to-unverified rule).
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
    // An operator's force skips the target-health checks by design: the move only has to have been asked for.
    if (somewhere(forcedWindows(ctx, pair.name, target), decided, decided)) continue;
    const throttled = ctx.throttling.some(
      ([a, b]) => a <= decided && b >= decided - timing.observe - RETRY_SLACK,
    );
    const window = timing.observe + (throttled ? RETRY_SLACK : 0) + SLACK;
    const states = statesOf(run.truth, pair.name, target);
    const offLostMember =
      decision.type === 'failover' &&
      decision.trigger === 'hard-loss' &&
      somewhere(
        during(statesOf(run.truth, pair.name, otherRole(target)), end, hardDown),
        decided - window,
        decided,
      );
    const checks: [string, Condition, number][] = [
      ['running', running, window],
      offLostMember
        ? ['status checks not impaired', checksNotImpaired, window]
        : ['status checks ok', checksOk, window],
      ['no scheduled retirement', noRetirement, window],
    ];
    const probe = probeCondition(pair);
    if (probe !== undefined && !offLostMember) {
      checks.push([
        pair.probe.kind === 'systemd' ? 'daemon active' : 'tunnel SAs established',
        probe,
        window,
      ]);
    }
    if (pair.tunnel !== undefined && !offLostMember) {
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
    const moves = moveEvents(run, pair.name);
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
 * after next, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-system-instance-status-check.html).
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
 * neither reads unknown (unknown never moves traffic), and the deadline falls inside
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
      if (isCallFault(f.fault)) return [f.at + (f.for ?? 0)];
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
    const lastMove = moveEvents(run, pair.name)
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

// ---- moves that must have a reason ----------------------------------------------------------------------

/**
 * The stretches of a run in which an operator may move a pair's traffic to `to`: from each failover command
 * to that member until its invocation has had time to run (one evaluation queued ahead and two runs), and from
 * each resize command until the workflow's last stage plus one evaluation (a resize fails over and back).
 */
function operatorWindows(ctx: Context, pair: string, to: Role): Interval[] {
  const { run, timing } = ctx;
  const bound = (from: number, base: number) =>
    extendedDeadline(from, base, timing, ctx.throttling, ctx.crashes) + SLACK;
  const windows: Interval[] = [];
  for (const command of run.scenario.commands) {
    if (command.pair !== pair) continue;
    if (command.command === 'failover') {
      if (command.to === to)
        windows.push([command.at, bound(command.at, timing.evaluation + 2 * timing.run)]);
      continue;
    }
    // A pause or resume moves nothing by hand (a move after a resume is automatic, judged as such).
    if (command.command !== 'resize') continue;
    const stages = run.output.events.filter(
      (e) => e.type === 'resize-stage' && e.pair === pair && e.t >= command.at,
    );
    const last = stages.at(-1)?.t ?? ctx.end;
    windows.push([command.at, bound(last, timing.evaluation + timing.run)]);
  }
  return normalise(windows);
}

/** How far back a decision at `decided` may have looked at a member's instance state and probe. */
function lookback(ctx: Context, decided: number): number {
  const throttled = ctx.throttling.some(
    ([a, b]) => a <= decided && b >= decided - ctx.timing.observe - RETRY_SLACK,
  );
  return ctx.timing.observe + (throttled ? RETRY_SLACK : 0) + SLACK;
}

/** How far back the tunnel metric a decision read may reach: the reader's datapoints plus publication. */
function metricLookback(pair: PairConfig, latency: LatencyModel): number {
  if (pair.tunnel === undefined) return 0;
  const interval = Math.min(latency.metrics.publishInterval / 1000, pair.tunnel.period);
  return (
    (pair.tunnel.datapointsToBreach + 2) * pair.tunnel.period +
    latency.metrics.visibility[1] / 1000 +
    interval
  );
}

/**
 * What a decision at `decided` could have known against `role` of `pair`, from the ground truth: each fault of
 * the member within what its signals could show then. Silence is evidence only against a member whose agent
 * was silent while its partner's answered for two probes in a row (the same probe batch answered on one member
 * and timed out on the other, twice): at least two probe timeouts, less the agent's delivery delay.
 */
function evidenceAgainst(ctx: Context, pair: PairConfig, role: Role, decided: number): string[] {
  const { run, end } = ctx;
  const states = statesOf(run.truth, pair.name, role);
  const partner = statesOf(run.truth, pair.name, otherRole(role));
  const start = (states[0] as MemberState).at / 1000;
  const from = decided - lookback(ctx, decided);
  const to = decided + SLACK;
  const evidence: string[] = [];
  if (somewhere(complement(during(states, end, sound(pair)), start, end), from, to))
    evidence.push(`${role} was faulty`);
  if (pair.tunnel !== undefined) {
    const metricFrom = from - metricLookback(pair, run.latency);
    if (somewhere(during(states, end, tunnelDown), metricFrom, to))
      evidence.push(`${role}'s tunnel metric could read down`);
  }
  const silent = intersect(during(states, end, agentSilent), during(partner, end, agentOnline));
  const twice = 2 * run.scenario.config.controller.probeTimeout - DELIVERY_SLACK;
  if (pair.probe.kind !== 'none' && silent.some(([a, b]) => a <= decided - twice && b > from))
    evidence.push(`${role}'s agent was silent while its partner's answered, for two probes`);
  return evidence;
}

/** Traffic moves of a pair that took traffic away from a member with no evidence against it and no operator. */
function unexplainedMoves(ctx: Context, pair: PairConfig) {
  const { run, timing, end } = ctx;
  const routes = new RouteTimeline(pair, run.output.events);
  const moves = moveEvents(run, pair.name);
  return moves.flatMap((move) => {
    // Automatic failback returns traffic to a primary that invariant 2 showed healthy: a move the rules allow.
    if (pair.failback === 'automatic' && move.to === 'primary') return [];
    if (!routes.at(move.t).includes(move.from)) return [];
    if (somewhere(operatorWindows(ctx, pair.name, move.to), move.t, move.t)) return [];
    if (evidenceAgainst(ctx, pair, move.from, move.t).length > 0) return [];
    const from = move.t - lookback(ctx, move.t);
    const healthy = settled(
      during(statesOf(run.truth, pair.name, move.from), end, fullyHealthy(pair)),
      settling(pair, timing, run.latency),
    );
    const blinded = somewhere(ctx.throttling, from, move.t);
    return [{ move, healthy: !blinded && throughout(healthy, from, move.t) }];
  });
}

/**
 * Invariant 6: traffic never moves away from a member that was healthy on every signal, unless an operator
 * asked (a failover command to the target, or a resize of the pair) or automatic failback returns it to the
 * primary. Judged from the ground truth, not from the reasons the controller gave. `checked` counts the moves.
 */
export function checkNoMoveFromHealthy(run: RecordedRun): CheckResult {
  const ctx = contextOf(run);
  const violations: Violation[] = [];
  let checked = 0;
  for (const pair of run.scenario.config.pairs) {
    checked += moveEvents(run, pair.name).length;
    for (const { move, healthy } of unexplainedMoves(ctx, pair)) {
      if (!healthy) continue;
      violations.push({
        invariant: 6,
        pair: pair.name,
        t: move.t,
        message: `${pair.name} ${move.kind} from ${move.from} to ${move.to} at ${fmt(move.t)} (${move.trigger}: ${move.reason}) but ${move.from} was healthy on every signal and no operator asked`,
      });
    }
  }
  return { violations, checked };
}

/**
 * Invariant 7: unknown alone never moves traffic. A move away from a member with no fault at all (only its
 * signals unreadable: SSM or CloudWatch throttled or erroring, its agent offline along with its partner's, its
 * status checks initializing) is a violation, unless an operator asked or it is an automatic failback.
 */
export function checkUnknownNeverMoves(run: RecordedRun): CheckResult {
  const ctx = contextOf(run);
  const violations: Violation[] = [];
  let checked = 0;
  for (const pair of run.scenario.config.pairs) {
    checked += moveEvents(run, pair.name).length;
    for (const { move, healthy } of unexplainedMoves(ctx, pair)) {
      if (healthy) continue;
      violations.push({
        invariant: 7,
        pair: pair.name,
        t: move.t,
        message: `${pair.name} ${move.kind} from ${move.from} to ${move.to} at ${fmt(move.t)} (${move.trigger}: ${move.reason}) but ${move.from} had no fault, only unknown signals, and no operator asked`,
      });
    }
  }
  return { violations, checked };
}

/** Where a pair's Elastic IP is over time: on the primary at the start, then as the elastic-ip events say. */
function elasticIpAt(events: readonly SimEvent[], pair: string, t: number): RouteOwner {
  let on: RouteOwner = 'primary';
  for (const e of events) if (e.type === 'elastic-ip' && e.pair === pair && e.t <= t) on = e.to;
  return on;
}

/**
 * Invariant 8: the Elastic IP follows traffic. For a pair with one, once every route sits on one member that is
 * healthy on every signal, the address is on that member within one evaluation, one run queued ahead, one
 * observation and the writes (the bound of invariant 1), provided the routes and the member's health last.
 */
export function checkElasticIpFollows(run: RecordedRun): CheckResult {
  const ctx = contextOf(run);
  const { timing, end } = ctx;
  const violations: Violation[] = [];
  let checked = 0;
  for (const pair of run.scenario.config.pairs) {
    if (pair.elasticIp === undefined) continue;
    const routes = new RouteTimeline(pair, run.output.events);
    const instants = routes.instants(0, end);
    for (const role of ROLES) {
      const healthy = settled(
        during(statesOf(run.truth, pair.name, role), end, fullyHealthy(pair)),
        settling(pair, timing, run.latency),
      );
      instants.forEach((at, i) => {
        if (!routes.allOn(role, at) || (i > 0 && routes.allOn(role, instants[i - 1] as number))) return;
        const next = instants.slice(i + 1).find((t) => !routes.allOn(role, t)) ?? end;
        const base = timing.evaluation + timing.run + timing.observe + timing.act;
        const deadline = extendedDeadline(at, base, timing, ctx.throttling, ctx.crashes) + SLACK;
        if (deadline > next || deadline > end || !throughout(healthy, at, deadline)) return;
        checked++;
        const on = elasticIpAt(run.output.events, pair.name, deadline);
        if (on !== role) {
          violations.push({
            invariant: 8,
            pair: pair.name,
            t: deadline,
            message: `${pair.name}'s routes all on ${role} (healthy) from ${fmt(at)}, but at ${fmt(deadline)} (bound ${fmt(deadline - at)}) its Elastic IP is on ${on}`,
          });
        }
      });
    }
  }
  return { violations, checked };
}

/**
 * Where a member of the pair reads positively unhealthy on some configured signal, once that signal shows it:
 * EC2's state and checks as shown, the probe after one observation, the metric after its datapoints.
 */
function observablyFaulty(ctx: Context, pair: PairConfig, role: Role): Interval[] {
  const { end, timing } = ctx;
  const states = statesOf(ctx.run.truth, pair.name, role);
  const probe = probeReadsDown(pair);
  return union(
    during(states, end, hardDown),
    during(states, end, retiring),
    probe === undefined ? [] : settled(during(states, end, probe), timing.observe),
    pair.tunnel === undefined
      ? []
      : settled(during(states, end, tunnelDown), metricSettling(pair, ctx.run.latency)),
  );
}

/**
 * Invariant 9: while a pair has no healthy member (both positively unhealthy on some signal, as their signals
 * show it), some alarm of the pair (any kind of ALARM_KINDS) is raised within one evaluation and one run.
 */
export function checkAlarmWithoutTarget(run: RecordedRun): CheckResult {
  const ctx = contextOf(run);
  const { timing, end } = ctx;
  const kinds: ReadonlySet<string> = new Set<AlarmKind>(ALARM_KINDS);
  const violations: Violation[] = [];
  let checked = 0;
  for (const pair of run.scenario.config.pairs) {
    const alarms = run.output.events.filter(
      (e): e is Extract<SimEvent, { type: 'alarm' | 'alarm-cleared' }> =>
        (e.type === 'alarm' || e.type === 'alarm-cleared') && e.pair === pair.name && kinds.has(e.alarm),
    );
    const activeAt = (t: number): boolean => {
      const active = new Set<string>();
      for (const e of alarms) {
        if (e.t > t) break;
        if (e.type === 'alarm') active.add(e.alarm);
        else active.delete(e.alarm);
      }
      return active.size > 0;
    };
    const both = intersect(observablyFaulty(ctx, pair, 'primary'), observablyFaulty(ctx, pair, 'standby'));
    for (const [from, to] of both) {
      const deadline =
        extendedDeadline(from, timing.evaluation + timing.run, timing, ctx.throttling, ctx.crashes) + SLACK;
      if (deadline > to || deadline > end) continue;
      checked++;
      const raised =
        activeAt(from) || alarms.some((e) => e.type === 'alarm' && e.t > from && e.t <= deadline);
      if (!raised) {
        violations.push({
          invariant: 9,
          pair: pair.name,
          t: deadline,
          message: `${pair.name} had no healthy member from ${fmt(from)} to ${fmt(to)} (both positively unhealthy), but no alarm was raised by ${fmt(deadline)}`,
        });
      }
    }
  }
  return { violations, checked };
}

/**
 * Invariant 10: intent first. Every route write a controller invocation makes for a pair comes after that
 * invocation has updated the pair's state item (the conditional write that is its right to act), so a run that
 * cannot store its intent (the state table throttled or failing, another run first) changes no route: a failed
 * run, never a half-change. `checked` counts the route writes.
 */
export function checkIntentFirst(run: RecordedRun): CheckResult {
  const violations: Violation[] = [];
  let checked = 0;
  const stored = new Map<string, number>();
  for (const write of run.truth.writes) {
    if (write.invocation === undefined) continue;
    const key = `${write.invocation} ${write.pair}`;
    if (write.what === 'state') {
      if (!stored.has(key)) stored.set(key, write.t);
      continue;
    }
    checked++;
    if (stored.has(key)) continue;
    violations.push({
      invariant: 10,
      pair: write.pair,
      t: write.t,
      message: `invocation ${write.invocation} wrote a route of ${write.pair} at ${fmt(write.t)} without having stored the pair’s state first`,
    });
  }
  return { violations, checked };
}

/** Every invariant's result on one run, by invariant number. */
export function checkInvariants(run: RecordedRun): Readonly<Record<InvariantNumber, CheckResult>> {
  return {
    1: checkHardLossMoves(run),
    2: checkHealthyTargets(run),
    3: checkCooldown(run),
    4: checkConvergence(run),
    5: checkRouteOwnership(run),
    6: checkNoMoveFromHealthy(run),
    7: checkUnknownNeverMoves(run),
    8: checkElasticIpFollows(run),
    9: checkAlarmWithoutTarget(run),
    10: checkIntentFirst(run),
  };
}
