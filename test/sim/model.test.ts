import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateRouteCommand,
  DescribeInstanceStatusCommand,
  DescribeRouteTablesCommand,
  DescribeVpcsCommand,
  ModifyInstanceAttributeCommand,
  ReplaceRouteCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import {
  GetCommandInvocationCommand,
  InvalidInstanceId,
  InvocationDoesNotExist,
  ListCommandInvocationsCommand,
  SendCommandCommand,
} from '@aws-sdk/client-ssm';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { SimAccount } from '../../sim/account.ts';
import { advance, settle, useAccounts } from './helpers.ts';

const PRIMARY = 'i-0123456789abcdef0';
const STANDBY = 'i-0fedcba9876543210';
const TABLE = 'rtb-0a1b2c3d4e5f60718';

const accountWith = useAccounts();

const routesOf = async (account: SimAccount, table = TABLE) => {
  const out = await settle(
    account,
    account.clients.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [table] })),
  );
  return out.RouteTables?.[0]?.Routes ?? [];
};

const errorOf = async (
  account: SimAccount,
  work: Promise<unknown>,
): Promise<Error & { $metadata?: { attempts?: number } }> => {
  try {
    await settle(account, work);
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to fail');
};

const probe = (account: SimAccount, instanceIds: string[]) =>
  account.clients.ssm.send(
    new SendCommandCommand({
      DocumentName: account.probeDocument,
      InstanceIds: instanceIds,
      Parameters: { ProbeKind: ['strongswan'], MinSas: ['1'] },
      TimeoutSeconds: 30,
    }),
  );

describe('the simulated account', () => {
  it('starts with every managed route on the primary ENI, active, beside an unmanaged default route', async () => {
    const account = await accountWith();

    const routes = await routesOf(account);

    const managed = routes.filter(
      (r) => r.DestinationCidrBlock === '10.50.0.0/16' || r.DestinationCidrBlock === '192.168.10.0/24',
    );
    expect(managed).toHaveLength(2);
    for (const route of managed) {
      expect(route).toMatchObject({
        NetworkInterfaceId: 'eni-0123456789abcdef0',
        InstanceId: PRIMARY,
        State: 'active',
        Origin: 'CreateRoute',
      });
    }
    expect(routes.find((r) => r.DestinationCidrBlock === '0.0.0.0/0')?.GatewayId).toMatch(/^igw-/);
    expect(routes.find((r) => r.GatewayId === 'local')?.Origin).toBe('CreateRouteTable');
  });

  it('turns routes to a terminated member blackhole, keeping the ENI id but no instance id (aws-facts §2)', async () => {
    const account = await accountWith();
    account.world.applyFault(account.world.member('branch-a', 'primary'), 'terminate');

    await advance(account, 2 * 60_000);
    const route = (await routesOf(account)).find((r) => r.DestinationCidrBlock === '10.50.0.0/16');

    expect(route).toMatchObject({ NetworkInterfaceId: 'eni-0123456789abcdef0', State: 'blackhole' });
    expect(route?.InstanceId).toBeUndefined();
  });

  it('reads routes to a stopped member blackhole and active again once it runs (assumption beside aws-facts §2)', async () => {
    const account = await accountWith();
    await settle(account, account.clients.ec2.send(new StopInstancesCommand({ InstanceIds: [PRIMARY] })));
    await advance(account, 2 * 60_000);
    const stopped = (await routesOf(account)).find((r) => r.DestinationCidrBlock === '10.50.0.0/16');

    await settle(account, account.clients.ec2.send(new StartInstancesCommand({ InstanceIds: [PRIMARY] })));
    await advance(account, 2 * 60_000);
    const running = (await routesOf(account)).find((r) => r.DestinationCidrBlock === '10.50.0.0/16');

    expect(stopped?.State).toBe('blackhole');
    expect(running?.State).toBe('active');
  });

  // ReplaceRoute's answer is real EC2's, checked by the moto maintainers (https://github.com/getmoto/moto/pull/6425).
  it('answers ReplaceRoute of a missing route with InvalidParameterValue "no route defined" and CreateRoute of an existing one with RouteAlreadyExists', async () => {
    const account = await accountWith();
    const target = { RouteTableId: TABLE, NetworkInterfaceId: 'eni-0fedcba9876543210' };

    const replace = await errorOf(
      account,
      account.clients.ec2.send(new ReplaceRouteCommand({ ...target, DestinationCidrBlock: '172.16.0.0/12' })),
    );
    const create = await errorOf(
      account,
      account.clients.ec2.send(new CreateRouteCommand({ ...target, DestinationCidrBlock: '10.50.0.0/16' })),
    );

    expect(replace.name).toBe('InvalidParameterValue');
    expect(replace.message).toBe(
      "There is no route defined for '172.16.0.0/12' in the route table. Use CreateRoute instead.",
    );
    expect(create.name).toBe('RouteAlreadyExists');
  });

  it('moves a route with ReplaceRoute, though reads may show the old target for a moment (aws-facts §3)', async () => {
    const account = await accountWith();

    await settle(
      account,
      account.clients.ec2.send(
        new ReplaceRouteCommand({
          RouteTableId: TABLE,
          DestinationCidrBlock: '10.50.0.0/16',
          NetworkInterfaceId: 'eni-0fedcba9876543210',
        }),
      ),
    );
    await advance(account, 1000);
    const route = (await routesOf(account)).find((r) => r.DestinationCidrBlock === '10.50.0.0/16');

    expect(route).toMatchObject({
      NetworkInterfaceId: 'eni-0fedcba9876543210',
      InstanceId: STANDBY,
      State: 'active',
    });
  });

  it('stores an IPv6 destination as EC2 shows it, so any spelling of it names the same route', async () => {
    const account = await accountWith();
    const write = (command: CreateRouteCommand | ReplaceRouteCommand) =>
      settle(account, account.clients.ec2.send(command));
    const target = { RouteTableId: TABLE, NetworkInterfaceId: 'eni-0fedcba9876543210' };

    await write(new CreateRouteCommand({ ...target, DestinationIpv6CidrBlock: '2001:DB8:0:0::/64' }));
    await write(
      new ReplaceRouteCommand({
        RouteTableId: TABLE,
        DestinationIpv6CidrBlock: '2001:0db8::/64',
        NetworkInterfaceId: 'eni-0123456789abcdef0',
      }),
    );
    const again = await errorOf(
      account,
      account.clients.ec2.send(
        new CreateRouteCommand({ ...target, DestinationIpv6CidrBlock: '2001:db8:0:0:0:0:0:0/64' }),
      ),
    );
    await advance(account, 1000);
    const ipv6 = (await routesOf(account)).filter((r) => r.DestinationIpv6CidrBlock !== undefined);

    expect(again.name).toBe('RouteAlreadyExists');
    expect(ipv6).toEqual([
      expect.objectContaining({
        DestinationIpv6CidrBlock: '2001:db8::/64',
        NetworkInterfaceId: 'eni-0123456789abcdef0',
      }),
    ]);
  });

  it('names every unknown instance id in InvalidInstanceID.NotFound', async () => {
    const account = await accountWith();

    const error = await errorOf(
      account,
      account.clients.ec2.send(
        new DescribeInstanceStatusCommand({
          InstanceIds: [PRIMARY, 'i-00000000000000001', 'i-00000000000000002'],
        }),
      ),
    );

    expect(error.name).toBe('InvalidInstanceID.NotFound');
    expect(error.message).toBe("The instance IDs 'i-00000000000000001, i-00000000000000002' do not exist");
  });

  it('reports a system impairment in the status checks one to two minutes later, not at once (aws-facts §1)', async () => {
    const account = await accountWith();
    const statusOf = async () => {
      const out = await settle(
        account,
        account.clients.ec2.send(
          new DescribeInstanceStatusCommand({ InstanceIds: [PRIMARY], IncludeAllInstances: true }),
        ),
      );
      return out.InstanceStatuses?.[0];
    };
    account.world.applyFault(account.world.member('branch-a', 'primary'), 'system-impaired');

    await advance(account, 55_000);
    const early = await statusOf();
    await advance(account, 70_000);
    const late = await statusOf();

    expect(early?.SystemStatus?.Status).toBe('ok');
    expect(late?.SystemStatus?.Status).toBe('impaired');
    expect(late?.InstanceStatus?.Status).toBe('impaired');
    expect(late?.SystemStatus?.Details?.[0]?.ImpairedSince).toBeInstanceOf(Date);
  });

  it('rejects SendCommand to an instance whose SSM agent is offline with SSM InvalidInstanceId naming it', async () => {
    const account = await accountWith();
    account.world.applyFault(account.world.member('branch-a', 'standby'), 'ssm-agent-offline');

    const error = await errorOf(account, probe(account, [PRIMARY, STANDBY]));

    expect(error).toBeInstanceOf(InvalidInstanceId);
    expect(error.message).toContain(STANDBY);
    expect(error.message).not.toContain(PRIMARY);
  });

  it('shows a probe invocation only after a moment, then its failure with exit code 1 when the daemon is down', async () => {
    const account = await accountWith();
    account.world.applyFault(account.world.member('branch-a', 'primary'), 'daemon-down');
    const sent = await settle(account, probe(account, [PRIMARY]));
    const CommandId = sent.Command?.CommandId as string;

    const early = await errorOf(
      account,
      account.clients.ssm.send(new GetCommandInvocationCommand({ CommandId, InstanceId: PRIMARY })),
    );
    await advance(account, 10_000);
    const listed = await settle(
      account,
      account.clients.ssm.send(new ListCommandInvocationsCommand({ CommandId, Details: true })),
    );

    expect(early).toBeInstanceOf(InvocationDoesNotExist);
    const invocation = listed.CommandInvocations?.[0];
    expect(invocation?.Status).toBe('Failed');
    expect(invocation?.CommandPlugins?.[0]).toMatchObject({
      Name: 'probe',
      Status: 'Failed',
      ResponseCode: 1,
    });
    expect(invocation?.CommandPlugins?.[0]?.Output).toMatch(/^unhealthy: 0 installed CHILD SAs/);
  });

  it('shows a tunnel going down in GetMetricData only after the next datapoint is published and visible (aws-facts §5)', async () => {
    const account = await accountWith();
    const newest = async () => {
      const now = account.clock.now();
      const out = await settle(
        account,
        account.clients.cloudwatch.send(
          new GetMetricDataCommand({
            MetricDataQueries: [
              {
                Id: 'q0',
                MetricStat: {
                  Metric: {
                    Namespace: 'VpnFailover',
                    MetricName: 'TunnelUp',
                    Dimensions: [{ Name: 'InstanceId', Value: PRIMARY }],
                  },
                  Period: 60,
                  Stat: 'Minimum',
                },
              },
            ],
            StartTime: new Date(now - 10 * 60_000),
            EndTime: new Date(now),
          }),
        ),
      );
      return out.MetricDataResults?.[0]?.Values?.[0];
    };
    account.world.applyFault(account.world.member('branch-a', 'primary'), 'tunnel-down');

    await advance(account, 20_000);
    const soon = await newest();
    await advance(account, 3 * 60_000);
    const later = await newest();

    expect(soon).toBe(1);
    expect(later).toBe(0);
  });

  it('fails the next StartInstances once with InsufficientInstanceCapacity when the fault is armed', async () => {
    const account = await accountWith();
    const member = account.world.member('branch-a', 'standby');
    account.world.applyFault(member, 'stop');
    account.world.applyFault(member, 'insufficient-capacity');
    await advance(account, 2 * 60_000);
    const start = () => account.clients.ec2.send(new StartInstancesCommand({ InstanceIds: [STANDBY] }));

    const first = await errorOf(account, start());
    const second = await settle(account, start());

    expect(first.name).toBe('InsufficientInstanceCapacity');
    expect(second.StartingInstances?.[0]?.CurrentState?.Name).toBe('pending');
  });

  it('changes the instance type only while the instance is stopped (aws-facts §6)', async () => {
    const account = await accountWith();
    const modify = () =>
      account.clients.ec2.send(
        new ModifyInstanceAttributeCommand({ InstanceId: STANDBY, InstanceType: { Value: 'c6in.xlarge' } }),
      );

    const running = await errorOf(account, modify());
    account.world.applyFault(account.world.member('branch-a', 'standby'), 'stop');
    await advance(account, 2 * 60_000);
    await settle(account, modify());

    expect(running.name).toBe('IncorrectInstanceState');
    expect(account.world.member('branch-a', 'standby').instanceType).toBe('c6in.xlarge');
  });

  it('throttles with RequestLimitExceeded, which the SDK retries with backoff on the virtual clock', async () => {
    const account = await accountWith();
    const now = account.clock.now();
    account.throttle.addFault({ rate: 1, from: now, until: now + 60_000 });
    const started = performance.now();

    const error = await errorOf(
      account,
      account.clients.ec2.send(new DescribeRouteTablesCommand({ RouteTableIds: [TABLE] })),
    );

    expect(error.name).toBe('RequestLimitExceeded');
    expect(error.$metadata?.attempts).toBe(3);
    expect(account.stats.throttled.get('EC2 DescribeRouteTables')).toBe(3);
    expect(account.clock.elapsed()).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('throttles a burst of route writes beyond EC2 mutating bucket of 50 (aws-facts §3)', async () => {
    const account = await accountWith();
    const writes = Array.from({ length: 60 }, (_, i) =>
      account.clients.ec2
        .send(
          new ReplaceRouteCommand({
            RouteTableId: TABLE,
            DestinationCidrBlock: i % 2 ? '10.50.0.0/16' : '192.168.10.0/24',
            NetworkInterfaceId: 'eni-0fedcba9876543210',
          }),
        )
        .catch(() => undefined),
    );

    await settle(account, Promise.all(writes));

    expect(account.stats.throttled.get('EC2 ReplaceRoute')).toBeGreaterThanOrEqual(10);
  });

  it('fails state-table calls under a state-store-errors fault with DynamoDB throttling or a 500, retried by the SDK on the virtual clock, and answers them again after it', async () => {
    const account = await accountWith();
    const now = account.clock.now();
    account.addStateStoreFault({ rate: 1, from: now, until: now + 60_000 });
    const read = () =>
      account.clients.dynamo.send(
        new GetCommand({ TableName: account.tableName, Key: { pk: 'pair#branch-a', sk: 'state' } }),
      );
    const started = performance.now();

    const error = await errorOf(account, read());

    expect(['ProvisionedThroughputExceededException', 'InternalServerError']).toContain(error.name);
    // The SDK's own attempts for DynamoDB, each answered (and failed) separately.
    expect(error.$metadata?.attempts).toBeGreaterThanOrEqual(3);
    expect(account.stats.calls.get('DynamoDB GetItem')).toBe(error.$metadata?.attempts);
    expect(account.clock.elapsed()).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(1000);

    await advance(account, 60_000);

    await expect(settle(account, read())).resolves.toMatchObject({ $metadata: { httpStatusCode: 200 } });
  });

  it('kills one invocation per entry of a crash list, each after its count of route writes', async () => {
    const account = await accountWith(undefined, { crashAfterRouteWrites: [1, 0] });
    const write = () =>
      account.clients.ec2.send(
        new ReplaceRouteCommand({
          RouteTableId: TABLE,
          DestinationCidrBlock: '10.50.0.0/16',
          NetworkInterfaceId: 'eni-0fedcba9876543210',
        }),
      );
    const twoWrites = async () => {
      await write();
      await write();
    };

    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(await settle(account, account.invoke(twoWrites, 60_000)));

    expect(outcomes).toEqual([
      { kind: 'crashed', routeWrites: 1 },
      { kind: 'crashed', routeWrites: 0 },
      { kind: 'completed', value: undefined },
    ]);
  });

  it('fails an action it does not model with an error naming it', async () => {
    const account = await accountWith();

    const error = await errorOf(account, account.clients.ec2.send(new DescribeVpcsCommand({})));

    expect(error.message).toContain('does not implement EC2 DescribeVpcs');
  });
});
