import { Duration, Stack, Validations } from 'aws-cdk-lib';
import { Effect, type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IAlias, IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import {
  Choice,
  Condition,
  DefinitionBody,
  Errors,
  Fail,
  type IChainable,
  JsonPath,
  Pass,
  Result,
  type State,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke, SnsPublish } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { IncorrectInstanceStateError, InsufficientCapacityError } from '../shared/aws/errors.ts';
import type { Config } from '../shared/config/schema.ts';
import { LeaseHeldError, RouteNotConfirmedError, ThrottledError } from '../shared/errors.ts';
import {
  MemberCarriesTrafficError,
  MemberNotHealthyError,
  PreflightFailedError,
  RESIZE_FAILED,
  RESIZE_ROLLED_BACK,
  RoutesUnreadableError,
  SoakFailedError,
  StopTimeoutError,
} from '../shared/resize/errors.ts';
import { HEALTHY_POLL, SOAK_POLL_SECONDS, STOP_POLL, THROTTLE_RETRY } from '../shared/resize/policy.ts';
import { CHAIN_STATES, chainPrefix, chainState, RESIZE_STATES } from '../shared/resize/states.ts';
import { FIRST_POLL, type Stage, type StepName } from '../shared/resize/types.ts';
import type { AddFunctionProps } from './controller-function.ts';
import { perPair } from './permissions.ts';

/**
 * The zero-downtime resize (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html,
 * https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html): a Standard state machine,
 * started by hand, whose every EC2-calling step is the one resize Lambda (functions/resize/handler.ts) raising
 * typed errors. Step Functions' direct EC2 integrations would surface every EC2 error as Ec2.Ec2Exception, so
 * Retry/Catch could not tell a capacity error from throttling; the Lambda's error names can. Waiting is Wait +
 * Choice loops; the polling step raises a typed timeout error at its bound.
 *
 * Paths (state names in quotes are what the console and `vpn-failover resize` show):
 * - "Preflight" takes the lease or the execution ends "Refused" (nothing touched).
 * - "Resize first member: …" resizes the idle member; any failure → "Revert first member: …" → conclude.
 * - "Fail over to first member", then the "Soak" loop; a failure → "Roll back" (traffic back to the untouched
 *   member) → "Revert first member: …" → conclude.
 * - "Resize second member: …"; any failure → "Revert second member: …" → conclude.
 * - "Fail back" (or leave traffic), then "Conclude": traffic on a healthy member, lease released, history
 *   recorded; "Notify" publishes what happened; the execution ends Succeeded, or Failed with
 *   ResizeRolledBack, ResizeFailed, or the preflight's error (LeaseHeldError, PreflightFailedError...).
 */

/** The resize Lambda's entry, relative to the repository root. */
export const RESIZE_ENTRY = 'functions/resize/handler.ts';

/**
 * One step's Lambda timeout: a step observes the pair (the SSM probe may take controller.probeTimeout) and may
 * run the controller's failover (route writes and read-back), so it gets the probe timeout plus 60 s.
 */
export const resizeStepTimeoutSeconds = (config: Config): number => config.controller.probeTimeout + 60;

/**
 * The error a Lambda task raises when Lambda throttles the invoke (a concurrency or rate quota). The task's
 * default retry covers Lambda's service errors, not this one.
 */
export const LAMBDA_THROTTLED = 'Lambda.TooManyRequestsException';

/** Execution timeout: far above the bounded stages plus a long soak; a stuck execution still ends. */
const EXECUTION_TIMEOUT = Duration.hours(30);

/** What builds the state machine. */
export interface ResizeDefinitionProps {
  /** the resize Lambda */
  readonly step: IFunction;
  /** the topic told how each resize ended */
  readonly topic: ITopic;
  /** per-step task timeout @default 5 minutes */
  readonly taskTimeout?: Duration;
}

/**
 * Build the resize state machine's definition (JSONPath). It depends only on the step Lambda (or its alias) and
 * the topic.
 */
export function buildResizeDefinition(scope: Construct, props: ResizeDefinitionProps): IChainable {
  const taskTimeout = Timeout.duration(props.taskTimeout ?? Duration.minutes(5));

  /**
   * A Lambda step: payload {step, ...}, result at `resultPath`, retried with backoff on throttling (EC2's, as
   * the step's ThrottledError, and Lambda's own when the invoke itself is throttled) and on `retryOn`.
   */
  const step = (
    id: string,
    name: StepName,
    payload: Record<string, unknown>,
    resultPath: string,
    retryOn: readonly string[] = [],
  ): LambdaInvoke => {
    const task = new LambdaInvoke(scope, id, {
      lambdaFunction: props.step,
      payload: TaskInput.fromObject({ step: name, ...payload }),
      payloadResponseOnly: true,
      resultPath,
      taskTimeout,
      comment: `resize step "${name}"`,
    });
    task.addRetry({
      errors: [ThrottledError.NAME, LAMBDA_THROTTLED, ...retryOn],
      interval: Duration.seconds(THROTTLE_RETRY.intervalSeconds),
      maxAttempts: THROTTLE_RETRY.maxAttempts,
      backoffRate: THROTTLE_RETRY.backoffRate,
      maxDelay: Duration.seconds(THROTTLE_RETRY.maxDelaySeconds),
    });
    return task;
  };
  const ctx = { 'ctx.$': '$.ctx' };
  const catchInto = (task: LambdaInvoke, handler: IChainable, resultPath: string) =>
    task.addCatch(handler, { errors: [Errors.ALL], resultPath });

  // The end of every path: conclude, notify, end with the status the conclusion read from the pair.
  const conclude = step(
    RESIZE_STATES.conclude,
    'conclude',
    {
      'request.$': '$.request',
      'execution.$': '$.execution',
      'ctx.$': '$.ctx',
      'error.$': '$.error',
      'revertError.$': '$.revertError',
    },
    '$.outcome',
    [RouteNotConfirmedError.NAME],
  );
  const notify = new SnsPublish(scope, RESIZE_STATES.notify, {
    topic: props.topic,
    subject: JsonPath.stringAt('$.outcome.subject'),
    message: TaskInput.fromJsonPathAt('$.outcome.message'),
    resultPath: JsonPath.DISCARD,
  });
  const ended = new Choice(scope, RESIZE_STATES.ended)
    .when(
      Condition.stringEquals('$.outcome.status', 'succeeded'),
      new Succeed(scope, RESIZE_STATES.succeeded),
    )
    .when(
      Condition.stringEquals('$.outcome.status', 'refused'),
      new Fail(scope, RESIZE_STATES.refused, { errorPath: '$.error.Error', causePath: '$.outcome.message' }),
    )
    .when(
      Condition.stringEquals('$.outcome.status', 'rolled-back'),
      new Fail(scope, RESIZE_STATES.rolledBack, {
        error: RESIZE_ROLLED_BACK,
        causePath: '$.outcome.message',
      }),
    )
    .otherwise(
      new Fail(scope, RESIZE_STATES.failed, { error: RESIZE_FAILED, causePath: '$.outcome.message' }),
    );
  // A notification that cannot be sent must not change how the resize ended.
  notify.addCatch(ended, { errors: [Errors.ALL], resultPath: '$.notifyError' });
  conclude.next(notify).next(ended);
  const concludeFailed = new SnsPublish(scope, RESIZE_STATES.notifyConclusionFailed, {
    topic: props.topic,
    subject: 'vpn-failover: a resize could not conclude',
    message: TaskInput.fromObject({
      problem:
        'the resize could not conclude: check where traffic is and release the lease if it is still held',
      'execution.$': '$.execution',
      'request.$': '$.request',
      'error.$': '$.concludeError',
    }),
    resultPath: JsonPath.DISCARD,
  });
  const concludeFailedEnd = new Fail(scope, RESIZE_STATES.conclusionFailed, {
    error: RESIZE_FAILED,
    causePath: '$.concludeError.Cause',
  });
  concludeFailed.addCatch(concludeFailedEnd, { errors: [Errors.ALL], resultPath: '$.notifyError' });
  concludeFailed.next(concludeFailedEnd);
  catchInto(conclude, concludeFailed, '$.concludeError');

  /**
   * stop → wait until stopped → set type → start → wait until healthy, then `next`. Failures go to `onError`
   * with the error at `errorPath`.
   */
  const memberChain = (
    prefix: string,
    stage: Stage,
    to: 'target' | 'original',
    next: State,
    onError: IChainable,
    errorPath: string,
  ): State => {
    const member = { ...ctx, stage };
    const poll = { ...member, 'poll.$': '$.poll' };
    const guard = (task: LambdaInvoke) => {
      catchInto(task, onError, errorPath);
      return task;
    };
    const stop = guard(
      step(chainState(prefix, CHAIN_STATES.stop), 'stop', member, JsonPath.DISCARD, [
        RoutesUnreadableError.NAME,
      ]),
    );
    const pollStopped = new Pass(scope, chainState(prefix, CHAIN_STATES.watchStop), {
      result: Result.fromObject(FIRST_POLL),
      resultPath: '$.poll',
    });
    const waitStopped = new Wait(scope, chainState(prefix, CHAIN_STATES.waitStopped), {
      time: WaitTime.duration(Duration.seconds(STOP_POLL.intervalSeconds)),
    });
    const checkStopped = guard(
      step(chainState(prefix, CHAIN_STATES.checkStopped), 'checkStopped', poll, '$.poll'),
    );
    const modify = guard(
      step(chainState(prefix, CHAIN_STATES.modify), 'modify', { ...member, to }, JsonPath.DISCARD),
    );
    const start = guard(step(chainState(prefix, CHAIN_STATES.start), 'start', member, JsonPath.DISCARD));
    const pollHealthy = new Pass(scope, chainState(prefix, CHAIN_STATES.watchHealth), {
      result: Result.fromObject(FIRST_POLL),
      resultPath: '$.poll',
    });
    const waitHealthy = new Wait(scope, chainState(prefix, CHAIN_STATES.waitHealthy), {
      time: WaitTime.duration(Duration.seconds(HEALTHY_POLL.intervalSeconds)),
    });
    const checkHealthy = guard(
      step(chainState(prefix, CHAIN_STATES.checkHealthy), 'checkHealthy', poll, '$.poll'),
    );
    stop.next(pollStopped).next(waitStopped).next(checkStopped);
    checkStopped.next(
      new Choice(scope, chainState(prefix, CHAIN_STATES.isStopped))
        .when(Condition.booleanEquals('$.poll.done', true), modify)
        .otherwise(waitStopped),
    );
    modify.next(start).next(pollHealthy).next(waitHealthy).next(checkHealthy);
    checkHealthy.next(
      new Choice(scope, chainState(prefix, CHAIN_STATES.isHealthy))
        .when(Condition.booleanEquals('$.poll.done', true), next)
        .otherwise(waitHealthy),
    );
    return stop;
  };

  /** Revert a member to its original type when it is not running at it, then conclude. */
  const revertChain = (stage: Stage): State => {
    const prefix = chainPrefix('Revert', stage);
    const inspect = step(chainState(prefix, CHAIN_STATES.inspect), 'inspect', { ...ctx, stage }, '$.inspect');
    catchInto(inspect, conclude, '$.revertError');
    const chain = memberChain(prefix, stage, 'original', conclude, conclude, '$.revertError');
    inspect.next(
      new Choice(scope, chainState(prefix, CHAIN_STATES.revertNeeded))
        .when(Condition.booleanEquals('$.inspect.revertNeeded', true), chain)
        .otherwise(conclude),
    );
    return inspect;
  };
  const revertFirst = revertChain('first');
  const revertSecond = revertChain('second');

  const failback = step(RESIZE_STATES.failback, 'failback', ctx, JsonPath.DISCARD, [
    RouteNotConfirmedError.NAME,
  ]);
  catchInto(failback, conclude, '$.error');
  failback.next(conclude);

  const resizeSecond = memberChain(
    chainPrefix('Resize', 'second'),
    'second',
    'target',
    failback,
    revertSecond,
    '$.error',
  );
  const secondGate = new Choice(scope, RESIZE_STATES.secondGate)
    .when(Condition.booleanEquals('$.ctx.skip.second', true), failback)
    .otherwise(resizeSecond);

  const rollback = step(RESIZE_STATES.rollback, 'rollback', ctx, JsonPath.DISCARD, [
    RouteNotConfirmedError.NAME,
  ]);
  catchInto(rollback, conclude, '$.revertError');
  rollback.next(revertFirst);

  const soakWait = new Wait(scope, RESIZE_STATES.soakWait, {
    time: WaitTime.duration(Duration.seconds(SOAK_POLL_SECONDS)),
  });
  const soakCheck = step(RESIZE_STATES.soakCheck, 'soak', { ...ctx, 'poll.$': '$.poll' }, '$.poll');
  catchInto(soakCheck, rollback, '$.error');
  soakWait.next(soakCheck);
  soakCheck.next(
    new Choice(scope, RESIZE_STATES.soakOver)
      .when(Condition.booleanEquals('$.poll.done', true), secondGate)
      .otherwise(soakWait),
  );

  const failover = step(RESIZE_STATES.failover, 'failover', ctx, '$.poll', [RouteNotConfirmedError.NAME]);
  catchInto(failover, rollback, '$.error');
  failover.next(soakWait);

  const resizeFirst = memberChain(
    chainPrefix('Resize', 'first'),
    'first',
    'target',
    failover,
    revertFirst,
    '$.error',
  );
  const firstGate = new Choice(scope, RESIZE_STATES.firstGate)
    .when(Condition.booleanEquals('$.ctx.skip.first', true), failover)
    .otherwise(resizeFirst);

  const preflight = step(
    RESIZE_STATES.preflight,
    'preflight',
    { 'request.$': '$.request', 'execution.$': '$.execution' },
    '$.ctx',
  );
  catchInto(preflight, conclude, '$.error');
  preflight.next(firstGate);

  // Every slot a later state reads exists from the start: a JSONPath to a missing field is a runtime error.
  const start = new Pass(scope, RESIZE_STATES.start, {
    parameters: {
      'request.$': '$',
      'execution.$': '$$.Execution.Name',
      ctx: {},
      poll: FIRST_POLL,
      error: {},
      revertError: {},
    },
  });
  return start.next(preflight);
}

/** Errors the definition matches by name, for tests and documentation: every one is a typed error's NAME. */
export const RESIZE_ERROR_NAMES: readonly string[] = [
  ThrottledError.NAME,
  RouteNotConfirmedError.NAME,
  RoutesUnreadableError.NAME,
  LeaseHeldError.NAME,
  PreflightFailedError.NAME,
  MemberCarriesTrafficError.NAME,
  StopTimeoutError.NAME,
  MemberNotHealthyError.NAME,
  SoakFailedError.NAME,
  InsufficientCapacityError.NAME,
  IncorrectInstanceStateError.NAME,
];

/**
 * IAM for the resize steps beyond what the controller has: stop, start and retype only the pairs' members.
 * - ModifyInstanceAttribute only when the request sets the instance type: the Service Authorization Reference
 *   (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html) lists
 *   `ec2:Attribute/${AttributeName}` for it, carrying the value of the attribute the request sets; requiring
 *   `ec2:Attribute/InstanceType` to be present refuses a request that would rewrite userData or
 *   sourceDestCheck instead.
 * - kms:CreateGrant, only for EC2 and only for a grant to an AWS resource: starting an instance whose EBS
 *   volumes use a customer-managed key needs it, or both the start and the revert fail and the member stays
 *   stopped (https://docs.aws.amazon.com/ebs/latest/userguide/ebs-encryption-requirements.html). The key is
 *   the user's, unknown to the stack, so the resource is `*` and the conditions do the scoping.
 */
export function resizeStatements(scope: Construct, config: Config): PolicyStatement[] {
  const stack = Stack.of(scope);
  const instances = [
    ...new Set(config.pairs.flatMap((p) => [p.primary.instanceId, p.standby.instanceId])),
  ].map((id) => stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: id }));
  return [
    perPair(
      new PolicyStatement({
        sid: 'StopStartMembers',
        effect: Effect.ALLOW,
        actions: ['ec2:StopInstances', 'ec2:StartInstances'],
        resources: instances,
      }),
    ),
    perPair(
      new PolicyStatement({
        sid: 'RetypeMembers',
        effect: Effect.ALLOW,
        actions: ['ec2:ModifyInstanceAttribute'],
        resources: instances,
        conditions: { Null: { 'ec2:Attribute/InstanceType': 'false' } },
      }),
    ),
    new PolicyStatement({
      sid: 'StartEncryptedMembers',
      effect: Effect.ALLOW,
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: {
        StringEquals: { 'kms:ViaService': `ec2.${stack.region}.amazonaws.com` },
        Bool: { 'kms:GrantIsForAWSResource': 'true' },
      },
    }),
    new PolicyStatement({
      sid: 'ResizePreflight',
      effect: Effect.ALLOW,
      actions: ['ec2:DescribeInstanceTypes', 'ec2:DescribeInstanceTypeOfferings'],
      resources: ['*'],
    }),
  ];
}

/**
 * What the resize workflow needs from the deployment that hosts it (the controller construct): its
 * configuration, name and alarm topic, a function with the house defaults, and the controller's grants.
 */
export interface ResizeHost {
  readonly config: Config;
  readonly deploymentName: string;
  readonly topic: ITopic;
  addFunction(id: string, props: AddFunctionProps): IFunction & { addAlias(name: string): IAlias };
  grantControl(grantee: IGrantable, extra?: readonly PolicyStatement[]): void;
  grantNotifyKey(grantee: IGrantable): void;
}

/** Props of {@link ResizeWorkflow}. */
export interface ResizeWorkflowProps {
  /** The deployment hosting the workflow. */
  readonly controller: ResizeHost;
}

/** The alias the state machine invokes: it names one published version, so no `:*` grant is needed. */
export const RESIZE_STEP_ALIAS = 'live';

/**
 * The resize workflow: the step Lambda (with the controller's permissions, so it fails over through the same
 * code, plus stop/start/modify of the members and the preflight's type reads) and the Standard state machine,
 * which invokes the Lambda through an alias and publishes the outcome to the alarm topic. Start it with
 * `vpn-failover resize` or the console.
 *
 * No CloudWatch Logs and no X-Ray for the state machine: a Standard execution keeps its full history (every
 * state's input and output) for 90 days, which is what `vpn-failover resize --follow` and the console read, and
 * both would need actions that AWS cannot scope to a resource (logs:CreateLogDelivery..., xray:PutTraceSegments).
 */
export class ResizeWorkflow extends Construct {
  /** The state machine; its ARN is what `vpn-failover resize --state-machine-arn` needs. */
  readonly stateMachine: StateMachine;
  /** The step Lambda. */
  readonly stepFunction: IFunction;

  constructor(scope: Construct, id: string, props: ResizeWorkflowProps) {
    super(scope, id);
    const { controller } = props;
    const timeoutSeconds = resizeStepTimeoutSeconds(controller.config);
    const fn = controller.addFunction('ResizeStep', {
      entry: RESIZE_ENTRY,
      description: `vpn-failover resize steps (${controller.deploymentName})`,
      timeout: Duration.seconds(timeoutSeconds),
    });
    // One grant, so the members that the probe and the resize steps both name are listed once.
    controller.grantControl(fn, resizeStatements(this, controller.config));
    acknowledgeResizeWildcards(fn);
    this.stepFunction = fn;

    this.stateMachine = new StateMachine(this, 'StateMachine', {
      comment: `vpn-failover zero-downtime resize (${controller.deploymentName})`,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(
        buildResizeDefinition(this, {
          step: fn.addAlias(RESIZE_STEP_ALIAS),
          topic: controller.topic,
          taskTimeout: Duration.seconds(timeoutSeconds + 30),
        }),
      ),
      timeout: EXECUTION_TIMEOUT,
    });
    // The SnsPublish tasks grant sns:Publish on the topic themselves; the state machine needs only the key.
    controller.grantNotifyKey(this.stateMachine);
    Validations.of(this.stateMachine).acknowledge(
      {
        id: 'AwsSolutions-SF1',
        reason:
          'A Standard execution keeps its full history for 90 days (what the CLI and the console show); CloudWatch log delivery would need logs:* actions on `*`.',
      },
      {
        id: 'AwsSolutions-SF2',
        reason:
          'A handful of executions a year, each a few Lambda steps whose own logs carry the request ids; X-Ray would need xray:* actions on `*`.',
      },
    );
  }
}

const RESIZE_WILDCARD_REASON =
  "ec2:DescribeInstanceTypes and ec2:DescribeInstanceTypeOfferings (the resize preflight) support no resource-level permissions and are read-only; kms:CreateGrant names the customer-managed key of the members' volumes, unknown to the stack, and is allowed only via EC2 (kms:ViaService) for a grant to an AWS resource (kms:GrantIsForAWSResource).";

function acknowledgeResizeWildcards(grantee: IGrantable): void {
  const principal = grantee.grantPrincipal;
  if (Construct.isConstruct(principal)) {
    Validations.of(principal).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: RESIZE_WILDCARD_REASON,
    });
  }
}
