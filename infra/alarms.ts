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
import { ROLES, type Role } from '../shared/domain/types.ts';
import { METRIC } from '../shared/telemetry-names.ts';
import { alarmName, controllerMetric, pairMetric } from './telemetry.ts';

/** Schedule periods without a heartbeat before the heartbeat alarm fires. */
export const HEARTBEAT_PERIODS = 3;

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

/** The alarms of one pair. */
export interface PairAlarms {
  /** The member not carrying traffic has not been positively healthy for 3 minutes: no redundancy. */
  readonly degraded: Alarm;
  /** Neither member has been healthy for 2 minutes. */
  readonly bothUnhealthy: Alarm;
  /** Traffic moved (failover or failback) in the last minute. */
  readonly failover: Alarm;
  /** StatusCheckFailed_System → EC2 recover, per member (only with recoverMembers). */
  readonly recover: Partial<Record<Role, Alarm>>;
}

/**
 * The deployment's alarms, all notifying the topic:
 * - controller errors: Lambda Errors in 2 of the last 5 minutes;
 * - controller heartbeat missing: no METRIC.heartbeat for 3 schedule periods, missing data breaching
 *   (aws-facts.md §5 "TreatMissingData": a heartbeat that stops arriving must alarm);
 * - per pair: degraded (METRIC.standbyHealthy < 1 for 3 minutes), both unhealthy (METRIC.bothUnhealthy ≥ 1 throughout 2 minutes),
 *   failover occurred (METRIC.failover ≥ 1). Missing pair data is not breaching: a silent controller is the
 *   heartbeat alarm's job, and one missing cause should raise one alarm, not one per pair;
 * - optionally per member: StatusCheckFailed_System for 2 minutes → `arn:aws:automate:<region>:ec2:recover`.
 */
export class ControllerAlarms extends Construct {
  /** Lambda errors of the controller. */
  readonly controllerErrors: Alarm;
  /** The controller stopped running. */
  readonly heartbeat: Alarm;
  /** Per pair name. */
  readonly pairs: Readonly<Record<string, PairAlarms>>;

  constructor(scope: Construct, id: string, props: ControllerAlarmsProps) {
    super(scope, id);
    const deployment = props.deploymentName;
    const notify = new SnsAction(props.topic);
    // The controller's metrics carry the deployment name as their service dimension, so two deployments in
    // one account and Region never answer each other's alarms.
    const service = deployment;

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

    const schedule = Duration.seconds(props.config.controller.schedule);
    this.heartbeat = new Alarm(this, 'Heartbeat', {
      alarmName: alarmName.heartbeat(deployment),
      alarmDescription:
        'The vpn-failover controller has not reported a run for 3 schedule periods: failover is not being watched.',
      metric: controllerMetric(METRIC.heartbeat, { service, statistic: 'SampleCount', period: schedule }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: HEARTBEAT_PERIODS,
      datapointsToAlarm: HEARTBEAT_PERIODS,
      treatMissingData: TreatMissingData.BREACHING,
    });

    for (const alarm of [this.controllerErrors, this.heartbeat]) {
      alarm.addAlarmAction(notify);
      alarm.addOkAction(notify);
    }

    const pairs: Record<string, PairAlarms> = {};
    for (const pair of props.config.pairs) {
      const scopeOfPair = new Construct(this, `Pair-${pair.name}`);
      const degraded = new Alarm(scopeOfPair, 'Degraded', {
        alarmName: alarmName.pair(deployment, pair.name, 'degraded'),
        alarmDescription: `Pair ${pair.name}: the member not carrying traffic has not been healthy for 3 minutes (no redundancy).`,
        metric: pairMetric(METRIC.standbyHealthy, service, pair.name, 'Maximum'),
        threshold: 1,
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      const bothUnhealthy = new Alarm(scopeOfPair, 'BothUnhealthy', {
        alarmName: alarmName.pair(deployment, pair.name, 'both-unhealthy'),
        alarmDescription: `Pair ${pair.name}: neither member has been healthy for 2 minutes; traffic has nowhere useful to go.`,
        metric: pairMetric(METRIC.bothUnhealthy, service, pair.name, 'Minimum'),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // Two minutes, so one run in which both probes go unanswered does not page anyone.
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      const failover = new Alarm(scopeOfPair, 'Failover', {
        alarmName: alarmName.pair(deployment, pair.name, 'failover'),
        alarmDescription: `Pair ${pair.name}: traffic moved between members (see the controller's decision log).`,
        metric: pairMetric(METRIC.failover, service, pair.name, 'Sum'),
        threshold: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      for (const alarm of [degraded, bothUnhealthy]) {
        alarm.addAlarmAction(notify);
        alarm.addOkAction(notify);
      }
      // A move is an event, not a condition: its return to OK a minute later is not news.
      failover.addAlarmAction(notify);

      const recover: Partial<Record<Role, Alarm>> = {};
      if (props.recoverMembers) {
        for (const role of ROLES) {
          recover[role] = this.recoveryAlarm(
            scopeOfPair,
            deployment,
            pair.name,
            role,
            pair[role].instanceId,
            [new Ec2Action(Ec2InstanceAction.RECOVER), notify],
          );
        }
      }
      pairs[pair.name] = { degraded, bothUnhealthy, failover, recover };
    }
    this.pairs = pairs;
  }

  /** Every alarm of this construct. */
  all(): Alarm[] {
    return [
      this.controllerErrors,
      this.heartbeat,
      ...Object.values(this.pairs).flatMap((p) => [
        p.degraded,
        p.bothUnhealthy,
        p.failover,
        ...Object.values(p.recover).filter((a): a is Alarm => a !== undefined),
      ]),
    ];
  }

  private recoveryAlarm(
    scope: Construct,
    deployment: string,
    pair: string,
    role: Role,
    instanceId: string,
    actions: IAlarmAction[],
  ): Alarm {
    // StatusCheckFailed_System is free, 0/1 at 1-minute frequency (aws-facts.md §7 "EC2 status-check metrics").
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
}
