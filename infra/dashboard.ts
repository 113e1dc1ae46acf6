import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  GraphWidgetView,
  type IWidget,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import type { Config } from '../shared/config/schema.ts';
import { ROLES, type SignalName } from '../shared/domain/types.ts';
import { DIMENSION, METRIC } from '../shared/telemetry-names.ts';
import { controllerMetric, pairMetric } from './telemetry.ts';

const SIGNALS: readonly SignalName[] = ['instance', 'daemon', 'tunnel'];

/** Props of {@link ControllerDashboard}. */
export interface ControllerDashboardProps {
  readonly config: Config;
  readonly deploymentName: string;
  readonly controller: IFunction;
  readonly alarms: readonly Alarm[];
}

/**
 * One dashboard per deployment: the alarms and the controller's health on top, then one row per pair with the
 * member carrying traffic (0 primary, 1 standby), every signal of both members (1 healthy, 0 unhealthy,
 * -1 unknown) and the moves over time.
 */
export class ControllerDashboard extends Construct {
  /** The dashboard. */
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ControllerDashboardProps) {
    super(scope, id);
    const service = props.deploymentName;
    const fn = props.controller;
    const minute = Duration.minutes(1);

    const rows: IWidget[][] = [
      [
        new TextWidget({
          markdown: `# vpn-failover: ${props.deploymentName}\nOne row per pair. Active member: 0 = primary, 1 = standby. Signals: 1 healthy, 0 unhealthy, -1 unknown.`,
          width: 24,
          height: 2,
        }),
      ],
      [new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 4 })],
      [
        new GraphWidget({
          title: 'Controller runs (heartbeat)',
          left: [
            controllerMetric(METRIC.heartbeat, {
              service,
              statistic: 'SampleCount',
              period: minute,
              label: 'runs',
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
    ];

    for (const pair of props.config.pairs) {
      const name = pair.name;
      rows.push([
        new GraphWidget({
          title: `${name}: active member (0 primary, 1 standby)`,
          left: [
            pairMetric(METRIC.activeMember, service, name, 'Maximum').with({ label: 'active member' }),
            pairMetric(METRIC.standbyHealthy, service, name, 'Minimum').with({
              label: 'redundancy (standby healthy)',
            }),
          ],
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
