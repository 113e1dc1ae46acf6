import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CreateRouteCommand,
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
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
import { PROBE_EXIT_NOT_RESPONDING } from '../../shared/telemetry-names.ts';
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

const probe = (account: SimAccount, instanceIds: string[], parameters: Record<string, string[]> = {}) =>
  account.clients.ssm.send(
    new SendCommandCommand({
      DocumentName: account.probeDocument,
      InstanceIds: instanceIds,
      Parameters: Object.fromEntries(
        Object.entries({ ProbeKind: ['strongswan'], MinSas: ['1'], ...parameters }).filter(
          ([, v]) => v.length > 0,
        ),
      ),
      TimeoutSeconds: 30,
    }),
  );

/** A member's private IPv4 address (its route-target ENI's). */
const addressOf = (account: SimAccount, instanceId: string): string => {
  const instance = account.world.instances.get(instanceId);
  return account.world.enis.get(instance?.routeTargetEni ?? '')?.privateIp ?? '';
};

/** The probe's PeerAddresses naming the example pair. */
const peersOf = (account: SimAccount) => ({
  PeerAddresses: [`${addressOf(account, PRIMARY)}-${addressOf(account, STANDBY)}`],
});

/** GetCommandInvocation of a command on one instance; `visible` false also accepts a Pending one. */
const invocationOf = async (account: SimAccount, CommandId: string, InstanceId: string, visible = true) => {
  const out = await settle(
    account,
    account.clients.ssm.send(new GetCommandInvocationCommand({ CommandId, InstanceId })),
  );
  if (visible && out.Status === 'Pending') throw new Error(`${InstanceId} still Pending`);
  return out;
};

const statusOf = async (account: SimAccount, instanceId: string) => {
  const out = await settle(
    account,
    account.clients.ec2.send(
      new DescribeInstanceStatusCommand({ InstanceIds: [instanceId], IncludeAllInstances: true }),
    ),
  );
  return out.InstanceStatuses?.[0];
};

/** The newest TunnelUp datapoint of a member in the last 10 minutes: its value and the start of its minute. */
const newestTunnelDatapoint = async (account: SimAccount, instanceId: string) => {
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
                Dimensions: [{ Name: 'InstanceId', Value: instanceId }],
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
  const result = out.MetricDataResults?.[0];
  return { value: result?.Values?.[0], at: result?.Timestamps?.[0]?.getTime() ?? 0 };
};

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

  it('turns routes to a terminated member blackhole, keeping the ENI id but no instance id', async () => {
    const account = await accountWith();
    account.world.applyFault(account.world.member('branch-a', 'primary'), 'terminate');

    await advance(account, 2 * 60_000);
    const route = (await routesOf(account)).find((r) => r.DestinationCidrBlock === '10.50.0.0/16');

    expect(route).toMatchObject({ NetworkInterfaceId: 'eni-0123456789abcdef0', State: 'blackhole' });
    expect(route?.InstanceId).toBeUndefined();
  });

  it('reads routes to a stopped member blackhole and active again once it runs (an assumption)', async () => {
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

  it('moves a route with ReplaceRoute, though reads may show the old target for a moment', async () => {
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

  it('reports a system impairment in the status checks one to two minutes later, not at once', async () => {
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

  it('accepts SendCommand to a member whose SSM agent just went offline and leaves its invocation Pending, then TimedOut "Delivery Timed Out" after TimeoutSeconds plus the execution timeout', async () => {
    const account = await accountWith();
    account.world.applyFault(account.world.member('branch-a', 'standby'), 'ssm-agent-offline');

    const sent = await settle(account, probe(account, [PRIMARY, STANDBY]));
    const CommandId = sent.Command?.CommandId as string;
    const standbyInvocation = async () => {
      const out = await settle(
        account,
        account.clients.ssm.send(new ListCommandInvocationsCommand({ CommandId, Details: true })),
      );
      return out.CommandInvocations?.find((i) => i.InstanceId === STANDBY);
    };
    await advance(account, 20_000);
    const meanwhile = await standbyInvocation();
    await advance(account, 30_000);
    const after = await standbyInvocation();

    expect(meanwhile).toMatchObject({ Status: 'Pending', StatusDetails: 'Pending' });
    expect(after).toMatchObject({ Status: 'TimedOut', StatusDetails: 'Delivery Timed Out' });
    expect(after?.CommandPlugins?.[0]?.ResponseCode).toBe(-1);
    expect(sent.Command?.ExpiresAfter?.getTime()).toBe(
      (sent.Command?.RequestedDateTime?.getTime() ?? 0) + 45_000,
    );
  });

  it('rejects SendCommand to a member with InvalidInstanceId naming it only once SSM has missed the silent agent’s health ping (5 to 10 minutes)', async () => {
    const account = await accountWith();
    account.world.applyFault(account.world.member('branch-a', 'standby'), 'ssm-agent-offline');

    await advance(account, 4 * 60_000);
    const early = await settle(account, probe(account, [PRIMARY, STANDBY]));
    await advance(account, 7 * 60_000);
    const error = await errorOf(account, probe(account, [PRIMARY, STANDBY]));

    expect(early.Command?.InstanceIds).toEqual([PRIMARY, STANDBY]);
    expect(error).toBeInstanceOf(InvalidInstanceId);
    expect(error.message).toContain(STANDBY);
    expect(error.message).not.toContain(PRIMARY);
  });

  it('delivers a waiting command once the SSM agent comes back online before its delivery timeout', async () => {
    const account = await accountWith();
    const standby = account.world.member('branch-a', 'standby');
    account.world.applyFault(standby, 'ssm-agent-offline');
    const sent = await settle(account, probe(account, [STANDBY]));
    const CommandId = sent.Command?.CommandId as string;

    await advance(account, 10_000);
    account.world.applyFault(standby, 'ssm-agent-online');
    await advance(account, 10_000);
    const out = await settle(
      account,
      account.clients.ssm.send(new GetCommandInvocationCommand({ CommandId, InstanceId: STANDBY })),
    );

    expect(out.Status).toBe('Success');
    expect(out.StandardOutputContent).toMatch(/^healthy: 2 installed CHILD SAs/);
  });

  it('keeps everything but the agent of an SSM-agent-offline member as it was: running, status ok, tunnel datapoints up, partner’s ping answered', async () => {
    const account = await accountWith();
    const standby = account.world.member('branch-a', 'standby');
    const faultAt = account.clock.now();
    account.world.applyFault(standby, 'ssm-agent-offline');

    await advance(account, 4 * 60_000);
    const sent = await settle(account, probe(account, [PRIMARY], peersOf(account)));
    await advance(account, 10_000);
    const primary = await invocationOf(account, sent.Command?.CommandId as string, PRIMARY);
    const status = await statusOf(account, STANDBY);
    const tunnel = await newestTunnelDatapoint(account, STANDBY);

    expect(status).toMatchObject({
      InstanceState: { Name: 'running' },
      InstanceStatus: { Status: 'ok' },
      SystemStatus: { Status: 'ok' },
    });
    expect(tunnel.value).toBe(1);
    expect(tunnel.at).toBeGreaterThan(faultAt);
    expect(primary.StandardOutputContent).toContain(`peer ${addressOf(account, STANDBY)} reachable`);
    expect(account.world.memberHealthy(standby)).toBe(true);
  });

  it('answers a probe of a hung strongSwan daemon after the script’s 2 s command timeout with exit 4 "daemon not responding"', async () => {
    const account = await accountWith();
    account.world.applyFault(account.world.member('branch-a', 'primary'), 'daemon-hang');

    const sent = await settle(account, probe(account, [PRIMARY]));
    const CommandId = sent.Command?.CommandId as string;
    // Delivered within 2.5 s (sim/latency.ts ssm.invocationVisible + delivery), then at least 0.3 s of
    // execution plus the 2 s timeout: still running at 2.6 s.
    await advance(account, 2_600);
    const running = await invocationOf(account, CommandId, PRIMARY);
    await advance(account, 10_000);
    const done = await invocationOf(account, CommandId, PRIMARY);

    expect(running.Status).toBe('InProgress');
    expect(done).toMatchObject({ Status: 'Failed', ResponseCode: PROBE_EXIT_NOT_RESPONDING });
    expect(done.StandardOutputContent).toBe(
      "unhealthy: daemon not responding: 'swanctl --list-sas' did not answer within 2 s",
    );
    const took = Date.parse(done.ExecutionEndDateTime ?? '') - Date.parse(done.ExecutionStartDateTime ?? '');
    expect(took).toBeGreaterThanOrEqual(2_000);
    expect(took).toBeLessThan(4_000);
  });

  it('answers a Libreswan probe of a hung daemon with its ipsec trafficstatus timing out, and a systemd probe with the unit still active', async () => {
    const account = await accountWith();
    account.world.applyFault(account.world.member('branch-a', 'primary'), 'daemon-hang');

    const libreswan = await settle(account, probe(account, [PRIMARY], { ProbeKind: ['libreswan'] }));
    const systemd = await settle(
      account,
      probe(account, [PRIMARY], { ProbeKind: ['systemd'], Unit: ['strongswan'], MinSas: [] }),
    );
    await advance(account, 10_000);
    const hung = await invocationOf(account, libreswan.Command?.CommandId as string, PRIMARY);
    const unit = await invocationOf(account, systemd.Command?.CommandId as string, PRIMARY);

    expect(hung.ResponseCode).toBe(PROBE_EXIT_NOT_RESPONDING);
    expect(hung.StandardOutputContent).toBe(
      "unhealthy: daemon not responding: 'ipsec trafficstatus' did not answer within 2 s",
    );
    expect(unit).toMatchObject({ Status: 'Success', StandardOutputContent: 'healthy: strongswan is active' });
  });

  it('publishes a hung daemon’s tunnel as down on the next datapoint and carries no traffic through it until daemon-up', async () => {
    const account = await accountWith();
    const primary = account.world.member('branch-a', 'primary');
    account.world.applyFault(primary, 'daemon-hang');

    await advance(account, 3 * 60_000);
    const down = await newestTunnelDatapoint(account, PRIMARY);
    const carried = account.world.memberHealthy(primary);
    account.world.applyFault(primary, 'daemon-up');
    await advance(account, 60_000);

    expect(down.value).toBe(0);
    expect(carried).toBe(false);
    expect(account.world.memberHealthy(primary)).toBe(true);
  });

  it('keeps an OS-hung member running with no tunnel datapoints, its commands undelivered, its partner’s ping unanswered, and its instance check impaired one to two minutes later', async () => {
    const account = await accountWith();
    const primary = account.world.member('branch-a', 'primary');
    const hungAt = account.clock.now();
    account.world.applyFault(primary, 'os-hang');

    const sent = await settle(account, probe(account, [PRIMARY, STANDBY], peersOf(account)));
    const CommandId = sent.Command?.CommandId as string;
    await advance(account, 10_000);
    const silent = await invocationOf(account, CommandId, PRIMARY, false);
    const partner = await invocationOf(account, CommandId, STANDBY);
    const early = await statusOf(account, PRIMARY);
    await advance(account, 2 * 60_000);
    const late = await statusOf(account, PRIMARY);
    const tunnel = await newestTunnelDatapoint(account, PRIMARY);

    expect(silent.Status).toBe('Pending');
    expect(partner.StandardOutputContent).toBe(
      `healthy: 2 installed CHILD SAs (at least 1 required)\npeer ${addressOf(account, PRIMARY)} unreachable`,
    );
    expect(early).toMatchObject({ InstanceState: { Name: 'running' }, InstanceStatus: { Status: 'ok' } });
    expect(late).toMatchObject({
      InstanceState: { Name: 'running' },
      InstanceStatus: { Status: 'impaired' },
      SystemStatus: { Status: 'ok' },
    });
    // Nothing published since: the newest datapoint is from the minute of the hang or before.
    expect(tunnel.at).toBeLessThanOrEqual(hungAt);
    expect(account.world.memberHealthy(primary)).toBe(false);
    expect(account.world.routeState({ kind: 'eni', eni: 'eni-0123456789abcdef0' })).toBe('active');
  });

  it('brings an OS-hung member back on os-recover: its agent answers after its startup delay and its checks read ok again', async () => {
    const account = await accountWith();
    const primary = account.world.member('branch-a', 'primary');
    account.world.applyFault(primary, 'os-hang');
    await advance(account, 3 * 60_000);

    account.world.applyFault(primary, 'os-recover');
    await advance(account, 2 * 60_000);
    const sent = await settle(account, probe(account, [PRIMARY]));
    await advance(account, 5_000);
    const answer = await invocationOf(account, sent.Command?.CommandId as string, PRIMARY);
    const status = await statusOf(account, PRIMARY);

    expect(answer.Status).toBe('Success');
    expect(status?.InstanceStatus?.Status).toBe('ok');
    expect(account.world.memberHealthy(primary)).toBe(true);
  });

  it('gives each member a private IPv4 address in the VPC, as DescribeInstances shows it', async () => {
    const account = await accountWith();

    const out = await settle(
      account,
      account.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [PRIMARY, STANDBY] })),
    );
    const addresses = (out.Reservations ?? [])
      .flatMap((r) => r.Instances ?? [])
      .map((i) => i.NetworkInterfaces?.[0]?.PrivateIpAddress);

    expect(addresses).toEqual([addressOf(account, PRIMARY), addressOf(account, STANDBY)]);
    for (const address of addresses) expect(address).toMatch(/^10\.0\.\d+\.\d+$/);
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

  it('shows a tunnel going down in GetMetricData only after the next datapoint is published and visible', async () => {
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

  it('changes the instance type only while the instance is stopped', async () => {
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

  it('throttles a burst of route writes beyond the EC2 mutating bucket of 50', async () => {
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
