import {
  CloudFormationClient,
  DescribeStacksCommand,
  type DescribeStacksCommandOutput,
} from '@aws-sdk/client-cloudformation';
import type { DescribeNetworkInterfacesRequest, DescribeSecurityGroupsRequest } from '@aws-sdk/client-ec2';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import type { OperatorDeps } from '../../cli/operator.ts';
import type { CliIo } from '../../cli/simulate.ts';
import { handleEvent } from '../../functions/controller/handler.ts';
import type { OperatorClients } from '../../shared/aws/clients.ts';
import { configHash } from '../../shared/config/load.ts';
import type { Config } from '../../shared/config/schema.ts';
import { createMetrics } from '../../shared/controller/metrics.ts';
import { runController } from '../../shared/controller/run.ts';
import type { RunSummary } from '../../shared/controller/types.ts';
import { STACK_OUTPUTS } from '../../shared/telemetry-names.ts';
import { controllerDepsOf, createSimAccount, type SimAccount } from '../../sim/account.ts';
import { ec2Handlers } from '../../sim/services/ec2.ts';

/**
 * The simulated account as the operator CLI sees it: EC2, SSM, CloudWatch and the state table are the
 * simulator's (sim/account.ts), and the calls it does not model are answered here from its World: the members'
 * security groups (DescribeSecurityGroups, and the groups and source/destination check on each interface), the
 * SSM agent's registration (DescribeInstanceInformation) and the deployment's alarms (DescribeAlarms). The stack
 * (CloudFormation), the caller (STS) and the controller function (Lambda) are client mocks: Invoke runs the real
 * controller handler in-process against the simulated account, as the deployed function would.
 */

export const STACK = 'VpnFailover';
export const DEPLOYMENT = 'VpnFailover';
export const FUNCTION = 'VpnFailover-Controller';
export const CALLER = 'arn:aws:iam::123456789012:user/oncall';
/** The group every member's interfaces carry in the simulated account. */
export const GROUP = 'sg-0123456789abcdef0';

/** An inbound rule as DescribeSecurityGroups shows it. */
export interface Rule {
  readonly IpProtocol: string;
  readonly FromPort?: number;
  readonly ToPort?: number;
}

/** What the IKE, NAT-T and ESP rules of a VPN instance look like. */
export const VPN_RULES: readonly Rule[] = [
  { IpProtocol: 'udp', FromPort: 500, ToPort: 500 },
  { IpProtocol: 'udp', FromPort: 4500, ToPort: 4500 },
  { IpProtocol: '50' },
];

export interface OperatorAccount {
  readonly account: SimAccount;
  readonly clients: OperatorClients;
  readonly deps: OperatorDeps;
  /** every payload the controller function was invoked with */
  readonly invoked: unknown[];
  /** the group's inbound rules; tests change them */
  rules: Rule[];
  /** CloudWatch alarms of the deployment; tests add some */
  readonly alarms: { AlarmName: string; StateValue: string; StateReason?: string }[];
  /** DescribeStacks' answer: the stack's outputs, or undefined for no stack */
  outputs: Record<string, string> | undefined;
  /** one evaluation of every pair by the controller, as a scheduled invocation of the function makes it */
  evaluate(): Promise<RunSummary>;
  close(): Promise<void>;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** The outputs a deployment of `config` has (infra/stack.ts). */
export const outputsFor = (account: SimAccount, config: Config): Record<string, string> => ({
  [STACK_OUTPUTS.controllerFunctionName]: FUNCTION,
  [STACK_OUTPUTS.controllerFunctionArn]: `arn:aws:lambda:eu-west-1:123456789012:function:${FUNCTION}`,
  [STACK_OUTPUTS.stateTableName]: account.tableName,
  [STACK_OUTPUTS.probeDocumentName]: account.probeDocument,
  [STACK_OUTPUTS.alarmTopicArn]: 'arn:aws:sns:eu-west-1:123456789012:VpnFailover-Alarms',
  [STACK_OUTPUTS.deploymentName]: DEPLOYMENT,
  [STACK_OUTPUTS.configHash]: configHash(config),
});

export async function createOperatorAccount(config: Config): Promise<OperatorAccount> {
  const account = await createSimAccount(config);
  const { world } = account;
  const ec2 = ec2Handlers(world);
  const cloudformation = new CloudFormationClient({ region: 'eu-west-1' });
  const lambda = new LambdaClient({ region: 'eu-west-1' });
  const sts = new STSClient({ region: 'eu-west-1' });
  const handlerDeps = { ...controllerDepsOf(account), metrics: createMetrics() };
  const self: OperatorAccount = {
    account,
    clients: { ...account.clients, cloudformation, lambda, sts },
    deps: {},
    invoked: [],
    rules: [...VPN_RULES],
    alarms: [],
    outputs: outputsFor(account, config),
    evaluate: () => settle(account, () => runController(handlerDeps, { kind: 'schedule' })),
    close: () => account.close(),
  };
  (self as { deps: OperatorDeps }).deps = {
    clients: () => self.clients,
    clock: account.clock,
    env: { USER: 'fallback-user' },
    isTTY: false,
  };

  mockClient(cloudformation)
    .on(DescribeStacksCommand)
    .callsFake(async (input: { StackName?: string }): Promise<Partial<DescribeStacksCommandOutput>> => {
      if (self.outputs === undefined || input.StackName !== STACK) {
        throw Object.assign(new Error(`Stack with id ${input.StackName} does not exist`), {
          name: 'ValidationError',
        });
      }
      return {
        Stacks: [
          {
            StackName: STACK,
            StackStatus: 'UPDATE_COMPLETE',
            CreationTime: new Date(0),
            Outputs: Object.entries(self.outputs).map(([OutputKey, OutputValue]) => ({
              OutputKey,
              OutputValue,
            })),
          },
        ],
      };
    });
  mockClient(sts).on(GetCallerIdentityCommand).resolves({ Arn: CALLER, Account: '123456789012' });
  mockClient(lambda)
    .on(InvokeCommand)
    .callsFake(async (input: { FunctionName?: string; Payload?: Uint8Array }) => {
      if (input.FunctionName !== FUNCTION) throw new Error(`no function ${input.FunctionName}`);
      const event: unknown = JSON.parse(decoder.decode(input.Payload));
      self.invoked.push(event);
      const context = { awsRequestId: `cli-${self.invoked.length}`, getRemainingTimeInMillis: () => 120_000 };
      try {
        const summary = await handleEvent(event, context, handlerDeps);
        return { StatusCode: 200, Payload: encoder.encode(JSON.stringify(summary)) };
      } catch (error) {
        // What the Node.js runtime returns for an error the handler threw (FunctionError: Unhandled).
        const { name, message } = error as Error;
        return {
          StatusCode: 200,
          FunctionError: 'Unhandled',
          Payload: encoder.encode(JSON.stringify({ errorType: name, errorMessage: message, trace: [] })),
        };
      }
    });

  const memberOfEni = (eni: string) => [...world.instances.values()].find((i) => i.enis.includes(eni));
  account.extend('EC2', 'DescribeNetworkInterfaces', async (input: DescribeNetworkInterfacesRequest) => {
    const answer = (await ec2.DescribeNetworkInterfaces?.(input as never)) as {
      NetworkInterfaces?: { NetworkInterfaceId?: string }[];
    };
    return {
      NetworkInterfaces: (answer.NetworkInterfaces ?? []).map((ni) => ({
        ...ni,
        SourceDestCheck: memberOfEni(ni.NetworkInterfaceId ?? '')?.sourceDestCheck ?? true,
        Groups: [{ GroupId: GROUP, GroupName: 'vpn' }],
      })),
    };
  });
  account.extend('EC2', 'DescribeSecurityGroups', (input: DescribeSecurityGroupsRequest) => ({
    SecurityGroups: (input.GroupIds ?? []).map((id) => ({
      GroupId: id,
      GroupName: 'vpn',
      IpPermissions: self.rules.map((rule) => ({ ...rule, IpRanges: [{ CidrIp: '203.0.113.10/32' }] })),
    })),
  }));
  account.extend(
    'SSM',
    'DescribeInstanceInformation',
    (input: { Filters?: { Key: string; Values: string[] }[] }) => {
      const ids = input.Filters?.find((f) => f.Key === 'InstanceIds')?.Values ?? [];
      return {
        InstanceInformationList: ids.flatMap((id) => {
          const instance = world.instances.get(id);
          if (instance === undefined) return [];
          return [
            {
              InstanceId: id,
              PingStatus: world.agentRegistered(instance) ? 'Online' : 'ConnectionLost',
              AgentVersion: '3.3.1957.0',
            },
          ];
        }),
      };
    },
  );
  account.extend('CloudWatch', 'DescribeAlarms', (input: { AlarmNamePrefix?: string }) => ({
    MetricAlarms: self.alarms.filter((a) => a.AlarmName.startsWith(input.AlarmNamePrefix ?? '')),
  }));
  return self;
}

export interface Captured extends CliIo {
  readonly out: string[];
  readonly err: string[];
  code?: number;
}

export const capture = (): Captured => {
  const io: Captured = {
    out: [],
    err: [],
    stdout: (text) => {
      io.out.push(text);
    },
    stderr: (text) => {
      io.err.push(text);
    },
    setExitCode: (code) => {
      io.code = code;
    },
  };
  return io;
};

export const text = (io: Captured) => io.out.join('');
export const errors = (io: Captured) => io.err.join('');

/** Run a command while virtual time moves (probes and retries sleep on the simulator's clock), until it ends. */
export async function settle<T>(account: SimAccount, work: () => Promise<T>, limitMinutes = 30): Promise<T> {
  let outcome: { value: T } | { error: unknown } | undefined;
  work().then(
    (value) => {
      outcome = { value };
    },
    (error: unknown) => {
      outcome = { error };
    },
  );
  for (let i = 0; i < limitMinutes * 60 && outcome === undefined; i++) {
    await account.clock.runUntil(account.clock.now() + 1_000);
  }
  if (outcome === undefined)
    throw new Error(`the command did not end within ${limitMinutes} virtual minutes`);
  if ('error' in outcome) throw outcome.error;
  return outcome.value;
}
