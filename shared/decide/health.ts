import type { PairConfig } from '../config/schema.ts';
import type { Verdict } from '../domain/plan.ts';
import type {
  InstanceObservation,
  PairObservation,
  Role,
  Signal,
  SignalName,
  StatusSummary,
} from '../domain/types.ts';
import { blackholedRoutesOf } from './routes.ts';

/** The soft signals: they fail over only after a streak, and only to a member whose same signal is healthy. */
export type SoftSignal = 'daemon' | 'tunnel';

/** The soft signals, in the order reasons list them. */
export const SOFT_SIGNALS: readonly SoftSignal[] = ['daemon', 'tunnel'];

/** Every signal, in the order reasons list them. */
const SIGNAL_ORDER: readonly SignalName[] = ['instance', ...SOFT_SIGNALS];

/**
 * Scheduled-event codes that take the instance away (docs/aws-behaviour.md#instance-status-and-scheduled-events).
 * All of them stop, reboot or retire the instance, so traffic should leave before the event starts.
 */
const DISRUPTIVE_EVENTS: ReadonlySet<string> = new Set([
  'instance-stop',
  'instance-retirement',
  'system-maintenance',
  'system-reboot',
  'instance-reboot',
]);

/** Completed (and cancelled) events stay listed for up to a week with a "[Completed]" description prefix. */
const FINISHED_EVENT = /^\s*\[(completed|canceled|cancelled)\]/i;

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/** A running instance's status summary, as a problem of the given severity or nothing when it reads ok. */
function statusProblem(
  label: string,
  status: StatusSummary | undefined,
  required: boolean,
): { severity: 'hard' | 'unknown'; text: string } | undefined {
  if (status === 'impaired') return { severity: 'hard', text: `${label} impaired` };
  // A single insufficient-data or initializing reading must not fail a member over
  // (docs/aws-behaviour.md#instance-status-and-scheduled-events).
  if (status === 'initializing' || status === 'insufficient-data') {
    return { severity: 'unknown', text: `${label} ${status}` };
  }
  // System and instance checks always report on a running instance
  // (docs/aws-behaviour.md#instance-status-and-scheduled-events), so their absence means the read failed. EBS
  // status is legitimately not-applicable (no EBS volumes), so its absence is fine.
  if (required && (status === undefined || status === 'not-applicable')) {
    return { severity: 'unknown', text: `${label} not reported` };
  }
  return undefined;
}

/**
 * How old a tunnel datapoint may be beyond its signal's window before it reads unknown: the time a
 * standard-resolution PutMetricData datapoint takes to become visible to GetMetricData. CloudWatch does not
 * document it (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html
 * documents only the delays of metrics new to ListMetrics and of datapoints hours old); current datapoints are
 * typically readable within a minute, so 60 s. Shorter would turn every late publication into unknown; longer
 * would let a stopped publisher read healthy for longer.
 */
export const TUNNEL_PUBLICATION_LAG_S = 60;

/**
 * The instance signal: EC2's view of the member (docs/aws-behaviour.md#instance-status-and-scheduled-events). Not
 * found, not running (pending too), impaired checks, a blackholed route to its ENI or a lost OS (`osLost`, from
 * differential silence) are hard losses; a pending disruptive scheduled event is unhealthy and flagged `scheduled`;
 * checks still settling are unknown.
 */
function instanceSignal(
  instance: InstanceObservation,
  blackholes: readonly string[],
  osLost: string | undefined,
  now: number,
): Signal {
  const id = instance.instanceId;
  if (!instance.found) return { health: 'unhealthy', hard: true, reason: `${id} not found` };
  if (instance.state === undefined) return { health: 'unknown', reason: `${id} state not reported` };
  if (instance.state !== 'running')
    return { health: 'unhealthy', hard: true, reason: `${id} is ${instance.state}` };

  const checks = [
    statusProblem('system status', instance.systemStatus, true),
    statusProblem('instance status', instance.instanceStatus, true),
    statusProblem('EBS status', instance.ebsStatus, false),
  ];
  const hard = [
    ...checks.flatMap((p) => (p?.severity === 'hard' ? [p.text] : [])),
    ...blackholes.map((route) => `route ${route} is blackhole`),
    ...(osLost === undefined ? [] : [`OS lost: ${osLost}`]),
  ];
  const unknown = checks.flatMap((p) => (p?.severity === 'unknown' ? [p.text] : []));
  const scheduled = instance.scheduledEvents
    .filter((event) => DISRUPTIVE_EVENTS.has(event.code) && !FINISHED_EVENT.test(event.description ?? ''))
    .map((event) => {
      if (event.notBefore === undefined) return `${event.code} scheduled`;
      return event.notBefore > now
        ? `${event.code} scheduled from ${iso(event.notBefore)}`
        : `${event.code} due since ${iso(event.notBefore)}`;
    });

  if (hard.length > 0) {
    return {
      health: 'unhealthy',
      hard: true,
      ...(scheduled.length > 0 && { scheduled: true }),
      reason: [...hard, ...scheduled].join(', '),
    };
  }
  if (scheduled.length > 0) return { health: 'unhealthy', scheduled: true, reason: scheduled.join(', ') };
  if (unknown.length > 0) return { health: 'unknown', reason: `${id} running, ${unknown.join(', ')}` };
  return { health: 'healthy', reason: `${id} running, status checks ok` };
}

/**
 * The daemon signal: the SSM probe's exit status
 * (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html); no answer is
 * unknown, with `note` (what the silence does or does not show) added to its reason.
 */
function daemonSignal(
  pair: PairConfig,
  role: Role,
  observation: PairObservation,
  note: string | undefined,
): Signal | undefined {
  if (pair.probe.kind === 'none') return undefined;
  const probe = observation.probes?.[role];
  if (probe === undefined) return { health: 'unknown', reason: 'no probe result' };
  const detail = probe.detail === '' ? '' : `: ${probe.detail}`;
  switch (probe.outcome) {
    case 'succeeded':
      return { health: 'healthy', reason: `${pair.probe.kind} probe passed${detail}` };
    case 'failed':
      return { health: 'unhealthy', reason: `${pair.probe.kind} probe failed${detail}` };
    case 'unknown':
      return {
        health: 'unknown',
        reason: `${pair.probe.kind} probe unanswered${detail}${note === undefined ? '' : ` (${note})`}`,
      };
  }
}

/**
 * The tunnel signal: unhealthy when the newest `datapointsToBreach` datapoints all breach the threshold (M out
 * of M, as a CloudWatch alarm counts datapoints to alarm); too few datapoints, or an unreadable metric, is
 * unknown. Only fresh datapoints count: one whose period ended longer ago than the signal's window (period
 * times datapointsToBreach) plus TUNNEL_PUBLICATION_LAG_S is stale, so a publisher that stopped reads unknown,
 * not healthy on its last words. A reading taken from the member agent's report (shared/decide/tunnel-source.ts)
 * reads healthy, named as the report's, when its value does not breach.
 */
function tunnelSignal(
  pair: PairConfig,
  role: Role,
  observation: PairObservation,
  now: number,
): Signal | undefined {
  const tunnel = pair.tunnel;
  if (tunnel === undefined) return undefined;
  const metric = observation.tunnels?.[role];
  const operator = tunnel.comparison === 'lessThan' ? '<' : '>';
  const breaches = (value: number): boolean =>
    tunnel.comparison === 'lessThan' ? value < tunnel.threshold : value > tunnel.threshold;
  const reported = metric?.reported;
  // Only a value that does not breach stands for the metric: a breach is judged on M datapoints, never one.
  if (reported !== undefined && !breaches(reported.value)) {
    return {
      health: 'healthy',
      reason: `${tunnel.metricName} ${reported.value} in the agent's report sent at ${iso(reported.at)} (metric not read)`,
    };
  }
  if (metric?.datapoints === undefined) {
    return {
      health: 'unknown',
      reason: `${tunnel.metricName} unreadable${metric?.detail ? `: ${metric.detail}` : ''}`,
    };
  }
  const needed = tunnel.datapointsToBreach;
  const periodMs = tunnel.period * 1000;
  const maxAgeMs = (tunnel.period * needed + TUNNEL_PUBLICATION_LAG_S) * 1000;
  const readable = metric.datapoints.filter((p) => Number.isFinite(p.value));
  const fresh = readable.filter((p) => now - (p.at + periodMs) <= maxAgeMs);
  if (fresh.length < needed) {
    const newest = readable[0];
    const stale =
      newest === undefined
        ? ''
        : `; newest datapoint from ${iso(newest.at)}, older ones than ${iso(now - maxAgeMs - periodMs)} are stale (${tunnel.period} s x ${needed} + ${TUNNEL_PUBLICATION_LAG_S} s publication lag)`;
    return {
      health: 'unknown',
      reason: `${fresh.length === readable.length ? 'no datapoints yet' : 'no fresh datapoints'} (${fresh.length} of ${needed} needed)${stale}`,
    };
  }
  const newest = fresh.slice(0, needed).map((p) => p.value);
  const shown = newest.join(', ');
  return newest.every(breaches)
    ? {
        health: 'unhealthy',
        reason: `${tunnel.metricName} ${operator} ${tunnel.threshold} on ${needed} newest datapoints (${shown})`,
      }
    : { health: 'healthy', reason: `${tunnel.metricName} newest datapoints ${shown}` };
}

/** Combine a member's signals: any unhealthy wins (hard if any hard), then any unknown, else healthy. */
function verdictOf(signals: Partial<Record<SignalName, Signal>>): Verdict {
  const listed = SIGNAL_ORDER.flatMap((name) => {
    const signal = signals[name];
    return signal === undefined ? [] : [{ name, signal }];
  });
  const any = (health: Signal['health']) => listed.some(({ signal }) => signal.health === health);
  return {
    health: any('unhealthy') ? 'unhealthy' : any('unknown') ? 'unknown' : 'healthy',
    hard: listed.some(({ signal }) => signal.health === 'unhealthy' && signal.hard === true),
    signals,
    reason: listed.map(({ name, signal }) => `${name} ${signal.health} (${signal.reason})`).join('; '),
  };
}

/** What differential silence says about one member (see shared/decide/silence.ts). */
export interface SilenceFinding {
  /** set when the member's OS is lost: a hard loss, with this reason */
  readonly osLost?: string;
  /** why an unanswered probe is not (yet) evidence, added to the daemon signal's reason */
  readonly note?: string;
}

/**
 * One member's verdict from this run's observation. The daemon and tunnel signals are read only when the
 * pair configures them, and only for a member that is running: for a stopped or missing member they are
 * moot, the instance signal already says hard loss. A configured signal with no observation is unknown.
 */
export function evaluateMember(input: {
  pair: PairConfig;
  role: Role;
  observation: PairObservation;
  now: number;
  silence?: SilenceFinding;
}): Verdict {
  const { pair, role, observation, now, silence } = input;
  const instance = observation.instances[role];
  const blackholes = blackholedRoutesOf(observation, role).map(
    (route) => `${route.routeTableId} ${route.destination} to ${route.networkInterfaceId}`,
  );
  const signals: Partial<Record<SignalName, Signal>> = {
    instance: instanceSignal(instance, blackholes, silence?.osLost, now),
  };
  const down = !instance.found || (instance.state !== undefined && instance.state !== 'running');
  if (!down) {
    const daemon = daemonSignal(pair, role, observation, silence?.note);
    const tunnel = tunnelSignal(pair, role, observation, now);
    if (daemon !== undefined) signals.daemon = daemon;
    if (tunnel !== undefined) signals.tunnel = tunnel;
  }
  return verdictOf(signals);
}
