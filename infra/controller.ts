import { ArnFormat, CfnResource, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Match, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { type IGrantable, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Schedule, ScheduleExpression, ScheduleTargetInput, TimeWindow } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { chunk } from '../shared/concurrency.ts';
import { parseConfig } from '../shared/config/load.ts';
import { agentEnabled, type Config } from '../shared/config/schema.ts';
import { SCHEDULE_INPUT } from '../shared/controller/events.ts';
import { controllerTimeoutSeconds, LAMBDA_MAX_TIMEOUT_SECONDS } from '../shared/controller/timing.ts';
import { InputError, type InputProblem } from '../shared/errors.ts';
import { ENV, METRICS_NAMESPACE, TABLE_KEYS } from '../shared/telemetry-names.ts';
import { MemberAgent } from './agent.ts';
import { ControllerAlarms, HEARTBEAT_PERIODS, RECOVER_ALARMS_PER_PAIR } from './alarms.ts';
import {
  type AddFunctionProps,
  ControllerFunction,
  type ControllerFunctionProps,
  writeConfigFile,
} from './controller-function.ts';
import { ControllerDashboard } from './dashboard.ts';
import {
  elasticIpStatements,
  isPerPair,
  observeStatements,
  probeStatements,
  routeWriteStatements,
  stateStatements,
  tunnelReadStatements,
  wildcardFinding,
} from './permissions.ts';
import { attachPacked, pairsThatFit, rolePolicyExcess, rolePolicySize } from './policy-size.ts';
import { ProbeDocument } from './probe-document.ts';
import { type ResizeHost, ResizeWorkflow } from './resize-workflow.ts';
import { alarmName, POWERTOOLS_NAMESPACE_ENV, POWERTOOLS_SERVICE_ENV } from './telemetry.ts';

/** The controller Lambda's entry, relative to the repository root. */
export const CONTROLLER_ENTRY = 'functions/controller/handler.ts';

/** Instance ids per EC2 state-change rule: keeps each event pattern under EventBridge's 2,048-character quota. */
export const INSTANCE_IDS_PER_RULE = 50;

/**
 * Events older than this are dropped rather than delivered late, and none is retried: every trigger only means
 * "look now", and the next schedule looks anyway
 * (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html).
 */
export const MAX_EVENT_AGE = Duration.seconds(60);

const DEPLOYMENT_NAME = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
/**
 * CloudFormation's limit on resources in one stack (CloudFormation quotas,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html).
 */
export const STACK_RESOURCE_LIMIT = 500;

/** CloudWatch: Period × EvaluationPeriods ≤ 1 day below 1-hour periods, ≤ 7 days otherwise (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html). */
const maxAlarmWindowSeconds = (period: number): number => (period < 3600 ? 86_400 : 604_800);

/** Props of {@link VpnFailoverController}. */
export interface VpnFailoverControllerProps {
  /** The configuration (docs/configuration.md), e.g. from `loadConfigFile`. Validated again here. */
  readonly config: Config;
  /**
   * Names the alarms (`<name>.…`) and the dashboard; unique per account and Region. [A-Za-z][A-Za-z0-9-], at
   * most 64 characters.
   * @default the stack name
   */
  readonly deploymentName?: string;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the state table, the topic key and the log groups when the stack is deleted. RETAIN keeps
   * the pairs' state and history (and turns on the table's deletion protection).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Add an EC2 auto-recovery alarm (StatusCheckFailed_System → recover) for every member: two resources per
   * pair (construction fails with the count when it would not fit; IAM's policy size limits a stack to fewer
   * pairs first, see policy-size.ts).
   * @default false
   */
  readonly recoverMembers?: boolean;
  /** Subscribe this address to the alarm topic. @default config.notifications.email (none when unset) */
  readonly notificationEmail?: string;
  /** Controller memory in MB. @default 256 */
  readonly memorySize?: number;
}

/** Problems with the props that the config schema cannot see (limits of the AWS resources they become). */
export function propsProblems(
  config: Config,
  props: VpnFailoverControllerProps,
  deploymentName: string,
): InputProblem[] {
  const problems: InputProblem[] = [];
  if (!DEPLOYMENT_NAME.test(deploymentName)) {
    problems.push({
      path: 'deploymentName',
      message: `expected [A-Za-z][A-Za-z0-9-], at most 64 characters (got ${JSON.stringify(deploymentName)})`,
    });
  }
  const timeout = controllerTimeoutSeconds(config);
  if (timeout > LAMBDA_MAX_TIMEOUT_SECONDS) {
    problems.push({
      path: 'controller.schedule',
      message: `fast mode needs a Lambda timeout of the schedule plus one evaluation = ${timeout} s, above Lambda's ${LAMBDA_MAX_TIMEOUT_SECONDS} s; use a shorter schedule (at most ${Math.floor((LAMBDA_MAX_TIMEOUT_SECONDS - (timeout - config.controller.schedule)) / 60)}m) or disable fast mode`,
    });
  }
  const { schedule } = config.controller;
  if (schedule * HEARTBEAT_PERIODS > maxAlarmWindowSeconds(schedule)) {
    problems.push({
      path: 'controller.schedule',
      message: `the heartbeat alarm watches ${HEARTBEAT_PERIODS} schedule periods, longer than CloudWatch allows; use a schedule of at most 56h`,
    });
  }
  if (
    props.memorySize !== undefined &&
    !(Number.isInteger(props.memorySize) && props.memorySize >= 128 && props.memorySize <= 10_240)
  ) {
    problems.push({
      path: 'memorySize',
      message: `expected an integer from 128 to 10240 MB (got ${props.memorySize})`,
    });
  }
  if (props.notificationEmail !== undefined && !EMAIL.test(props.notificationEmail)) {
    problems.push({
      path: 'notificationEmail',
      message: `expected an email address (got ${JSON.stringify(props.notificationEmail)})`,
    });
  }
  return problems;
}

/**
 * Everything the failover controller needs in one account and Region:
 * - the controller Lambda (nodejs24.x, arm64, no reserved concurrency, no async retries, 60 s maximum event age),
 *   with the configuration bundled as JSON;
 * - its triggers: an EventBridge Scheduler rate schedule, EC2 state changes of the managed instances, and (with
 *   recoverMembers) state changes of the member recovery alarms;
 * - the DynamoDB state table, the SSM probe document, the encrypted alarm topic (which only this deployment's
 *   CloudWatch alarms and the grantNotify principals may publish to), the alarms and a dashboard;
 * - when some pair has the agent enabled, the member agent (agent.ts): its report table, whose stream of changes
 *   invokes the controller, the members' policy, and its installer with one State Manager association per pair;
 * - a check that the stack stays within CloudFormation's 500 resources (recoverMembers adds 2 per pair, the agent 1) and
 *   that each role's policies stay within IAM's size quotas (policy-size.ts);
 * - least-privilege IAM for all of it (see permissions.ts).
 * The resize workflow builds on `table`, `topic`, `probeDocumentName`, `config`, `addFunction` and the grant
 * methods.
 */
export class VpnFailoverController extends Construct implements ResizeHost {
  /** The validated configuration, with defaults filled in. */
  readonly config: Config;
  /** Alarm-name prefix and dashboard name. */
  readonly deploymentName: string;
  /** Pair state and history (pk/sk strings, TTL on `expiresAt`). */
  readonly table: Table;
  /** Every alarm notifies this topic (KMS-encrypted, TLS only). */
  readonly topic: Topic;
  /** The topic's key; publishers need kms:GenerateDataKey and kms:Decrypt on it (grantNotify adds them). */
  readonly topicKey: Key;
  /** The SSM Command document of the daemon probe. */
  readonly probeDocumentName: string;
  /** The controller Lambda. */
  readonly controller: ControllerFunction;
  /** The controller's schedule. */
  readonly schedule: Schedule;
  /** The alarms. */
  readonly alarms: ControllerAlarms;
  /** The dashboard. */
  readonly dashboard: ControllerDashboard;
  /** The zero-downtime resize workflow (Step Functions) and its step Lambda. */
  readonly resize: ResizeWorkflow;
  /** The member agent's table, policy and installer; undefined when no pair has the agent enabled. */
  readonly agent: MemberAgent | undefined;

  private readonly configFile: string;
  private readonly logRetention: RetentionDays;
  private readonly removalPolicy: RemovalPolicy;

  constructor(scope: Construct, id: string, props: VpnFailoverControllerProps) {
    super(scope, id);
    const config = parseConfig(props.config, 'VpnFailoverController config');
    const deploymentName = props.deploymentName ?? Stack.of(this).stackName;
    const problems = propsProblems(config, props, deploymentName);
    if (problems.length > 0) throw new InputError('VpnFailoverController props', problems);

    this.config = config;
    this.deploymentName = deploymentName;
    this.logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.configFile = writeConfigFile(this, config);

    this.table = new Table(this, 'State', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // AWS-managed key: encrypted at rest with every use of the key in CloudTrail, no key to administer.
      encryption: TableEncryption.AWS_MANAGED,
      timeToLiveAttribute: TABLE_KEYS.ttlAttribute,
      removalPolicy: this.removalPolicy,
      deletionProtection: this.removalPolicy === RemovalPolicy.RETAIN,
    });

    this.topicKey = new Key(this, 'TopicKey', {
      description: `Encrypts the ${deploymentName} vpn-failover alarm topic`,
      enableKeyRotation: true,
      removalPolicy: this.removalPolicy,
    });
    // CloudWatch alarms publish to an encrypted topic only if the key lets them (the aws/sns key does not).
    this.topicKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowCloudWatchAlarmsToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
      }),
    );
    this.topic = new Topic(this, 'Alarms', {
      displayName: `vpn-failover ${deploymentName}`,
      masterKey: this.topicKey,
      enforceSSL: true,
    });
    // enforceSSL makes the topic policy replace SNS's default one, so CloudWatch may publish only if this
    // statement says so; it is confined to this account's alarms of this deployment (confused deputy).
    // https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: 'AllowThisDeploymentsAlarmsToPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'cloudwatch',
              resource: 'alarm',
              resourceName: `${alarmName.prefix(deploymentName)}*`,
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      }),
    );
    const email = props.notificationEmail ?? config.notifications.email;
    if (email) this.topic.addSubscription(new EmailSubscription(email));

    this.probeDocumentName = new ProbeDocument(this, 'ProbeDocument').documentName;

    this.controller = this.addFunction('Controller', {
      entry: CONTROLLER_ENTRY,
      description: `vpn-failover controller (${deploymentName}): health-checks the pairs and moves routes`,
      timeout: Duration.seconds(controllerTimeoutSeconds(config)),
      ...(props.memorySize !== undefined ? { memorySize: props.memorySize } : {}),
      environment: {
        [POWERTOOLS_SERVICE_ENV]: deploymentName,
        [POWERTOOLS_NAMESPACE_ENV]: METRICS_NAMESPACE,
      },
      // No reserved concurrency: an account's unreserved pool may not go below 100, so an account whose
      // concurrency quota is 10 (new accounts) cannot reserve any
      // (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html), and an EC2 event must not
      // wait behind a fast-mode invocation. Overlapping runs are serialised by the state table instead: each
      // pair's conditional write on its version, and the writer lease around route writes.
    });
    this.controller.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: MAX_EVENT_AGE });
    // Before the controller's grants, so the packing of its per-pair statements knows the room the agent's
    // stream and table permissions take.
    this.agent = config.pairs.some((p) => agentEnabled(config, p))
      ? new MemberAgent(this, 'Agent', { config, deploymentName, controller: this.controller })
      : undefined;
    // No grantNotify: the controller reports through metrics and alarms, not by publishing to the topic.
    this.grantControl(this.controller, this.agent?.readStatements() ?? []);

    const scheduleRole = new Role(this, 'ScheduleRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
      }),
      description: `Lets EventBridge Scheduler invoke the ${deploymentName} vpn-failover controller`,
    });
    const controllerLogicalId = Stack.of(this).resolve(
      (this.controller.node.defaultChild as CfnFunction).logicalId,
    );
    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${controllerLogicalId}.Arn>:*]`,
      reason:
        "CDK's scheduler LambdaInvoke target grants lambda:InvokeFunction on the controller and its versions (ARN:*); the role can invoke nothing else.",
    });
    this.schedule = new Schedule(this, 'Schedule', {
      description: `Runs the ${deploymentName} vpn-failover controller`,
      schedule: ScheduleExpression.rate(Duration.minutes(config.controller.schedule / 60)),
      timeWindow: TimeWindow.off(),
      target: new LambdaInvoke(this.controller, {
        role: scheduleRole,
        input: ScheduleTargetInput.fromObject(SCHEDULE_INPUT),
        retryAttempts: 0,
        maxEventAge: MAX_EVENT_AGE,
      }),
    });

    const target = new LambdaFunction(this.controller, { retryAttempts: 0, maxEventAge: MAX_EVENT_AGE });
    const instanceIds = config.pairs.flatMap((p) => [p.primary.instanceId, p.standby.instanceId]);
    chunk(instanceIds, INSTANCE_IDS_PER_RULE).forEach((ids, index) => {
      new Rule(this, index === 0 ? 'InstanceStateChange' : `InstanceStateChange${index + 1}`, {
        description: `EC2 state changes of the instances managed by ${deploymentName}`,
        eventPattern: {
          source: ['aws.ec2'],
          detailType: ['EC2 Instance State-change Notification'],
          detail: { 'instance-id': ids },
        },
        targets: [target],
      });
    });
    const recoverMembers = props.recoverMembers ?? false;
    // Only the recovery alarms watch something the controller does not already know (EC2's own status
    // check); the other alarms are the controller's conclusions, and feeding them back would only re-run it.
    if (recoverMembers) {
      new Rule(this, 'AlarmStateChange', {
        description: `State changes of the ${deploymentName} member recovery alarms`,
        eventPattern: {
          source: ['aws.cloudwatch'],
          detailType: ['CloudWatch Alarm State Change'],
          detail: { alarmName: Match.prefix(alarmName.pairPrefix(deploymentName)) },
        },
        targets: [target],
      });
    }

    this.alarms = new ControllerAlarms(this, 'Alarm', {
      config,
      deploymentName,
      controller: this.controller,
      topic: this.topic,
      recoverMembers,
    });
    this.dashboard = new ControllerDashboard(this, 'Dashboard', {
      config,
      deploymentName,
      controller: this.controller,
      alarms: this.alarms.deploymentWide(),
    });

    this.resize = new ResizeWorkflow(this, 'Resize', { controller: this });

    // Both of CloudFormation's and IAM's limits are checked here, so synth fails before anything deploys.
    const resources = this.node.findAll().filter((c) => CfnResource.isCfnResource(c)).length;
    const limitProblems = [
      ...(resources > STACK_RESOURCE_LIMIT
        ? [
            resourceLimitProblem(
              resources,
              config.pairs.length,
              recoverMembers,
              this.agent?.associations.size ?? 0,
            ),
          ]
        : []),
      ...this.policySizeProblems(),
    ];
    if (limitProblems.length > 0) throw new InputError('VpnFailoverController props', limitProblems);
  }

  /**
   * Add a Lambda with the controller's defaults (runtime, architecture, bundled configuration, log group and
   * retention) and the common environment: ENV.configPath, ENV.tableName, ENV.probeDocument, ENV.topicArn. It
   * starts with no AWS permissions beyond its logs: use the grant methods.
   */
  addFunction(id: string, props: AddFunctionProps): ControllerFunction {
    const functionProps: ControllerFunctionProps = {
      entry: props.entry,
      configFile: this.configFile,
      logRetention: this.logRetention,
      logRemovalPolicy: this.removalPolicy,
      environment: {
        [ENV.tableName]: this.table.tableName,
        [ENV.probeDocument]: this.probeDocumentName,
        [ENV.topicArn]: this.topic.topicArn,
        ...props.environment,
      },
      ...(props.handler ? { handler: props.handler } : {}),
      ...(props.description ? { description: props.description } : {}),
      ...(props.timeout ? { timeout: props.timeout } : {}),
      ...(props.memorySize !== undefined ? { memorySize: props.memorySize } : {}),
    };
    return new ControllerFunction(this, id, functionProps);
  }

  /** Read the pairs' EC2 state and write their routes (and Elastic IPs, where configured). */
  grantRouteControl(grantee: IGrantable): void {
    addAll(this, grantee, this.routeControlStatements());
  }

  /** Run the daemon probe on the members and read its results. */
  grantProbe(grantee: IGrantable): void {
    addAll(this, grantee, this.probeGrantStatements());
  }

  /** Read the tunnel metrics. */
  grantTunnelRead(grantee: IGrantable): void {
    addAll(this, grantee, tunnelReadStatements(this.config));
  }

  /** Read and conditionally write pair state, leases and history. */
  grantState(grantee: IGrantable): void {
    addAll(this, grantee, stateStatements(this.table.tableArn));
  }

  /** Publish to the alarm topic: sns:Publish on the topic, and the two KMS actions SNS needs on its key. */
  grantNotify(grantee: IGrantable): void {
    addAll(this, grantee, [
      new PolicyStatement({
        sid: 'PublishNotifications',
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
      }),
    ]);
    this.grantNotifyKey(grantee);
  }

  /**
   * Only the two KMS actions SNS needs on the topic's key, for a principal whose integration already grants
   * sns:Publish (a Step Functions SnsPublish task grants it to its state machine).
   */
  grantNotifyKey(grantee: IGrantable): void {
    addAll(this, grantee, [
      new PolicyStatement({
        sid: 'EncryptNotifications',
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [this.topicKey.keyArn],
      }),
    ]);
  }

  /**
   * Everything the controller does: observe, probe, read tunnels, keep state, move routes; plus `extra`
   * statements granted in the same policies, so a member or route table that both name is listed once.
   */
  grantControl(grantee: IGrantable, extra: readonly PolicyStatement[] = []): void {
    addAll(this, grantee, [
      ...this.routeControlStatements(),
      ...this.probeGrantStatements(),
      ...tunnelReadStatements(this.config),
      ...stateStatements(this.table.tableArn),
      ...extra,
    ]);
  }

  private routeControlStatements(): PolicyStatement[] {
    return [
      ...observeStatements(this.config),
      ...routeWriteStatements(this, this.config),
      ...elasticIpStatements(this, this.config),
    ];
  }

  private probeGrantStatements(): PolicyStatement[] {
    return probeStatements(this, this.config, this.probeDocumentName);
  }

  /** Every role of the construct whose policies would not fit IAM's size quotas, with the pairs that would. */
  private policySizeProblems(): InputProblem[] {
    const problems: InputProblem[] = [];
    for (const role of this.node.findAll().filter((c): c is Role => c instanceof Role)) {
      const size = rolePolicySize(role);
      const excess = rolePolicyExcess(size);
      if (excess.length === 0) continue;
      const pairs = this.config.pairs.length;
      const fitting = pairsThatFit(size, pairs);
      problems.push({
        path: 'config.pairs',
        message: `with ${pairs} pairs the IAM policies of role ${size.role} would not deploy: ${excess.join('; ')} (${IAM_QUOTAS_URL}); split the pairs over several configurations and stacks of at most ${fitting} pairs each`,
      });
    }
    return problems;
  }
}

const IAM_QUOTAS_URL = 'https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html';

/**
 * Add statements to the grantee's policy. A statement that names `*` (or an ENI wildcard) by design carries
 * its reason (permissions.ts `wildcardFinding`), which becomes the cdk-nag acknowledgement on the grantee.
 */
function addAll(scope: Construct, grantee: IGrantable, statements: readonly PolicyStatement[]): void {
  const principal = grantee.grantPrincipal;
  // Statements that name every member or route table are compacted and packed to fit IAM's quotas, after the
  // others so the packing knows the room they leave.
  const packed = principal instanceof Role ? statements.filter(isPerPair) : [];
  for (const statement of statements) {
    if (!packed.includes(statement)) principal.addToPrincipalPolicy(statement);
    const finding = wildcardFinding(scope, statement);
    if (finding && Construct.isConstruct(principal)) Validations.of(principal).acknowledge(finding);
  }
  if (principal instanceof Role && packed.length > 0) attachPacked(principal, packed);
}

/**
 * The stack would exceed CloudFormation's resource limit. Everything but the recovery alarms and the agent's
 * associations is a fixed number of resources plus two EventBridge resources per INSTANCE_IDS_PER_RULE
 * instances, far below the limit at the schema's 500 pairs; the recovery alarms are two per pair, the agent one
 * association per pair that runs it.
 */
function resourceLimitProblem(
  resources: number,
  pairs: number,
  recoverMembers: boolean,
  associations: number,
): InputProblem {
  const recoverAlarms = recoverMembers ? pairs * RECOVER_ALARMS_PER_PAIR : 0;
  const perPair = (recoverAlarms + associations) / pairs;
  const fitting = Math.max(
    0,
    Math.floor((STACK_RESOURCE_LIMIT - (resources - recoverAlarms - associations)) / perPair),
  );
  if (recoverAlarms === 0) {
    const advice =
      associations > 0
        ? ` of at most ${fitting} pairs each (the member agent adds an association per pair)`
        : '';
    return {
      path: 'config.pairs',
      message: `the stack would hold ${resources} resources, above CloudFormation's limit of ${STACK_RESOURCE_LIMIT}; split the pairs over several configurations and stacks${advice}`,
    };
  }
  return {
    path: 'recoverMembers',
    message: `recoverMembers with ${pairs} pairs needs ${recoverAlarms} alarms, so the stack would hold ${resources} resources, above CloudFormation's limit of ${STACK_RESOURCE_LIMIT}; turn recoverMembers off, or split the pairs over several stacks of at most ${fitting} pairs each`,
  };
}
