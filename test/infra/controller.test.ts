import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Role } from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { VpnFailoverController } from '../../infra/controller.ts';
import { PROBE_PARAMETER_PATTERNS, probeDocumentContent } from '../../infra/probe-document.ts';
import { loadConfigFile } from '../../shared/config/file.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { parseEvent, SCHEDULE_INPUT } from '../../shared/controller/events.ts';
import { createMetrics } from '../../shared/controller/metrics.ts';
import { ALARM_KINDS } from '../../shared/domain/plan.ts';
import { InputError } from '../../shared/errors.ts';
import {
  ENV,
  METRIC,
  METRICS_NAMESPACE,
  PAIR_STATE,
  PROBE_PARAMETERS,
  TABLE_KEYS,
} from '../../shared/telemetry-names.ts';
import {
  actionsOf,
  configOf,
  EXAMPLE_PAIR,
  logicalIdOf,
  policyStatements,
  readable,
  resourcesOf,
  synthStack,
  type TemplateStatement,
  testApp,
} from './test-app.ts';

// One bundled synth of the example configuration, shared by every assertion on the default deployment.
const example = synthStack(loadConfigFile('examples/pairs.yaml'), {}, { bundle: true });
const { template, stack } = example;
const controllerFn = stack.controller.controller;
const fnId = logicalIdOf(stack, controllerFn);
const topicRef = { Ref: logicalIdOf(stack, stack.controller.topic) };
/** The controller's bundle directory in the cloud assembly: the asset its Code names (the resize step has its own). */
const controllerBundle = join(
  example.app.outdir,
  `asset.${String(template.toJSON().Resources[fnId].Properties.Code.S3Key).replace(/\.zip$/, '')}`,
);

// A deployment using every option: Elastic IPs (one pair with configured ENIs, one without), a pair without a
// daemon probe, fast mode, an email, recovery alarms and a destroyable table. Not bundled.
const everyOption = synthStack(
  configOf({
    pairs: [
      {
        ...EXAMPLE_PAIR,
        name: 'with-enis',
        primary: { instanceId: 'i-00000000000000001', networkInterfaceId: 'eni-00000000000000001' },
        standby: { instanceId: 'i-00000000000000002', networkInterfaceId: 'eni-00000000000000002' },
        routeTables: ['rtb-00000000000000001'],
        elasticIp: { allocationId: 'eipalloc-00000000000000001' },
      },
      {
        ...EXAMPLE_PAIR,
        name: 'discovered-enis',
        primary: { instanceId: 'i-00000000000000003' },
        standby: { instanceId: 'i-00000000000000004' },
        routeTables: ['rtb-00000000000000002'],
        elasticIp: { allocationId: 'eipalloc-00000000000000002' },
      },
      {
        name: 'no-probe',
        primary: { instanceId: 'i-00000000000000005' },
        standby: { instanceId: 'i-00000000000000006' },
        routeTables: ['rtb-00000000000000003'],
        destinations: ['10.60.0.0/16'],
        probe: { kind: 'none' },
      },
    ],
    controller: { schedule: '2m', fastMode: { enabled: true, interval: '10s' } },
    notifications: { email: 'network-oncall@example.com' },
  }),
  { recoverMembers: true, removalPolicy: RemovalPolicy.DESTROY, deploymentName: 'edge-vpn' },
);

const statementsWith = (statements: TemplateStatement[], action: string) =>
  statements.filter((s) => actionsOf(s).includes(action));
const resourcesFor = (statements: TemplateStatement[], action: string) =>
  statementsWith(statements, action).flatMap(resourcesOf);
const arnOf = (service: string, resource: string) =>
  `arn:\${AWS::Partition}:${service}:\${AWS::Region}:\${AWS::AccountId}:${resource}`;

/** Reads that AWS authorises only on `*` (Service Authorization Reference); everything else must be scoped. */
const isUnscopableRead = (action: string) =>
  /^ec2:Describe[A-Za-z]+$/.test(action) ||
  ['ssm:ListCommandInvocations', 'cloudwatch:GetMetricData', 'dynamodb:ListStreams'].includes(action);

/** The members' tunnel metric: PutMetricData has no resource scoping, so only its namespace condition confines it. */
const isTunnelMetricWrite = (statement: TemplateStatement) =>
  actionsOf(statement).join() === 'cloudwatch:PutMetricData' &&
  JSON.stringify(statement.Condition) ===
    JSON.stringify({ StringEquals: { 'cloudwatch:namespace': ['VpnFailover/Tunnels'] } });

/** The one write on `*`: a grant on the members' (unknown) volume key, only through EC2, only for AWS resources. */
const isEc2VolumeKeyGrant = (statement: TemplateStatement) =>
  actionsOf(statement).join() === 'kms:CreateGrant' &&
  JSON.stringify(statement.Condition) ===
    JSON.stringify({
      StringEquals: {
        'kms:ViaService': { 'Fn::Join': ['', ['ec2.', { Ref: 'AWS::Region' }, '.amazonaws.com']] },
      },
      Bool: { 'kms:GrantIsForAWSResource': 'true' },
    });

describe('controller Lambda', () => {
  it('runs on nodejs24.x on arm64 with no reserved concurrency, so an account with a quota of 10 can deploy it', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
    });
    for (const synthesized of [template, everyOption.template]) {
      for (const fn of Object.values(synthesized.findResources('AWS::Lambda::Function'))) {
        expect(fn.Properties).not.toHaveProperty('ReservedConcurrentExecutions');
      }
    }
  });

  it('logs to its own log group that keeps a month of logs and survives stack deletion by default', () => {
    const logGroupId = logicalIdOf(stack, controllerFn.functionLogGroup);
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: logGroupId } },
    });
    template.hasResource('AWS::Logs::LogGroup', {
      Properties: { RetentionInDays: 30 },
      DeletionPolicy: 'Retain',
    });
  });

  it('is never retried and drops events older than a minute, so a backlog never acts on old news', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fnId },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 60,
    });
  });

  it('times out after an evaluation and its re-checks (2 × 60 s) without fast mode, and after the schedule plus one evaluation in fast mode', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 60 + 60 });
    everyOption.template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 120 + 60 });
  });

  it('finds its configuration, table, probe document and topic through the shared environment names', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          [ENV.configPath]: '/var/task/config.json',
          [ENV.tableName]: { Ref: logicalIdOf(stack, stack.controller.table) },
          [ENV.probeDocument]: { Ref: Match.stringLikeRegexp('ProbeDocument') },
          [ENV.topicArn]: topicRef,
          // No --enable-source-maps: no map ships (stack traces read from the kept identifiers).
          NODE_OPTIONS: Match.absent(),
        }),
      },
    });
  });

  it('ships the validated configuration as config.json inside an ESM bundle', () => {
    const dir = controllerBundle;
    const shipped = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(shipped).toEqual(loadConfigFile('examples/pairs.yaml'));
    // What the Lambda does at cold start: the shipped file validates to the same configuration.
    expect(parseConfig(shipped)).toEqual(shipped);
    expect(readFileSync(join(dir, 'index.mjs'), 'utf8')).toContain('createRequire');
    expect(readdirSync(dir)).not.toContain('index.mjs.map');
  });

  it('the bundle starts under Node 24 as an ES module, reads its bundled configuration and rejects an unknown event with a stack trace naming the functions as written', () => {
    const dir = controllerBundle;
    // What Lambda does: import index.mjs, call handler(event, context). An unknown event is rejected after the
    // cold start has loaded config.json through ENV.configPath, and before any AWS call.
    const script = `
      const { handler } = await import('./index.mjs');
      try { await handler({ hello: 'world' }, { awsRequestId: 'r-1', getRemainingTimeInMillis: () => 60000 }); }
      catch (error) { console.log(error.stack); }`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        [ENV.configPath]: join(dir, 'config.json'),
        [ENV.tableName]: 'table',
        [ENV.probeDocument]: 'document',
        [ENV.topicArn]: 'arn:aws:sns:eu-west-1:123456789012:topic',
      },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^BadEventError: /);
    expect(result.stdout).toMatch(/\n {4}at parseEvent \(file:.*\/index\.mjs:\d+:\d+\)\n {4}at handleEvent /);
  });
});

describe('triggers', () => {
  it('the schedule runs the controller every minute with no retries and a 60-second maximum event age', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
        Input: JSON.stringify(SCHEDULE_INPUT),
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    });
  });

  it('every event the triggers deliver is one the controller accepts', () => {
    const schedule = Object.values(template.findResources('AWS::Scheduler::Schedule'))[0];
    expect(parseEvent(JSON.parse(schedule?.Properties.Target.Input))).toEqual({ kind: 'schedule' });
    const ec2Event = {
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      detail: { 'instance-id': 'i-0123456789abcdef0', state: 'stopping' },
    };
    expect(parseEvent(ec2Event)).toMatchObject({
      kind: 'instance-state-change',
      instanceId: 'i-0123456789abcdef0',
    });
    const alarmEvent = {
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      detail: { alarmName: 'VpnFailover.pair.branch-a.primary.recover', state: { value: 'ALARM' } },
    };
    expect(parseEvent(alarmEvent)).toMatchObject({
      kind: 'alarm',
      alarmName: 'VpnFailover.pair.branch-a.primary.recover',
    });
  });

  it('the schedule rate follows controller.schedule', () => {
    everyOption.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(2 minutes)',
    });
  });

  it('the schedule role may invoke only the controller', () => {
    const scheduleRole = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' } })],
        },
      },
    });
    const roleIds = Object.keys(scheduleRole);
    expect(roleIds).toHaveLength(1);
    const statements = policyStatements(template).filter((s) =>
      JSON.stringify(template.toJSON().Resources[s.policy]?.Properties?.Roles ?? []).includes(
        roleIds[0] as string,
      ),
    );
    expect(statements.flatMap(actionsOf)).toEqual(['lambda:InvokeFunction']);
    expect(statements.flatMap(resourcesOf)).toEqual([`\${${fnId}.Arn}`, `\${${fnId}.Arn}:*`]);
  });

  it('EC2 state changes of exactly the managed instances invoke the controller, without retries', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ec2'],
        'detail-type': ['EC2 Instance State-change Notification'],
        detail: { 'instance-id': ['i-0123456789abcdef0', 'i-0fedcba9876543210'] },
      },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fnId, 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
        }),
      ],
    });
  });

  it("state changes of this deployment's member recovery alarms, and no other alarms, invoke the controller", () => {
    const t = everyOption.template;
    const fn = logicalIdOf(everyOption.stack, everyOption.stack.controller.controller);
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudwatch'],
        'detail-type': ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: 'edge-vpn.pair.' }] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fn, 'Arn'] } })],
    });
    const matched = Object.values(t.findResources('AWS::CloudWatch::Alarm'))
      .map((a) => a.Properties.AlarmName as string)
      .filter((name) => name.startsWith('edge-vpn.pair.'));
    expect(matched).toHaveLength(6);
    expect(matched.every((name) => name.endsWith('.recover'))).toBe(true);
  });

  it("without recovery alarms no alarm invokes the controller: the others are the controller's own conclusions", () => {
    template.resourcePropertiesCountIs(
      'AWS::Events::Rule',
      { EventPattern: { source: ['aws.cloudwatch'] } },
      0,
    );
  });

  it('EventBridge may invoke the controller only from the deployment rules', () => {
    for (const { template: t } of [example, everyOption]) {
      const permissions = Object.values(t.findResources('AWS::Lambda::Permission'));
      const rules = Object.keys(t.findResources('AWS::Events::Rule'));
      expect(permissions.map((p) => p.Properties.Principal)).toEqual(rules.map(() => 'events.amazonaws.com'));
      for (const permission of permissions) {
        expect(rules).toContain(permission.Properties.SourceArn['Fn::GetAtt'][0]);
      }
    }
  });

  it("many instances are split over rules that stay within EventBridge's 2,048-character pattern quota", () => {
    const pairs = Array.from({ length: 60 }, (_, i) => ({
      ...EXAMPLE_PAIR,
      name: `pair-${i}`,
      primary: { instanceId: `i-${(2 * i).toString(16).padStart(17, '0')}` },
      standby: { instanceId: `i-${(2 * i + 1).toString(16).padStart(17, '0')}` },
      routeTables: [`rtb-${i.toString(16).padStart(17, '0')}`],
    }));
    const { template: large } = synthStack(configOf({ pairs }));
    const rules = Object.values(
      large.findResources('AWS::Events::Rule', { Properties: { EventPattern: { source: ['aws.ec2'] } } }),
    );
    expect(rules).toHaveLength(3);
    const covered = rules.flatMap((r) => r.Properties.EventPattern.detail['instance-id'] as string[]);
    expect(covered.sort()).toEqual(pairs.flatMap((p) => [p.primary.instanceId, p.standby.instanceId]).sort());
    for (const rule of rules) expect(JSON.stringify(rule.Properties.EventPattern).length).toBeLessThan(2048);
  });
});

describe('IAM', () => {
  const controllerStatements = (t = template, s = stack) => {
    const roleId = logicalIdOf(s, s.controller.controller.role as Role);
    return policyStatements(t).filter((statement) =>
      JSON.stringify(t.toJSON().Resources[statement.policy]?.Properties?.Roles ?? []).includes(roleId),
    );
  };

  it('grants no action other than an unscopable read, an EC2 grant on a volume key, or the tunnel metric in its namespace, on `*`, in any policy of the stack', () => {
    for (const { template: t } of [example, everyOption]) {
      for (const statement of policyStatements(t)) {
        if (!resourcesOf(statement).includes('*') || isEc2VolumeKeyGrant(statement)) continue;
        if (isTunnelMetricWrite(statement)) continue;
        for (const action of actionsOf(statement))
          expect({ action, unscopable: isUnscopableRead(action) }).toEqual({ action, unscopable: true });
      }
    }
  });

  it('uses a wildcard inside an ARN only for ENIs discovered at run time and for the controller versions the schedule may invoke', () => {
    for (const { template: t, stack: s } of [example, everyOption]) {
      const fn = logicalIdOf(s, s.controller.controller);
      for (const statement of policyStatements(t)) {
        for (const resource of resourcesOf(statement).filter((r) => r !== '*' && r.includes('*'))) {
          const allowed =
            resource === arnOf('ec2', 'network-interface/*')
              ? ['ec2:AssociateAddress']
              : resource === `\${${fn}.Arn}:*`
                ? ['lambda:InvokeFunction']
                : [];
          expect({ resource, actions: actionsOf(statement) }).toEqual({ resource, actions: allowed });
        }
      }
    }
  });

  it('never grants a wildcard action', () => {
    for (const { template: t } of [example, everyOption]) {
      for (const statement of policyStatements(t))
        for (const action of actionsOf(statement)) expect(action).not.toContain('*');
    }
  });

  it('grants only Allow statements', () => {
    for (const statement of policyStatements(everyOption.template)) expect(statement.Effect).toBe('Allow');
  });

  it('lists exactly the unscopable reads the controller uses on `*`', () => {
    const onStar = controllerStatements()
      .filter((s) => resourcesOf(s).includes('*'))
      .flatMap(actionsOf)
      .sort();
    expect(onStar).toEqual([
      'cloudwatch:GetMetricData',
      'dynamodb:ListStreams',
      'ec2:DescribeInstanceStatus',
      'ec2:DescribeInstances',
      'ec2:DescribeNetworkInterfaces',
      'ec2:DescribeRouteTables',
      'ssm:ListCommandInvocations',
    ]);
  });

  it('allows ReplaceRoute and CreateRoute only on the configured route tables', () => {
    const statements = controllerStatements();
    for (const action of ['ec2:ReplaceRoute', 'ec2:CreateRoute']) {
      expect(resourcesFor(statements, action).sort()).toEqual([
        arnOf('ec2', 'route-table/rtb-0a1b2c3d4e5f60718'),
        arnOf('ec2', 'route-table/rtb-0f1e2d3c4b5a69788'),
      ]);
    }
  });

  it('allows SendCommand only with the probe document and the probed members', () => {
    const documentId = logicalIdOf(stack, stack.controller.node.findChild('ProbeDocument'));
    expect(resourcesFor(controllerStatements(), 'ssm:SendCommand').sort()).toEqual(
      [
        arnOf('ec2', 'instance/i-0123456789abcdef0'),
        arnOf('ec2', 'instance/i-0fedcba9876543210'),
        arnOf('ssm', `document/\${${documentId}}`),
      ].sort(),
    );
    // Pairs with probe kind none are never sent a command.
    const probed = resourcesFor(
      controllerStatements(everyOption.template, everyOption.stack),
      'ssm:SendCommand',
    );
    expect(probed.filter((r) => r.includes(':instance/')).sort()).toEqual(
      ['i-00000000000000001', 'i-00000000000000002', 'i-00000000000000003', 'i-00000000000000004'].map((id) =>
        arnOf('ec2', `instance/${id}`),
      ),
    );
  });

  it('without an Elastic IP in the configuration, addresses can be neither read nor moved', () => {
    const actions = controllerStatements().flatMap(actionsOf);
    expect(actions).not.toContain('ec2:AssociateAddress');
    expect(actions).not.toContain('ec2:DescribeAddresses');
  });

  it('AssociateAddress names the configured allocations, the members and their ENIs (network-interface/* only where an ENI is not configured)', () => {
    const statements = controllerStatements(everyOption.template, everyOption.stack);
    expect(resourcesFor(statements, 'ec2:AssociateAddress').sort()).toEqual(
      [
        arnOf('ec2', 'elastic-ip/eipalloc-00000000000000001'),
        arnOf('ec2', 'elastic-ip/eipalloc-00000000000000002'),
        ...['1', '2', '3', '4'].map((n) => arnOf('ec2', `instance/i-0000000000000000${n}`)),
        arnOf('ec2', 'network-interface/eni-00000000000000001'),
        arnOf('ec2', 'network-interface/eni-00000000000000002'),
        arnOf('ec2', 'network-interface/*'),
      ].sort(),
    );
    expect(resourcesFor(statements, 'ec2:DescribeAddresses')).toEqual(['*']);
  });

  it('allows item reads and writes on the state table, item reads on the agent table and its stream: no Scan, no DeleteItem, no other table', () => {
    const tableId = logicalIdOf(stack, stack.controller.table);
    const agentId = logicalIdOf(stack, stack.controller.agent?.table as Table);
    const dynamo = controllerStatements().filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    const granted: Record<string, string[]> = {};
    for (const statement of dynamo) {
      for (const resource of resourcesOf(statement)) {
        granted[resource] = [...(granted[resource] ?? []), ...actionsOf(statement)].sort();
      }
    }
    expect(granted).toEqual({
      [`\${${tableId}.Arn}`]: [
        'dynamodb:BatchGetItem',
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:Query',
        'dynamodb:UpdateItem',
      ],
      [`\${${agentId}.Arn}`]: ['dynamodb:BatchGetItem', 'dynamodb:GetItem'],
      // The stream's event source mapping reads the stream with the function's role.
      [`\${${agentId}.StreamArn}`]: [
        'dynamodb:DescribeStream',
        'dynamodb:GetRecords',
        'dynamodb:GetShardIterator',
      ],
      '*': ['dynamodb:ListStreams'],
    });
  });

  it('the controller role has no managed policy and no PutMetricData (metrics go out as log lines)', () => {
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })],
      },
      ManagedPolicyArns: Match.absent(),
    });
    expect(controllerStatements().flatMap(actionsOf)).not.toContain('cloudwatch:PutMetricData');
  });

  it('the controller writes logs only to its own log group and publishes nothing to the topic', () => {
    const logGroupArn = `\${${logicalIdOf(stack, controllerFn.functionLogGroup)}.Arn}`;
    expect(resourcesFor(controllerStatements(), 'logs:PutLogEvents')).toEqual([logGroupArn]);
    expect(controllerStatements().flatMap(actionsOf)).not.toContain('sns:Publish');
  });

  it('grantNotify lets another function publish to the topic with only the key actions SNS needs', () => {
    const app = testApp({ 'aws:cdk:bundling-stacks': [] });
    const s = new Stack(app, 'Grants');
    const controller = new VpnFailoverController(s, 'Controller', {
      config: loadConfigFile('examples/pairs.yaml'),
    });
    const step = controller.addFunction('Step', { entry: 'functions/controller/handler.ts' });
    controller.grantNotify(step);
    const statements = policyStatements(Template.fromStack(s)).filter((st) =>
      st.policy.startsWith('ControllerStepRole'),
    );
    expect(statements.flatMap(actionsOf).sort()).toEqual(
      [
        'kms:Decrypt',
        'kms:GenerateDataKey',
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        'sns:Publish',
      ].sort(),
    );
  });
});

describe('alarms', () => {
  const alarms = () =>
    Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
  const alarmNamed = (name: string) => {
    const found = alarms().find((a) => a.AlarmName === name);
    expect(found, name).toBeDefined();
    return found as Record<string, unknown>;
  };

  it('a controller that stops reporting raises the heartbeat alarm: missing data is breaching', () => {
    expect(alarmNamed('VpnFailover.controller.heartbeat')).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.heartbeat,
      Dimensions: [{ Name: 'service', Value: 'VpnFailover' }],
      Statistic: 'SampleCount',
      Period: 60,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      EvaluationPeriods: 3,
      TreatMissingData: 'breaching',
    });
  });

  it('the heartbeat period follows the schedule', () => {
    const heartbeat = Object.values(everyOption.template.findResources('AWS::CloudWatch::Alarm')).find(
      (a) => a.Properties.AlarmName === 'edge-vpn.controller.heartbeat',
    );
    expect(heartbeat?.Properties.Period).toBe(120);
  });

  it('controller errors in 2 of 5 minutes raise an alarm', () => {
    expect(alarmNamed('VpnFailover.controller.errors')).toMatchObject({
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
  });

  it('each alarm kind has exactly one deployment-wide alarm, raised when any pair raises it in one schedule period, and notified when it clears two periods later', () => {
    const names = alarms().map((a) => a.AlarmName as string);
    const topic = { Ref: Object.keys(template.findResources('AWS::SNS::Topic'))[0] };
    for (const kind of ALARM_KINDS) {
      expect(names.filter((name) => name === `VpnFailover.alarm.${kind}`)).toHaveLength(1);
      expect(alarmNamed(`VpnFailover.alarm.${kind}`)).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        MetricName: METRIC.alarmRaised,
        Dimensions: [
          { Name: 'Kind', Value: kind },
          { Name: 'service', Value: 'VpnFailover' },
        ],
        Statistic: 'Maximum',
        Period: 60,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        Threshold: 1,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
        AlarmActions: [topic],
        OKActions: [topic],
      });
    }
    expect(names.filter((name) => name.startsWith('VpnFailover.alarm.'))).toHaveLength(ALARM_KINDS.length);
  });

  it('runs that fail for some pairs raise the run-errors alarm at the second of three failing runs', () => {
    expect(alarmNamed('VpnFailover.controller.run-errors')).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: METRIC.runErrors,
      Dimensions: [{ Name: 'service', Value: 'VpnFailover' }],
      Statistic: 'Maximum',
      Period: 60,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
  });

  it('in fast mode, where one invocation publishes several runs, two failures in one schedule period raise run-errors', () => {
    const runErrors = Object.values(everyOption.template.findResources('AWS::CloudWatch::Alarm')).find(
      (a) => a.Properties.AlarmName === 'edge-vpn.controller.run-errors',
    );
    expect(runErrors?.Properties).toMatchObject({
      MetricName: METRIC.runErrors,
      Statistic: 'Sum',
      Period: 120,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 2,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
    });
  });

  it('a move anywhere in the deployment raises traffic-moved, which does not notify again when it returns to OK', () => {
    const moved = alarmNamed('VpnFailover.traffic.moved');
    expect(moved).toMatchObject({
      MetricName: METRIC.failover,
      Dimensions: [{ Name: 'service', Value: 'VpnFailover' }],
      Statistic: 'Sum',
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Threshold: 1,
      EvaluationPeriods: 1,
      TreatMissingData: 'notBreaching',
    });
    expect(moved.OKActions).toBeUndefined();
  });

  it('no alarm is per pair unless recoverMembers asks for one per member', () => {
    const names = alarms().map((a) => a.AlarmName as string);
    expect(names.filter((name) => name.includes('branch-a'))).toEqual([]);
    expect(names).toHaveLength(ALARM_KINDS.length + 4);
  });

  it('every alarm notifies the topic', () => {
    for (const t of [template, everyOption.template]) {
      const topic = { Ref: Object.keys(t.findResources('AWS::SNS::Topic'))[0] };
      for (const alarm of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) {
        expect(alarm.Properties.AlarmActions, alarm.Properties.AlarmName).toContainEqual(topic);
      }
    }
  });

  it('alarms select the service dimension that the controller metrics carry: the deployment name', () => {
    const environment = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((f) => f.Properties.Environment?.Variables ?? {})
      .find((v) => v.POWERTOOLS_SERVICE_NAME !== undefined);
    expect(environment?.POWERTOOLS_SERVICE_NAME).toBe('VpnFailover');
    process.env.POWERTOOLS_SERVICE_NAME = 'VpnFailover';
    const metrics = createMetrics();
    delete process.env.POWERTOOLS_SERVICE_NAME;
    metrics.addMetric(METRIC.heartbeat, 'Count', 1);
    const record = metrics.serializeMetrics() as unknown as Record<string, unknown> & {
      _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] };
    };
    expect(record._aws.CloudWatchMetrics[0]?.Namespace).toBe(METRICS_NAMESPACE);
    expect(record._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
    expect(record.service).toBe('VpnFailover');
  });

  it('with recoverMembers, a member failing its system status check for 2 minutes is recovered by EC2', () => {
    const recover = Object.values(everyOption.template.findResources('AWS::CloudWatch::Alarm')).filter((a) =>
      String(a.Properties.AlarmName).endsWith('.recover'),
    );
    expect(recover).toHaveLength(6);
    const primary = recover.find((a) => a.Properties.AlarmName === 'edge-vpn.pair.with-enis.primary.recover');
    expect(primary?.Properties).toMatchObject({
      Namespace: 'AWS/EC2',
      MetricName: 'StatusCheckFailed_System',
      Dimensions: [{ Name: 'InstanceId', Value: 'i-00000000000000001' }],
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      EvaluationPeriods: 2,
      TreatMissingData: 'missing',
    });
    expect(primary?.Properties.AlarmActions.map(readable)).toContain(
      `arn:\${AWS::Partition}:automate:\${AWS::Region}:ec2:recover`,
    );
  });

  it('without recoverMembers there is no recovery alarm', () => {
    expect(alarms().filter((a) => String(a.AlarmName).endsWith('.recover'))).toEqual([]);
  });
});

/** The dashboard's widgets, with the Region filled in. */
function dashboardWidgets(t: Template) {
  const body = readable(
    Object.values(t.findResources('AWS::CloudWatch::Dashboard'))[0]?.Properties.DashboardBody,
  );
  return JSON.parse(body.replace(/\$\{AWS::Region\}/g, 'eu-west-1')).widgets as {
    type: string;
    properties: { title?: string; metrics?: unknown[][]; alarms?: unknown[]; query?: string };
  }[];
}

describe('dashboard', () => {
  const widgets = dashboardWidgets(template);
  const graph = (title: string) =>
    widgets.find((w) => w.properties.title?.startsWith(title))?.properties.metrics ?? [];

  it("shows each pair's active member, the six signals of its members, and failovers over time, from its pair-state log lines", () => {
    const query = (title: string) =>
      String(widgets.find((w) => w.properties.title?.startsWith(title))?.properties.query ?? '');
    expect(query('branch-a: active member')).toContain(`pair = "branch-a"`);
    expect(query('branch-a: active member')).toContain(`max(${PAIR_STATE.activeMember})`);
    for (const role of ['primary', 'standby']) {
      for (const signal of ['instance', 'daemon', 'tunnel']) {
        expect(query('branch-a: signal health')).toContain(`min(${PAIR_STATE.signals}.${role}.${signal})`);
      }
    }
    expect(query('branch-a: failovers')).toContain(`sum(${PAIR_STATE.moved})`);
  });

  it('shows how many pairs raise each alarm kind, the runs that failed, and the status of the deployment-wide alarms', () => {
    const kinds = graph('Pairs raising each alarm kind');
    expect(kinds).toHaveLength(ALARM_KINDS.length);
    for (const kind of ALARM_KINDS) {
      expect(kinds).toContainEqual(expect.arrayContaining([METRIC.alarmRaised, 'Kind', kind]));
    }
    expect(JSON.stringify(graph('Controller runs'))).toContain(METRIC.runErrors);
    const status = widgets.find((w) => w.type === 'alarm')?.properties.alarms ?? [];
    expect(status).toHaveLength(ALARM_KINDS.length + 4);
  });
});

describe('state table', () => {
  it('is on demand, point-in-time recoverable, encrypted with an AWS-managed key, expires history, and is retained', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        AttributeDefinitions: [
          { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: TABLE_KEYS.ttlAttribute, Enabled: true },
        DeletionProtectionEnabled: true,
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('is deleted with the stack when the removal policy says so', () => {
    everyOption.template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
      DeletionPolicy: 'Delete',
    });
  });
});

describe('alarm topic', () => {
  it('is encrypted with a rotating key that CloudWatch alarms may use, and refuses publishing without TLS', () => {
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 'sns:Publish',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      },
    });
  });

  it("lets CloudWatch publish only for this deployment's alarms in this account, and every alarm is one of them", () => {
    for (const { template: t, stack: s } of [example, everyOption]) {
      const statements = Object.values(t.findResources('AWS::SNS::TopicPolicy'))[0]?.Properties.PolicyDocument
        .Statement as Record<string, unknown>[];
      const allow = statements.filter((st) => st.Effect === 'Allow');
      expect(allow).toHaveLength(1);
      expect(allow[0]).toMatchObject({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Resource: { Ref: logicalIdOf(s, s.controller.topic) },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      });
      const deployment = s.controller.deploymentName;
      const pattern = readable(
        (allow[0] as { Condition: { ArnLike: Record<string, unknown> } }).Condition.ArnLike['aws:SourceArn'],
      );
      expect(pattern).toBe(`${arnOf('cloudwatch', `alarm:${deployment}.`)}*`);
      for (const alarm of Object.values(t.findResources('AWS::CloudWatch::Alarm'))) {
        expect(alarm.Properties.AlarmName.startsWith(`${deployment}.`), alarm.Properties.AlarmName).toBe(
          true,
        );
      }
    }
  });

  it('subscribes the configured email address, and nothing when none is configured', () => {
    everyOption.template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'network-oncall@example.com',
    });
    template.resourceCountIs('AWS::SNS::Subscription', 0);
  });
});

describe('probe document', () => {
  it('is a schema 2.2 Command document running the fixed probe script with a short execution timeout', () => {
    template.hasResourceProperties('AWS::SSM::Document', {
      DocumentType: 'Command',
      TargetType: '/AWS::EC2::Instance',
      Content: probeDocumentContent(),
    });
    const content = probeDocumentContent() as {
      schemaVersion: string;
      mainSteps: { inputs: { timeoutSeconds: number } }[];
    };
    expect(content.schemaVersion).toBe('2.2');
    expect(content.mainSteps[0]?.inputs.timeoutSeconds).toBeLessThanOrEqual(20);
  });

  it('accepts only parameters matching their patterns and passes them as environment variables', () => {
    const { parameters } = probeDocumentContent() as {
      parameters: Record<string, { allowedPattern: string; interpolationType: string }>;
    };
    expect(Object.keys(parameters).sort()).toEqual(Object.values(PROBE_PARAMETERS).sort());
    for (const parameter of Object.values(parameters)) expect(parameter.interpolationType).toBe('ENV_VAR');
    const kind = new RegExp(parameters[PROBE_PARAMETERS.kind]?.allowedPattern as string);
    const unit = new RegExp(parameters[PROBE_PARAMETERS.unit]?.allowedPattern as string);
    const minSas = new RegExp(parameters[PROBE_PARAMETERS.minSas]?.allowedPattern as string);
    expect(['systemd', 'strongswan', 'libreswan'].every((k) => kind.test(k))).toBe(true);
    expect(['none', 'systemd; reboot', 'strongswan\n'].some((k) => kind.test(k))).toBe(false);
    expect(
      ['strongswan', 'strongswan-starter.service', 'ipsec@tunnel-1.service'].every((u) => unit.test(u)),
    ).toBe(true);
    expect(['x; reboot', '$(reboot)', 'a b', '`id`', 'x'.repeat(129)].some((u) => unit.test(u))).toBe(false);
    expect(['1', '1000'].every((n) => minSas.test(n))).toBe(true);
    expect(['-1', '1e3', '10000', ''].some((n) => minSas.test(n))).toBe(false);
  });

  it('accepts every systemd unit name the configuration accepts', () => {
    expect(PROBE_PARAMETER_PATTERNS.unit).toBe('^[A-Za-z0-9@._:-]{1,128}$');
    const unit = new RegExp(PROBE_PARAMETER_PATTERNS.unit);
    for (const name of ['strongswan', 'ipsec.service', 'wg-quick@wg0', 'a:b_c-d.e']) {
      const config = configOf({ pairs: [{ ...EXAMPLE_PAIR, probe: { kind: 'systemd', unit: name } }] });
      expect(config.pairs[0]?.probe).toEqual({ kind: 'systemd', unit: name });
      expect(unit.test(name)).toBe(true);
    }
  });
});

describe('construct props', () => {
  const construct =
    (
      props: Partial<ConstructorParameters<typeof VpnFailoverController>[2]>,
      config: unknown = loadConfigFile('examples/pairs.yaml'),
    ) =>
    () =>
      new VpnFailoverController(
        new Stack(testApp({ 'aws:cdk:bundling-stacks': [] }), 'Props'),
        'Controller',
        {
          config: config as never,
          ...props,
        },
      );
  const problemsOf = (build: () => unknown): string[] => {
    try {
      build();
    } catch (error) {
      expect(error).toBeInstanceOf(InputError);
      return (error as InputError).problems.map((p) => p.path);
    }
    throw new Error('expected an InputError');
  };

  it('rejects a deployment name that would make ambiguous alarm names', () => {
    expect(problemsOf(construct({ deploymentName: 'vpn.prod' }))).toEqual(['deploymentName']);
  });

  it('rejects fast mode with a schedule longer than a Lambda can run', () => {
    const config = {
      ...loadConfigFile('examples/pairs.yaml'),
      controller: { schedule: 900, fastMode: { enabled: true, interval: 10 }, probeTimeout: 20 },
    };
    expect(problemsOf(construct({}, config))).toEqual(['controller.schedule']);
  });

  it('rejects an invalid configuration with every problem listed', () => {
    const config = { pairs: [{ ...EXAMPLE_PAIR, primary: { instanceId: 'x' }, routeTables: ['rtb-nope'] }] };
    expect(problemsOf(construct({}, config)).sort()).toEqual([
      'pairs[0].primary.instanceId',
      'pairs[0].routeTables[0]',
    ]);
  });

  it('rejects recovery alarms for more pairs than one stack can hold, saying what to change', () => {
    const pairs = Array.from({ length: 250 }, (_, i) => ({
      ...EXAMPLE_PAIR,
      name: `pair-${i}`,
      primary: { instanceId: `i-${(2 * i).toString(16).padStart(17, '0')}` },
      standby: { instanceId: `i-${(2 * i + 1).toString(16).padStart(17, '0')}` },
      routeTables: [`rtb-${i.toString(16).padStart(17, '0')}`],
    }));
    let thrown: unknown;
    try {
      construct({ recoverMembers: true }, configOf({ pairs }))();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InputError);
    const [problem] = (thrown as InputError).problems;
    expect(problem?.path).toBe('recoverMembers');
    expect(problem?.message).toMatch(
      /^recoverMembers with 250 pairs needs 500 alarms, so the stack would hold \d+ resources, above CloudFormation's limit of 500; turn recoverMembers off, or split the pairs over several stacks of at most \d+ pairs each$/,
    );
  });

  it('rejects an impossible memory size and a malformed email address together', () => {
    expect(problemsOf(construct({ memorySize: 64, notificationEmail: 'oncall' })).sort()).toEqual([
      'memorySize',
      'notificationEmail',
    ]);
  });
});
