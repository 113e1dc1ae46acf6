import type { Duration } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { AlarmKind } from '../shared/domain/plan.ts';
import type { Role } from '../shared/domain/types.ts';
import { type METRIC, METRICS_NAMESPACE } from '../shared/telemetry-names.ts';

/**
 * How the stack finds the controller's metrics and names its alarms.
 *
 * The controller emits embedded-metric-format records through @aws-lambda-powertools/metrics, which always adds
 * a `service` dimension. CloudWatch identifies a metric by its exact dimension set, so every alarm and graph
 * carries the same `service` dimension as the controller's records (a test reads it from the controller's own
 * metrics emitter). The deployment-wide metrics (heartbeat, RunErrors, the total of Failover) have only that
 * dimension; AlarmRaised adds Kind. No metric is per pair (the dashboard reads pairs from the controller's
 * pair-state log lines).
 */

/** Powertools' default dimension name. */
export const SERVICE_DIMENSION = 'service';

/**
 * The environment variable that names the `service` dimension of the controller's metrics
 * (shared/controller/metrics.ts createMetrics): the CDK app sets it to the deployment name.
 */
export const POWERTOOLS_SERVICE_ENV = 'POWERTOOLS_SERVICE_NAME';

/** The environment variable Powertools reads for the namespace when code does not name one. */
export const POWERTOOLS_NAMESPACE_ENV = 'POWERTOOLS_METRICS_NAMESPACE';

/**
 * Alarm names. A deployment name is [A-Za-z][A-Za-z0-9-]*, so the "." after it makes the prefix unambiguous
 * (deployment "vpn" never matches the alarms of "vpn-2"). The alarms on the controller's own metrics are
 * deployment-wide: one per alarm kind (`<deployment>.alarm.<kind>`), the controller's health
 * (`<deployment>.controller.…`) and traffic moves. Only the optional recovery alarms are per member; they
 * share `<deployment>.pair.`, the prefix the alarm-state rule filters on, and name their pair as
 * `.pair.<pair>.` so a state change makes the controller look at that pair.
 */
export const alarmName = {
  /** Every alarm of the deployment starts with this. */
  prefix: (deployment: string): string => `${deployment}.`,
  /** Every pair-scoped alarm (the recovery alarms, which trigger the controller) starts with this. */
  pairPrefix: (deployment: string): string => `${deployment}.pair.`,
  /** The alarm of one of the controller's alarm kinds (ALARM_KINDS), across every pair. */
  kind: (deployment: string, kind: AlarmKind): string => `${deployment}.alarm.${kind}`,
  controllerErrors: (deployment: string): string => `${deployment}.controller.errors`,
  heartbeat: (deployment: string): string => `${deployment}.controller.heartbeat`,
  runErrors: (deployment: string): string => `${deployment}.controller.run-errors`,
  trafficMoved: (deployment: string): string => `${deployment}.traffic.moved`,
  recover: (deployment: string, pair: string, role: Role): string =>
    `${deployment}.pair.${pair}.${role}.recover`,
} as const;

/** Options of {@link controllerMetric}. */
export interface ControllerMetricOptions {
  readonly service: string;
  readonly dimensions?: Record<string, string>;
  readonly statistic: 'Maximum' | 'Minimum' | 'Sum' | 'SampleCount' | 'Average';
  readonly period: Duration;
  readonly label?: string;
}

/** One of the controller's own metrics (METRIC), selected by service and the given dimensions. */
export function controllerMetric(
  name: (typeof METRIC)[keyof typeof METRIC],
  options: ControllerMetricOptions,
): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { [SERVICE_DIMENSION]: options.service, ...options.dimensions },
    statistic: options.statistic,
    period: options.period,
    ...(options.label ? { label: options.label } : {}),
  });
}
