import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  GraphWidgetView,
  type IWidget,
  LogQueryVisualizationType,
  LogQueryWidget,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { Config } from '../shared/config/schema.ts';
import { ALARM_KINDS } from '../shared/domain/plan.ts';
import { ROLES, type SignalName } from '../shared/domain/types.ts';
import { DIMENSION, METRIC, PAIR_STATE } from '../shared/telemetry-names.ts';
import { controllerMetric } from './telemetry.ts';

const SIGNALS: readonly SignalName[] = ['instance', 'daemon', 'tunnel'];

/**
 * Pairs that get a row of their own. A dashboard holds at most 500 widgets and a row is 3 (Dashboard Body
 * Structure, https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html);
 * larger deployments read every pair from the fleet graphs, which plot one series per pair.
 */
export const DASHBOARD_PAIR_ROWS = 50;

/** The controller function and the log group its pair-state lines go to. */
export interface DashboardController extends IFunction {
  readonly functionLogGroup: ILogGroup;
}

/** A Logs Insights query over the controller's pair-state lines, of one pair or of all. */
export function pairStateQuery(stats: string, pair?: string): string[] {
  const pairFilter = pair === undefined ? '' : ` and ${PAIR_STATE.pair} = "${pair}"`;
  return [`filter msg = "${PAIR_STATE.message}"${pairFilter}`, stats];
}

/** Props of {@link ControllerDashboard}. */
export interface ControllerDashboardProps {
  readonly config: Config;
  readonly deploymentName: string;
  readonly controller: DashboardController;
  /** The deployment-wide alarms (an alarm status widget shows at most 100). */
  readonly alarms: readonly Alarm[];
}

/**
 * One dashboard per deployment: the alarms and the controller's health on top, then the alarm kinds raised,
 * runs that failed and moves (the controller's deployment-wide metrics); the active member and the moves of
 * every pair; and, for up to DASHBOARD_PAIR_ROWS pairs, one row per pair with the member carrying traffic (0
 * primary, 1 standby), every signal of both members (1 healthy, 0 unhealthy, -1 unknown) and the moves over
 * time. The per-pair graphs are CloudWatch Logs Insights widgets over the controller's pair-state log lines
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Stats.html), not custom metrics:
 * they cost nothing a month, only the data each view scans
 * (https://aws.amazon.com/cloudwatch/pricing/, docs/cost.md).
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
    const logGroupNames = [fn.functionLogGroup.logGroupName];
    const bin = (seconds: number) => `bin(${seconds}s)`;
    const pairGraph = (
      title: string,
      stats: string,
      options: { pair?: string; view?: LogQueryVisualizationType; width: number },
    ) =>
      new LogQueryWidget({
        title,
        logGroupNames,
        queryLines: pairStateQuery(stats, options.pair),
        view: options.view ?? LogQueryVisualizationType.LINE,
        width: options.width,
        height: 6,
      });

    const rows: IWidget[][] = [
      [
        new TextWidget({
          markdown: `# vpn-failover: ${props.deploymentName}\n${pairs.length} pairs. Active member: 0 = primary, 1 = standby. Signals: 1 healthy, 0 unhealthy, -1 unknown. ${
            withRows
              ? 'One row per pair below.'
              : `More than ${DASHBOARD_PAIR_ROWS} pairs: every pair is in the fleet graphs, and a pair's signals are in the controller's "${PAIR_STATE.message}" log lines (Logs Insights).`
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
        pairGraph(
          'Active member of every pair (0 primary, 1 standby)',
          `stats max(${PAIR_STATE.activeMember}) by ${bin(period.toSeconds())}, ${PAIR_STATE.pair}`,
          { width: 12 },
        ),
        pairGraph(
          'Moves of every pair',
          `stats sum(${PAIR_STATE.moved}) by ${bin(period.toSeconds())}, ${PAIR_STATE.pair}`,
          { view: LogQueryVisualizationType.BAR, width: 12 },
        ),
      ],
    ];

    for (const pair of withRows ? pairs : []) {
      const name = pair.name;
      const signals = ROLES.flatMap((role) =>
        SIGNALS.map((signal) => `min(${PAIR_STATE.signals}.${role}.${signal}) as ${role}_${signal}`),
      );
      rows.push([
        pairGraph(
          `${name}: active member (0 primary, 1 standby)`,
          `stats max(${PAIR_STATE.activeMember}) as active_member by ${bin(minute.toSeconds())}`,
          { pair: name, width: 8 },
        ),
        pairGraph(
          `${name}: signal health (1 healthy, 0 unhealthy, -1 unknown)`,
          `stats ${signals.join(', ')} by ${bin(minute.toSeconds())}`,
          { pair: name, width: 10 },
        ),
        pairGraph(
          `${name}: failovers`,
          `stats sum(${PAIR_STATE.moved}) as moves by ${bin(Duration.minutes(5).toSeconds())}`,
          { pair: name, view: LogQueryVisualizationType.BAR, width: 6 },
        ),
      ]);
    }

    this.dashboard = new Dashboard(this, 'Resource', {
      dashboardName: props.deploymentName,
      defaultInterval: Duration.hours(3),
      widgets: rows,
    });
  }
}
