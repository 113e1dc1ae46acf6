import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  GraphWidgetView,
  type IWidget,
  SearchExpression,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { Config } from '../shared/config/schema.ts';
import { ALARM_KINDS } from '../shared/domain/plan.ts';
import { ROLES, type SignalName } from '../shared/domain/types.ts';
import { DIMENSION, METRIC, METRICS_NAMESPACE } from '../shared/telemetry-names.ts';
import { controllerMetric, pairMetric, SERVICE_DIMENSION } from './telemetry.ts';

const SIGNALS: readonly SignalName[] = ['instance', 'daemon', 'tunnel'];

/**
 * Pairs that get a row of their own. A dashboard holds at most 500 widgets and a row is 3 (Dashboard Body
 * Structure, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html);
 * larger deployments read every pair from the fleet graphs, which are search expressions (up to 500 series).
 */
export const DASHBOARD_PAIR_ROWS = 50;

/** Props of {@link ControllerDashboard}. */
export interface ControllerDashboardProps {
  readonly config: Config;
  readonly deploymentName: string;
  readonly controller: IFunction;
  /** The deployment-wide alarms (an alarm status widget shows at most 100). */
  readonly alarms: readonly Alarm[];
}

/**
 * One dashboard per deployment: the alarms and the controller's health on top, then the alarm kinds raised,
 * runs that failed and moves; the active member and the moves of every pair (search graphs); and, for up to
 * DASHBOARD_PAIR_ROWS pairs, one row per pair with the member carrying traffic (0 primary, 1 standby), every
 * signal of both members (1 healthy, 0 unhealthy, -1 unknown) and the moves over time.
 */
export class ControllerDashboard extends Construct {
  /** The dashboard. */
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ControllerDashboardProps) {
    super(scope, id);
    const service = props.deploymentName;
    const fn = props.controller;
    const minute = Duration.minutes(1);
    const period = Duration.seconds(props.config.controller.schedule);
    const { pairs } = props.config;
    const withRows = pairs.length <= DASHBOARD_PAIR_ROWS;
    /** Every pair's series of a per-pair metric (dimensions service and Pair), labelled by pair. */
    const everyPair = (metric: string, statistic: string) =>
      new SearchExpression({
        expression: `SEARCH('{${METRICS_NAMESPACE},${DIMENSION.pair},${SERVICE_DIMENSION}} MetricName="${metric}" ${SERVICE_DIMENSION}="${service}"', '${statistic}', ${period.toSeconds()})`,
        period,
      });

    const rows: IWidget[][] = [
      [
        new TextWidget({
          markdown: `# vpn-failover: ${props.deploymentName}\n${pairs.length} pairs. Active member: 0 = primary, 1 = standby. Signals: 1 healthy, 0 unhealthy, -1 unknown. ${
            withRows
              ? 'One row per pair below.'
              : `More than ${DASHBOARD_PAIR_ROWS} pairs: every pair is in the fleet graphs, and a pair's signals are in the SignalHealth metrics (Pair, Role, Signal).`
          }`,
          width: 24,
          height: 2,
        }),
      ],
      [new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 4 })],
      [
        new GraphWidget({
          title: 'Controller runs (heartbeat) and pairs whose run failed',
          left: [
            controllerMetric(METRIC.heartbeat, { service, statistic: 'SampleCount', period, label: 'runs' }),
            controllerMetric(METRIC.runErrors, {
              service,
              statistic: 'Maximum',
              period,
              label: 'pairs failed',
            }),
          ],
          width: 8,
        }),
        new GraphWidget({
          title: 'Controller errors and throttles',
          left: [
            fn.metricErrors({ period: minute, statistic: 'Sum' }),
            fn.metricThrottles({ period: minute, statistic: 'Sum' }),
          ],
          width: 8,
        }),
        new GraphWidget({
          title: 'Controller duration (p99)',
          left: [fn.metricDuration({ period: minute, statistic: 'p99' })],
          width: 8,
        }),
      ],
      [
        new GraphWidget({
          title: 'Pairs raising each alarm kind',
          left: ALARM_KINDS.map((kind) =>
            controllerMetric(METRIC.alarmRaised, {
              service,
              dimensions: { [DIMENSION.kind]: kind },
              statistic: 'Maximum',
              period,
              label: kind,
            }),
          ),
          leftYAxis: { min: 0, showUnits: false },
          width: 16,
        }),
        new GraphWidget({
          title: 'Moves (all pairs)',
          left: [controllerMetric(METRIC.failover, { service, statistic: 'Sum', period, label: 'moves' })],
          view: GraphWidgetView.BAR,
          width: 8,
        }),
      ],
      [
        new GraphWidget({
          title: 'Active member of every pair (0 primary, 1 standby)',
          left: [everyPair(METRIC.activeMember, 'Maximum')],
          leftYAxis: { min: 0, max: 1, showUnits: false },
          width: 12,
        }),
        new GraphWidget({
          title: 'Moves of every pair',
          left: [everyPair(METRIC.failover, 'Sum')],
          view: GraphWidgetView.BAR,
          width: 12,
        }),
      ],
    ];

    for (const pair of withRows ? pairs : []) {
      const name = pair.name;
      rows.push([
        new GraphWidget({
          title: `${name}: active member (0 primary, 1 standby)`,
          left: [pairMetric(METRIC.activeMember, service, name, 'Maximum').with({ label: 'active member' })],
          leftYAxis: { min: 0, max: 1, showUnits: false },
          width: 8,
        }),
        new GraphWidget({
          title: `${name}: signal health (1 healthy, 0 unhealthy, -1 unknown)`,
          left: ROLES.flatMap((role) =>
            SIGNALS.map((signal) =>
              pairMetric(METRIC.signalHealth, service, name, 'Minimum', {
                [DIMENSION.role]: role,
                [DIMENSION.signal]: signal,
              }).with({ label: `${role} ${signal}` }),
            ),
          ),
          leftYAxis: { min: -1, max: 1, showUnits: false },
          width: 10,
        }),
        new GraphWidget({
          title: `${name}: failovers`,
          left: [
            pairMetric(METRIC.failover, service, name, 'Sum').with({
              label: 'moves',
              period: Duration.minutes(5),
            }),
          ],
          view: GraphWidgetView.BAR,
          width: 6,
        }),
      ]);
    }

    this.dashboard = new Dashboard(this, 'Resource', {
      dashboardName: props.deploymentName,
      defaultInterval: Duration.hours(3),
      widgets: rows,
    });
  }
}
