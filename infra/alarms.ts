import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  type IAlarmAction,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import { Ec2Action, Ec2InstanceAction, SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { Config } from '../shared/config/schema.ts';
import { ALARM_KINDS, type AlarmKind } from '../shared/domain/plan.ts';
import { ROLES, type Role } from '../shared/domain/types.ts';
import { DIMENSION, METRIC } from '../shared/telemetry-names.ts';
import { alarmName, controllerMetric } from './telemetry.ts';

/** Schedule periods without a heartbeat before the heartbeat alarm fires. */
export const HEARTBEAT_PERIODS = 3;

/** Recovery alarms per pair with recoverMembers (one per member). */
export const RECOVER_ALARMS_PER_PAIR = ROLES.length;

/**
 * When failing runs raise the run-errors alarm. The controller's metrics reach CloudWatch once per invocation
 * (a fast-mode invocation publishes all its runs together), so the alarm's period is the schedule:
 * - one run per period: RunErrors ≥ 1 (Maximum) in 2 of the last 3 periods, so the second of three failing
 *   runs pages and one transient failure does not;
 * - fast mode, several runs per period: failures summed over one period ≥ 2. Three consecutive failing runs
 *   span at most two invocations, one of which holds at least two of them, so the alarm fires within three
 *   failing runs; one transient failure of one pair does not page.
 */
export function runErrorsRule(config: Config): {
  readonly statistic: 'Maximum' | 'Sum';
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
} {
  return config.controller.fastMode.enabled
    ? { statistic: 'Sum', threshold: 2, evaluationPeriods: 1, datapointsToAlarm: 1 }
    : { statistic: 'Maximum', threshold: 1, evaluationPeriods: 3, datapointsToAlarm: 2 };
}

/** Props of {@link ControllerAlarms}. */
export interface ControllerAlarmsProps {
  readonly config: Config;
  readonly deploymentName: string;
  /** The controller function, for its Errors metric. */
  readonly controller: IFunction;
  /** Every alarm notifies this topic. */
  readonly topic: ITopic;
  /** Add an EC2 auto-recovery alarm per member. */
  readonly recoverMembers: boolean;
}

/**
 * The deployment's alarms, all notifying the topic. Every alarm on the controller's metrics is deployment-wide,
 * so the stack's size does not grow with the pairs (the notification and the decision log name the pairs):
 * - one per alarm kind (ALARM_KINDS), `<deployment>.alarm.<kind>`: METRIC.alarmRaised{Kind} ≥ 1 in one
 *   schedule period (of the last two). The controller raises unknown-driven kinds only after several
 *   evaluations, so one period is enough. Every kind is a condition that holds while it lasts, so its return
 *   to OK (two periods without it) is news too;
 * - run errors, `<deployment>.controller.run-errors`: the controller ran but failed for some pairs
 *   ({@link runErrorsRule});
 * - traffic moved, `<deployment>.traffic.moved`: a move started (METRIC.failover, deployment-wide). A move is
 *   an event, not a condition: no OK notification;
 * - controller errors: Lambda Errors in 2 of the last 5 minutes;
 * - heartbeat missing: no METRIC.heartbeat for 3 schedule periods, missing data breaching (a heartbeat that
 *   stops arriving must alarm). Missing data is not breaching for the others: a silent controller is the
 *   heartbeat alarm's job, and one cause should raise one alarm;
 * - optionally per member: StatusCheckFailed_System for 2 minutes → `arn:aws:automate:<region>:ec2:recover`.
 */
export class ControllerAlarms extends Construct {
  /** Lambda errors of the controller. */
  readonly controllerErrors: Alarm;
  /** The controller stopped running. */
  readonly heartbeat: Alarm;
  /** The controller ran and failed for some pairs. */
  readonly runErrors: Alarm;
  /** Traffic moved between the members of some pair. */
  readonly trafficMoved: Alarm;
  /** One alarm per alarm kind. */
  readonly kinds: Readonly<Record<AlarmKind, Alarm>>;
  /** StatusCheckFailed_System → EC2 recover, per pair name and member (only with recoverMembers). */
  readonly recover: Readonly<Record<string, Readonly<Record<Role, Alarm>>>>;

  constructor(scope: Construct, id: string, props: ControllerAlarmsProps) {
    super(scope, id);
    const deployment = props.deploymentName;
    const notify = new SnsAction(props.topic);
    // The controller's metrics carry the deployment name as their service dimension, so two deployments in
    // one account and Region never answer each other's alarms.
    const service = deployment;
    // The controller publishes once per invocation, at least once per schedule period.
    const period = Duration.seconds(props.config.controller.schedule);
    const conditions: Alarm[] = [];

    this.controllerErrors = new Alarm(this, 'ControllerErrors', {
      alarmName: alarmName.controllerErrors(deployment),
      alarmDescription:
        'The vpn-failover controller Lambda failed in 2 of the last 5 minutes (see its log group).',
      metric: props.controller.metricErrors({ period: Duration.minutes(1), statistic: 'Sum' }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 5,
      datapointsToAlarm: 2,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    conditions.push(this.controllerErrors);

    this.heartbeat = new Alarm(this, 'Heartbeat', {
      alarmName: alarmName.heartbeat(deployment),
      alarmDescription:
        'The vpn-failover controller has not reported a run for 3 schedule periods: failover is not being watched.',
      metric: controllerMetric(METRIC.heartbeat, { service, statistic: 'SampleCount', period }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: HEARTBEAT_PERIODS,
      datapointsToAlarm: HEARTBEAT_PERIODS,
      treatMissingData: TreatMissingData.BREACHING,
    });
    conditions.push(this.heartbeat);

    const rule = runErrorsRule(props.config);
    this.runErrors = new Alarm(this, 'RunErrors', {
      alarmName: alarmName.runErrors(deployment),
      alarmDescription:
        'The vpn-failover controller runs but fails for some pairs (a route write denied, a state conflict, an unreadable state item): those pairs are not being looked after. See the controller log group.',
      metric: controllerMetric(METRIC.runErrors, { service, statistic: rule.statistic, period }),
      threshold: rule.threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: rule.evaluationPeriods,
      datapointsToAlarm: rule.datapointsToAlarm,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    conditions.push(this.runErrors);

    const kinds = {} as Record<AlarmKind, Alarm>;
    for (const kind of ALARM_KINDS) {
      kinds[kind] = new Alarm(this, `Kind-${kind}`, {
        alarmName: alarmName.kind(deployment, kind),
        alarmDescription: `Some pair raises "${kind}" (see the alarm runbook in docs/operations.md; the controller's decision log names the pairs).`,
        metric: controllerMetric(METRIC.alarmRaised, {
          service,
          dimensions: { [DIMENSION.kind]: kind },
          statistic: 'Maximum',
          period,
        }),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // Fires on one period; clears only after two without it, so one period the controller's records
        // happen to miss (a slow invocation) does not send OK and ALARM again.
        evaluationPeriods: 2,
        datapointsToAlarm: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      conditions.push(kinds[kind]);
    }
    this.kinds = kinds;

    for (const alarm of conditions) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }

    this.trafficMoved = new Alarm(this, 'TrafficMoved', {
      alarmName: alarmName.trafficMoved(deployment),
      alarmDescription:
        "Traffic moved between the members of a pair (the controller's decision log and the pair's history say which and why).",
      metric: controllerMetric(METRIC.failover, { service, statistic: 'Sum', period }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    // A move is an event, not a condition: its return to OK a period later is not news.
    this.trafficMoved.addAlarmAction(notify);

    const recover: Record<string, Record<Role, Alarm>> = {};
    if (props.recoverMembers) {
      for (const pair of props.config.pairs) {
        const scopeOfPair = new Construct(this, `Pair-${pair.name}`);
        const actions = [new Ec2Action(Ec2InstanceAction.RECOVER), notify];
        recover[pair.name] = Object.fromEntries(
          ROLES.map((role) => [
            role,
            recoveryAlarm(scopeOfPair, deployment, pair.name, role, pair[role].instanceId, actions),
          ]),
        ) as Record<Role, Alarm>;
      }
    }
    this.recover = recover;
  }

  /** The deployment-wide alarms (not the per-member recovery alarms): what the dashboard's status widget shows. */
  deploymentWide(): Alarm[] {
    return [
      this.heartbeat,
      this.controllerErrors,
      this.runErrors,
      this.trafficMoved,
      ...ALARM_KINDS.map((kind) => this.kinds[kind]),
    ];
  }

  /** Every alarm of this construct. */
  all(): Alarm[] {
    return [
      ...this.deploymentWide(),
      ...Object.values(this.recover).flatMap((members) => ROLES.map((role) => members[role])),
    ];
  }
}

function recoveryAlarm(
  scope: Construct,
  deployment: string,
  pair: string,
  role: Role,
  instanceId: string,
  actions: IAlarmAction[],
): Alarm {
  // StatusCheckFailed_System is free, 0/1 at 1-minute frequency
  // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/viewing_metrics_with_cloudwatch.html#status-check-metrics).
  const alarm = new Alarm(scope, `Recover-${role}`, {
    alarmName: alarmName.recover(deployment, pair, role),
    alarmDescription: `Pair ${pair}: the ${role} ${instanceId} failed its system status check for 2 minutes; EC2 recovers it.`,
    metric: new Metric({
      namespace: 'AWS/EC2',
      metricName: 'StatusCheckFailed_System',
      dimensionsMap: { InstanceId: instanceId },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    }),
    threshold: 1,
    comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluationPeriods: 2,
    // A stopped instance publishes nothing; that must not trigger a recovery.
    treatMissingData: TreatMissingData.MISSING,
  });
  for (const action of actions) alarm.addAlarmAction(action);
  return alarm;
}
