import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ALARM_KINDS } from '../domain/plan.ts';
import { type Health, ROLES, type Role, type SignalName } from '../domain/types.ts';
import type { Log } from '../logger.ts';
import { DIMENSION, METRIC, METRICS_NAMESPACE, PAIR_STATE } from '../telemetry-names.ts';
import type { PairSummary, RunSummary } from './types.ts';

const count = (pairs: readonly PairSummary[], test: (pair: PairSummary) => boolean): number =>
  pairs.filter(test).length;

/** A signal's health as the dashboard plots it: 1 healthy, 0 unhealthy, -1 unknown. */
const plotted = (health: Health): number => (health === 'healthy' ? 1 : health === 'unhealthy' ? 0 : -1);

/**
 * One pair's state after one evaluation, as the controller logs it (PAIR_STATE.message) and the dashboard's
 * per-pair Logs Insights widgets read it: the member carrying traffic (0 primary, 1 standby), whether a move
 * began (1 or 0), and each member's signals (1 healthy, 0 unhealthy, -1 unknown; a signal the pair does not
 * configure is absent).
 */
export interface PairStateLine {
  readonly [PAIR_STATE.pair]: string;
  readonly [PAIR_STATE.active]: Role;
  readonly [PAIR_STATE.activeMember]: 0 | 1;
  readonly [PAIR_STATE.moved]: 0 | 1;
  readonly [PAIR_STATE.signals]: Partial<Record<Role, Partial<Record<SignalName, number>>>>;
}

/** The pair-state line of one pair's summary. */
export function pairStateLine(pair: PairSummary): PairStateLine {
  const signals: Partial<Record<Role, Partial<Record<SignalName, number>>>> = {};
  for (const role of ROLES) {
    const member = pair.members?.[role];
    if (member === undefined) continue;
    const shown: Partial<Record<SignalName, number>> = {};
    for (const [signal, health] of Object.entries(member.signals) as [SignalName, Health][]) {
      shown[signal] = plotted(health);
    }
    signals[role] = shown;
  }
  return {
    [PAIR_STATE.pair]: pair.pair,
    [PAIR_STATE.active]: pair.active,
    [PAIR_STATE.activeMember]: pair.active === 'primary' ? 0 : 1,
    [PAIR_STATE.moved]: pair.moveStarted === true ? 1 : 0,
    [PAIR_STATE.signals]: signals,
  };
}

/**
 * Publish a run's telemetry. The deployment-wide metrics go out in CloudWatch embedded metric format (log
 * lines CloudWatch turns into metrics: no PutMetricData call, no extra latency), and the CDK app alarms on
 * exactly these names:
 * - the heartbeat (the controller ran), RunErrors (pairs whose run failed: it ran and failed), Failover (moves
 *   started in this run), with the service dimension only;
 * - AlarmRaised per alarm kind (Kind): the number of pairs raising it, every kind every run, 0 included, so
 *   each kind's alarm has data to return to OK on.
 * Nothing is a metric per pair: each custom metric costs the same every month
 * (https://aws.amazon.com/cloudwatch/pricing/), so per-pair series would make every further pair cost more
 * than the rest of its telemetry together. Instead each pair gets one pair-state log line per evaluation
 * (pairStateLine), which the dashboard's per-pair widgets query with CloudWatch Logs Insights.
 */
export function publishRunMetrics(metrics: Metrics, summary: RunSummary, log: Log): void {
  const { pairs } = summary;
  metrics.addMetric(METRIC.heartbeat, MetricUnit.Count, 1);
  metrics.addMetric(
    METRIC.runErrors,
    MetricUnit.Count,
    count(pairs, (p) => p.error !== undefined),
  );
  metrics.addMetric(
    METRIC.failover,
    MetricUnit.Count,
    count(pairs, (p) => p.moveStarted === true),
  );
  metrics.publishStoredMetrics();
  for (const kind of ALARM_KINDS) {
    metrics.addDimension(DIMENSION.kind, kind);
    metrics.addMetric(
      METRIC.alarmRaised,
      MetricUnit.Count,
      count(pairs, (p) => p.alarms.some((a) => a.kind === kind)),
    );
    metrics.publishStoredMetrics();
  }
  for (const pair of pairs) log.info(pairStateLine(pair), PAIR_STATE.message);
}

/** The controller's metrics emitter. */
export const createMetrics = () =>
  new Metrics({
    namespace: METRICS_NAMESPACE,
    // The deployment's name (set by the CDK app): two deployments in one account keep their metrics apart.
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'vpn-failover',
  });
