import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { ALARM_KINDS } from '../domain/plan.ts';
import { DIMENSION, METRIC, METRICS_NAMESPACE } from '../telemetry-names.ts';
import type { PairSummary, RunSummary } from './types.ts';

const count = (pairs: readonly PairSummary[], test: (pair: PairSummary) => boolean): number =>
  pairs.filter(test).length;

/**
 * Publish a run's metrics in CloudWatch embedded metric format (log lines CloudWatch turns into metrics:
 * no PutMetricData call, no extra latency). The CDK app alarms on exactly these names:
 * - deployment-wide (service dimension only): the heartbeat (the controller ran), RunErrors (pairs whose run
 *   failed: it ran and failed), Failover (moves started in this run; an alarm cannot sum over Pair);
 * - per alarm kind (Kind): AlarmRaised, the number of pairs raising it, every kind every run, 0 included, so
 *   each kind's alarm has data to return to OK on;
 * - per pair (Pair): Failover and ActiveMember; per member and signal: SignalHealth (the dashboard).
 */
export function publishRunMetrics(metrics: Metrics, summary: RunSummary): void {
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
  for (const pair of pairs) {
    metrics.addDimension(DIMENSION.pair, pair.pair);
    metrics.addMetric(METRIC.failover, MetricUnit.Count, pair.moveStarted === true ? 1 : 0);
    metrics.addMetric(METRIC.activeMember, MetricUnit.NoUnit, pair.active === 'primary' ? 0 : 1);
    metrics.publishStoredMetrics();
    for (const [role, member] of Object.entries(pair.members ?? {})) {
      for (const [signal, health] of Object.entries(member.signals)) {
        metrics.addDimensions({
          [DIMENSION.pair]: pair.pair,
          [DIMENSION.role]: role,
          [DIMENSION.signal]: signal,
        });
        metrics.addMetric(
          METRIC.signalHealth,
          MetricUnit.NoUnit,
          health === 'healthy' ? 1 : health === 'unhealthy' ? 0 : -1,
        );
        metrics.publishStoredMetrics();
      }
    }
  }
}

/** The controller's metrics emitter. */
export const createMetrics = () =>
  new Metrics({
    namespace: METRICS_NAMESPACE,
    // The deployment's name (set by the CDK app): two deployments in one account keep their metrics apart.
    serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? 'vpn-failover',
  });
