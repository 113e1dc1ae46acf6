import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Alarm } from '../domain/plan.ts';
import { DIMENSION, METRIC, METRICS_NAMESPACE } from '../telemetry-names.ts';
import type { RunSummary } from './types.ts';

/**
 * Publish a run's metrics in CloudWatch embedded metric format (log lines CloudWatch turns into metrics:
 * no PutMetricData call, no extra latency). The CDK app alarms on exactly these names.
 */
export function publishRunMetrics(metrics: Metrics, summary: RunSummary): void {
  metrics.addMetric(METRIC.heartbeat, MetricUnit.Count, 1);
  metrics.publishStoredMetrics();
  for (const pair of summary.pairs) {
    metrics.addDimension(DIMENSION.pair, pair.pair);
    const moved = pair.plan === 'failover' || pair.plan === 'failback';
    metrics.addMetric(METRIC.failover, MetricUnit.Count, moved && !pair.dryRun && !pair.error ? 1 : 0);
    metrics.addMetric(METRIC.activeMember, MetricUnit.NoUnit, pair.active === 'primary' ? 0 : 1);
    // The decision's own alarms, so the CloudWatch alarms fire on exactly what the controller decided.
    const raised = (kind: Alarm['kind']) => pair.alarms.some((a) => a.kind === kind);
    metrics.addMetric(METRIC.standbyHealthy, MetricUnit.NoUnit, raised('standby-unhealthy') ? 0 : 1);
    metrics.addMetric(METRIC.bothUnhealthy, MetricUnit.NoUnit, raised('both-unhealthy') ? 1 : 0);
    metrics.addMetric(METRIC.foreignRoute, MetricUnit.NoUnit, raised('foreign-route') ? 1 : 0);
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
