import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
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
    if (pair.members) {
      const idle = pair.active === 'primary' ? pair.members.standby : pair.members.primary;
      const bothDown = pair.members.primary.health !== 'healthy' && pair.members.standby.health !== 'healthy';
      metrics.addMetric(METRIC.standbyHealthy, MetricUnit.NoUnit, idle.health === 'healthy' ? 1 : 0);
      metrics.addMetric(METRIC.bothUnhealthy, MetricUnit.NoUnit, bothDown ? 1 : 0);
    }
    metrics.addMetric(
      METRIC.foreignRoute,
      MetricUnit.NoUnit,
      pair.alarms.some((a) => a.kind === 'foreign-route') ? 1 : 0,
    );
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
