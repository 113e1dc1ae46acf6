import { CreateStackCommand } from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeNetworkInterfacesCommand,
  ModifyNetworkInterfaceAttributeCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { InvokeCommand } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { runFailover, runPause, runResume } from '../../cli/control.ts';
import { type Check, runDoctor } from '../../cli/doctor.ts';
import { type HistoryLine, runHistory } from '../../cli/history.ts';
import { DEFAULT_STACK, type OperatorDeps } from '../../cli/operator.ts';
import { runStatus, type StatusReport } from '../../cli/status.ts';
import { handleEvent } from '../../functions/controller/handler.ts';
import { createOperatorClients, type OperatorClients } from '../../shared/aws/clients.ts';
import { configHash, deployedConfigJson } from '../../shared/config/load.ts';
import { STACK_OUTPUTS } from '../../shared/telemetry-names.ts';
import { capture, text } from '../cli/operator-account.ts';
import {
  allOn,
  context,
  ec2,
  freshAccount,
  handlerDeps,
  PAIR,
  pairConfig,
  routeTargets,
  SCHEDULE,
  TABLE,
  world,
} from './world.ts';

/**
 * The operator commands against moto: the stack's outputs from CloudFormation DescribeStacks, the state table in
 * moto's DynamoDB, routes, instances, interfaces and security groups from its EC2, the caller from its STS, the
 * alarms from its CloudWatch, all through the product's own clients over HTTP.
 *
 * moto has no Lambda runtime here, so `failover` is given a Lambda client whose Invoke runs the real controller
 * handler in-process with the moto-backed clients, exactly what the deployed function would run; everything
 * the command line itself sends still goes to moto. moto's gaps met here are said where a test works around them.
 */

const FUNCTION = 'VpnFailover-Controller';
const decoder = new TextDecoder();
const encoder = new TextEncoder();
let clients: OperatorClients;
let deps: OperatorDeps;
let configFile: string;

/** A stack whose outputs say where this deployment is, as infra/stack.ts declares them. */
async function deployStack(): Promise<void> {
  const config = handlerDeps().config;
  const outputs: Record<string, string> = {
    [STACK_OUTPUTS.controllerFunctionName]: FUNCTION,
    [STACK_OUTPUTS.stateTableName]: TABLE,
    [STACK_OUTPUTS.probeDocumentName]: 'VpnFailover-Probe',
    [STACK_OUTPUTS.deploymentName]: DEFAULT_STACK,
    [STACK_OUTPUTS.configHash]: configHash(config),
  };
  const template = {
    Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
    Outputs: Object.fromEntries(Object.entries(outputs).map(([key, value]) => [key, { Value: value }])),
  };
  await clients.cloudformation.send(
    new CreateStackCommand({ StackName: DEFAULT_STACK, TemplateBody: JSON.stringify(template) }),
  );
}

/** Write the configuration the pair was built with to a file, as an operator would have it. */
async function writeConfig(pair = pairConfig()): Promise<string> {
  const { mkdtemp, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'vpn-failover-cli-'));
  const file = join(dir, 'pairs.json');
  await writeFile(file, deployedConfigJson(handlerDeps(pair).config));
  return file;
}

beforeEach(async () => {
  await freshAccount();
  clients = createOperatorClients({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  });
  const controller = handlerDeps();
  mockClient(clients.lambda)
    .on(InvokeCommand)
    .callsFake(async (input: { FunctionName?: string; Payload?: Uint8Array }) => {
      if (input.FunctionName !== FUNCTION) throw new Error(`no function ${input.FunctionName}`);
      const summary = await handleEvent(JSON.parse(decoder.decode(input.Payload)), context, controller);
      return { StatusCode: 200, Payload: encoder.encode(JSON.stringify(summary)) };
    });
  deps = { clients: () => clients, env: {}, isTTY: false };
  await deployStack();
  configFile = await writeConfig();
});

async function status(): Promise<StatusReport> {
  const io = capture();
  expect(await runStatus(undefined, { config: configFile, json: true }, io, deps)).toBe(0);
  return JSON.parse(text(io)) as StatusReport;
}

describe('the operator command line against moto', () => {
  it('status finds the deployment from its stack and shows traffic on the primary, then on the standby after the controller moved it', async () => {
    const before = await status();
    await handleEvent(SCHEDULE, context, handlerDeps());
    await ec2.send(new StopInstancesCommand({ InstanceIds: [world.primary.instanceId] }));
    await handleEvent(SCHEDULE, context, handlerDeps());

    const after = await status();

    expect(before.configDrift).toBeUndefined();
    expect(before.pairs[0]).toMatchObject({ pair: PAIR, traffic: 'primary' });
    expect(before.pairs[0]?.intended).toBeUndefined();
    expect(after.pairs[0]).toMatchObject({
      traffic: 'standby',
      intended: 'standby',
      lastMove: { plan: 'failover', trigger: 'hard-loss', from: 'primary', to: 'standby' },
    });
    expect(after.pairs[0]?.members.primary).toMatchObject({
      state: 'stopped',
      health: 'unhealthy',
      decided: { health: 'unhealthy', signals: { instance: 'unhealthy' } },
    });
    expect(after.pairs[0]?.alarms).toEqual(['standby-unhealthy']);
    // moto keeps a route to a stopped instance's ENI "active" where EC2 reports "blackhole" (see
    // controller.test.ts), so no route reads blackhole here.
    expect(after.pairs[0]?.routes.every((r) => r.to === 'standby' && !r.blackhole)).toBe(true);
    // DescribeAlarms answers from moto's CloudWatch: this stack created no alarm.
    expect(after.alarms).toEqual([]);
  });

  it('history shows the failover with its reasons and the alarm it left, read back from moto’s DynamoDB', async () => {
    await handleEvent(SCHEDULE, context, handlerDeps());
    await ec2.send(new StopInstancesCommand({ InstanceIds: [world.primary.instanceId] }));
    await handleEvent(SCHEDULE, context, handlerDeps());
    await handleEvent(SCHEDULE, context, handlerDeps());
    const io = capture();
    const json = capture();

    expect(await runHistory(PAIR, { since: '1h' }, io, deps)).toBe(0);
    expect(await runHistory(PAIR, { since: '1h', json: true }, json, deps)).toBe(0);

    const { entries } = JSON.parse(text(json)) as { entries: HistoryLine[] };
    expect(entries).toHaveLength(2);
    expect(entries[0]?.record).toMatchObject({
      plan: 'failover',
      trigger: 'hard-loss',
      from: 'primary',
      to: 'standby',
    });
    expect(entries[0]?.record.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/primary/)]));
    // The stopped primary, no longer carrying traffic, leaves the pair without redundancy: raised once, though
    // the next evaluation still sees it.
    expect(entries[1]?.record).toEqual({
      event: 'alarm',
      raised: [
        {
          kind: 'standby-unhealthy',
          detail: expect.stringMatching(/^primary i-\w+, the member not carrying traffic, is unhealthy/),
        },
      ],
      cleared: [],
    });
    expect(text(io)).toMatch(/Z {2}alarm raised standby-unhealthy\n {4}standby-unhealthy: primary i-/);
  });

  it('failover --to standby invokes the controller and every managed route moves to the standby', async () => {
    await handleEvent(SCHEDULE, context, handlerDeps());
    const io = capture();

    expect(await runFailover(PAIR, { to: 'standby' }, io, deps)).toBe(0);

    expect(text(io)).toContain(
      `${PAIR}: traffic moved primary -> standby (4 routes changed, Elastic IP moved)`,
    );
    expect(await routeTargets()).toEqual(allOn('standby'));
  });

  it('pause holds the move off a stopped primary (status shows the pause, history records it); resume lets it move', async () => {
    await handleEvent(SCHEDULE, context, handlerDeps());
    const paused = capture();

    expect(await runPause(PAIR, { for: '2h', reason: 'planned maintenance' }, paused, deps)).toBe(0);
    await ec2.send(new StopInstancesCommand({ InstanceIds: [world.primary.instanceId] }));
    await handleEvent(SCHEDULE, context, handlerDeps());
    const held = await status();
    const whilePaused = await routeTargets();
    expect(await runResume(PAIR, {}, capture(), deps)).toBe(0);
    const history = capture();
    expect(await runHistory(PAIR, { since: '1h', json: true }, history, deps)).toBe(0);

    expect(text(paused)).toContain(`${PAIR}: paused until`);
    expect(whilePaused).toEqual(allOn('primary'));
    expect(held.pairs[0]?.pause).toMatchObject({ reason: 'planned maintenance' });
    expect(held.pairs[0]?.alarms).toEqual(expect.arrayContaining(['paused', 'traffic-blackholed']));
    // The resume's own run sees the stopped primary and moves at once.
    expect(await routeTargets()).toEqual(allOn('standby'));
    const { entries } = JSON.parse(text(history)) as { entries: HistoryLine[] };
    const events = entries.map((e) => (e.record as { event?: string; plan?: string }).event ?? e.record.plan);
    expect(events).toEqual(expect.arrayContaining(['pause', 'resume', 'failover']));
  });

  it('doctor flags the member ENI with source/destination check on, and passes the one with it off', async () => {
    const enis = [world.primary.eni, world.standby.eni];
    for (const eni of enis) {
      await ec2.send(
        new ModifyNetworkInterfaceAttributeCommand({
          NetworkInterfaceId: eni,
          SourceDestCheck: { Value: eni === world.standby.eni },
        }),
      );
    }
    const { NetworkInterfaces = [] } = await ec2.send(
      new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: enis }),
    );
    for (const group of new Set(
      NetworkInterfaces.flatMap((ni) => (ni.Groups ?? []).map((g) => g.GroupId as string)),
    )) {
      await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: group,
          IpPermissions: [500, 4500].map((port) => ({
            IpProtocol: 'udp',
            FromPort: port,
            ToPort: port,
            IpRanges: [{ CidrIp: '203.0.113.10/32' }],
          })),
        }),
      );
    }
    const io = capture();

    const code = await runDoctor({ config: configFile, json: true }, io, deps);

    const { checks } = JSON.parse(text(io)) as { checks: Check[] };
    const byCheck = (name: string) =>
      checks.filter((c) => c.check === name).map((c) => [c.status, c.subject]);
    expect(code).toBe(1);
    expect(byCheck('source-dest-check')).toEqual([
      ['PASS', `${PAIR} primary ${world.primary.instanceId} ${world.primary.eni}`],
      ['FAIL', `${PAIR} standby ${world.standby.instanceId} ${world.standby.eni}`],
    ]);
    expect(byCheck('security-group').map(([status]) => status)).toEqual(['PASS', 'PASS']);
    expect(byCheck('instance').map(([status]) => status)).toEqual(['PASS', 'PASS']);
    expect(byCheck('route').map(([status]) => status)).toEqual(['PASS', 'PASS', 'PASS', 'PASS']);
    expect(checks.find((c) => c.check === 'config-hash')?.status).toBe('PASS');
    // The pair has no daemon probe (moto cannot answer ListCommandInvocations, see world.ts), so SSM's
    // DescribeInstanceInformation, which moto does not implement either, is not asked.
    expect(byCheck('ssm-agent').map(([status]) => status)).toEqual(['SKIP', 'SKIP']);
  });

  it('doctor before deploy: no stack is a WARN, and the account checks still run against moto', async () => {
    const io = capture();

    await runDoctor({ config: configFile, stack: 'NotDeployed', json: true }, io, deps);

    const { checks } = JSON.parse(text(io)) as { checks: Check[] };
    expect(checks[0]).toMatchObject({ status: 'WARN', check: 'stack', subject: 'NotDeployed' });
    expect(checks.filter((c) => c.check === 'instance').map((c) => c.status)).toEqual(['PASS', 'PASS']);
  });

  it('cannot answer DescribeInstanceInformation, so doctor WARNs that it could not ask SSM, and never FAILs a member for it', async () => {
    const probed = await writeConfig(pairConfig({ probe: { kind: 'systemd', unit: 'strongswan' } }));
    const io = capture();

    await runDoctor({ config: probed, json: true }, io, deps);

    const { checks } = JSON.parse(text(io)) as { checks: Check[] };
    const ssm = checks.filter((c) => c.check === 'ssm-agent');
    expect(ssm.map((c) => c.status)).toEqual(['WARN', 'WARN']);
    expect(ssm[0]?.detail).toMatch(/^could not ask SSM: DescribeInstanceInformation /);
  });
});
