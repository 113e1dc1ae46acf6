import { readFileSync } from 'node:fs';
import {
  AssociateAddressCommand,
  CreateRouteCommand,
  DescribeAddressesCommand,
  DescribeInstanceStatusCommand,
  type DescribeInstanceStatusCommandOutput,
  DescribeInstancesCommand,
  type DescribeInstancesCommandOutput,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  DescribeNetworkInterfacesCommand,
  DescribeRouteTablesCommand,
  type DescribeRouteTablesCommandOutput,
  EC2Client,
  ModifyInstanceAttributeCommand,
  ReplaceRouteCommand,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import {
  associateElasticIp,
  readDeletedEnis,
  readElasticIps,
  readInstanceStatuses,
  readRouteTables,
  readRouteTargets,
  writeRoute,
} from '../../shared/aws/ec2.ts';
import {
  describeInstances,
  describeInstanceTypes,
  instanceTypeOfferedIn,
  modifyInstanceType,
  startInstance,
  stopInstance,
} from '../../shared/aws/ec2-resize.ts';
import {
  AwsError,
  IncorrectInstanceStateError,
  InsufficientCapacityError,
  InvalidInstanceTypeError,
} from '../../shared/aws/errors.ts';
import { NO_ADDRESS } from '../../shared/domain/types.ts';
import { ThrottledError } from '../../shared/errors.ts';

/** A recorded response; ISO timestamps become Dates as the SDK would deliver them. */
function fixture<T>(name: string): T {
  const text = readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
  return JSON.parse(text, (_key, value) =>
    typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/.test(value)
      ? new Date(value)
      : value,
  );
}

/** An EC2 error as the SDK surfaces it: unmodeled, the code in `name` (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html). */
const awsError = (name: string, message: string) =>
  Object.assign(new Error(message), { name, $fault: 'client', $metadata: { httpStatusCode: 400 } });

/** Realistic 17-hex-digit ids. */
const instanceId = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
const routeTableId = (n: number) => `rtb-${n.toString(16).padStart(17, '0')}`;

const ec2Mock = mockClient(EC2Client);
// The stub replaces the client class's send for the whole worker: give it back for the next file.
afterAll(() => ec2Mock.restore());
// maxAttempts 1: a throttling test must not sit through the SDK's backoff.
const ec2 = new EC2Client({ maxAttempts: 1 });

beforeEach(() => {
  ec2Mock.reset();
});

describe('readInstanceStatuses', () => {
  it('reads state, status checks and pending scheduled events, and drops completed events', async () => {
    // Prepare
    ec2Mock
      .on(DescribeInstanceStatusCommand)
      .resolves(fixture<DescribeInstanceStatusCommandOutput>('describe-instance-status.json'));

    // Act
    const result = await readInstanceStatuses(ec2, [
      'i-0123456789abcdef0',
      'i-0fedcba9876543210',
      'i-0aaaabbbbccccdddd',
    ]);

    // Assess
    expect(result.errors).toEqual([]);
    expect(result.values.get('i-0123456789abcdef0')).toEqual({
      instanceId: 'i-0123456789abcdef0',
      found: true,
      state: 'running',
      systemStatus: 'ok',
      instanceStatus: 'ok',
      ebsStatus: 'ok',
      scheduledEvents: [
        {
          code: 'instance-retirement',
          notBefore: Date.parse('2026-12-07T09:00:00.000Z'),
          description: 'The instance is running on degraded hardware',
        },
      ],
    });
    expect(result.values.get('i-0fedcba9876543210')).toMatchObject({
      state: 'stopped',
      systemStatus: 'not-applicable',
    });
    expect(result.values.get('i-0aaaabbbbccccdddd')).toMatchObject({
      state: 'running',
      instanceStatus: 'impaired',
    });
  });

  it('includes stopped instances and asks for at most 100 ids a call: 250 ids take exactly 3 calls', async () => {
    // Prepare
    const ids = Array.from({ length: 250 }, (_, i) => instanceId(i + 1));
    const sizes: number[] = [];
    ec2Mock.on(DescribeInstanceStatusCommand).callsFake((input) => {
      sizes.push(input.InstanceIds.length);
      return {
        InstanceStatuses: input.InstanceIds.map((id: string) => ({
          InstanceId: id,
          InstanceState: { Name: 'stopped' },
        })),
      };
    });

    // Act
    const result = await readInstanceStatuses(ec2, ids);

    // Assess
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstanceStatusCommand, 3);
    expect(sizes.sort((a, b) => b - a)).toEqual([100, 100, 50]);
    for (const call of ec2Mock.commandCalls(DescribeInstanceStatusCommand)) {
      expect(call.args[0].input.IncludeAllInstances).toBe(true);
      // MaxResults cannot be combined with InstanceIds
      // (docs/aws-behaviour.md#instance-status-and-scheduled-events).
      expect(call.args[0].input.MaxResults).toBeUndefined();
    }
    expect(result.values.size).toBe(250);
    expect(result.errors).toEqual([]);
  });

  it('follows NextToken until the last page', async () => {
    // Prepare
    const tokens: (string | undefined)[] = [];
    ec2Mock.on(DescribeInstanceStatusCommand).callsFake((input) => {
      tokens.push(input.NextToken);
      return input.NextToken === undefined
        ? {
            InstanceStatuses: [{ InstanceId: instanceId(1), InstanceState: { Name: 'running' } }],
            NextToken: 'page-2',
          }
        : { InstanceStatuses: [{ InstanceId: instanceId(2), InstanceState: { Name: 'stopping' } }] };
    });

    // Act
    const result = await readInstanceStatuses(ec2, [instanceId(1), instanceId(2)]);

    // Assess
    expect(tokens).toEqual([undefined, 'page-2']);
    expect(result.values.get(instanceId(2))?.state).toBe('stopping');
  });

  it('reports ids EC2 does not know as not found and still reads the rest of their chunk', async () => {
    // Prepare
    const [known, gone1, gone2] = [instanceId(1), instanceId(2), instanceId(3)];
    ec2Mock.on(DescribeInstanceStatusCommand).callsFake((input) => {
      const unknown = input.InstanceIds.filter((id: string) => id !== known);
      if (unknown.length > 0) {
        throw awsError('InvalidInstanceID.NotFound', `The instance IDs '${unknown.join(', ')}' do not exist`);
      }
      return { InstanceStatuses: [{ InstanceId: known, InstanceState: { Name: 'running' } }] };
    });

    // Act
    const result = await readInstanceStatuses(ec2, [gone1, known, gone2]);

    // Assess
    expect(result.errors).toEqual([]);
    expect(result.values.get(gone1)).toEqual({ instanceId: gone1, found: false, scheduledEvents: [] });
    expect(result.values.get(gone2)?.found).toBe(false);
    expect(result.values.get(known)).toMatchObject({ found: true, state: 'running' });
    expect(ec2Mock).toHaveReceivedNthCommandWith(DescribeInstanceStatusCommand, 2, { InstanceIds: [known] });
  });

  it('understands the single-id form of the not-found message', async () => {
    // Prepare
    const gone = instanceId(7);
    ec2Mock
      .on(DescribeInstanceStatusCommand)
      .rejects(awsError('InvalidInstanceID.NotFound', `The instance ID '${gone}' does not exist`));

    // Act
    const result = await readInstanceStatuses(ec2, [gone]);

    // Assess
    expect(result.values.get(gone)?.found).toBe(false);
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeInstanceStatusCommand, 1);
  });

  it('leaves only the failed chunk unknown when one call fails', async () => {
    // Prepare
    const ids = Array.from({ length: 150 }, (_, i) => instanceId(i + 1));
    ec2Mock.on(DescribeInstanceStatusCommand).callsFake((input) => {
      if (input.InstanceIds.includes(instanceId(1)))
        throw awsError('InternalError', 'An internal error has occurred');
      return { InstanceStatuses: input.InstanceIds.map((id: string) => ({ InstanceId: id })) };
    });

    // Act
    const result = await readInstanceStatuses(ec2, ids);

    // Assess
    expect(result.values.size).toBe(50);
    expect(result.values.has(instanceId(1))).toBe(false);
    expect(result.values.has(instanceId(150))).toBe(true);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toContain('InternalError');
  });
});

describe('readRouteTargets', () => {
  const describeFixture = () => fixture<DescribeInstancesCommandOutput>('describe-instances.json');

  it('targets the primary ENI (device index 0) of a multi-ENI instance by default', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(describeFixture());

    // Act
    const result = await readRouteTargets(ec2, [
      { instanceId: 'i-0123456789abcdef0' },
      { instanceId: 'i-0fedcba9876543210' },
    ]);

    // Assess
    expect(result.errors).toEqual([]);
    expect(result.values.get('i-0123456789abcdef0')?.eni).toBe('eni-0a0a0a0a0a0a0a0a0');
    expect(result.values.get('i-0fedcba9876543210')?.eni).toBe('eni-0c0c0c0c0c0c0c0c0');
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstancesCommand, {
      InstanceIds: ['i-0123456789abcdef0', 'i-0fedcba9876543210'],
    });
  });

  it("gives the private IPv4 address of each member's route-target ENI, not of its other ENIs, or none", async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-0123456789abcdef0',
              NetworkInterfaces: [
                {
                  NetworkInterfaceId: 'eni-0000000000000000a',
                  PrivateIpAddress: '10.0.9.9',
                  Attachment: { DeviceIndex: 1 },
                },
                {
                  NetworkInterfaceId: 'eni-0a1b2c3d4e5f60001',
                  PrivateIpAddress: '10.0.1.10',
                  Attachment: { DeviceIndex: 0 },
                },
              ],
            },
            {
              InstanceId: 'i-0fedcba9876543210',
              NetworkInterfaces: [
                {
                  NetworkInterfaceId: 'eni-0f1e2d3c4b5a60002',
                  Ipv6Addresses: [{ Ipv6Address: '2001:db8::1' }],
                  Attachment: { DeviceIndex: 0 },
                },
              ],
            },
          ],
        },
      ],
    });

    // Act
    const result = await readRouteTargets(ec2, [
      { instanceId: 'i-0123456789abcdef0' },
      { instanceId: 'i-0fedcba9876543210' },
    ]);

    // Assess: an ENI without IPv4 is remembered as having none, so it is not read again
    expect(result.errors).toEqual([]);
    expect(result.values).toEqual(
      new Map([
        ['i-0123456789abcdef0', { eni: 'eni-0a1b2c3d4e5f60001', address: '10.0.1.10' }],
        ['i-0fedcba9876543210', { eni: 'eni-0f1e2d3c4b5a60002', address: NO_ADDRESS }],
      ]),
    );
  });

  it('uses the configured ENI when it is attached to the instance', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(describeFixture());

    // Act
    const result = await readRouteTargets(ec2, [
      { instanceId: 'i-0123456789abcdef0', networkInterfaceId: 'eni-0b1b1b1b1b1b1b1b1' },
    ]);

    // Assess
    expect(result.values.get('i-0123456789abcdef0')?.eni).toBe('eni-0b1b1b1b1b1b1b1b1');
  });

  it('reports a configured ENI that is not attached to the instance instead of guessing', async () => {
    // Prepare
    ec2Mock.on(DescribeInstancesCommand).resolves(describeFixture());

    // Act
    const result = await readRouteTargets(ec2, [
      { instanceId: 'i-0fedcba9876543210', networkInterfaceId: 'eni-0b1b1b1b1b1b1b1b1' },
    ]);

    // Assess
    expect(result.values.has('i-0fedcba9876543210')).toBe(false);
    expect(result.errors).toEqual([
      'configured eni-0b1b1b1b1b1b1b1b1 is not attached to i-0fedcba9876543210',
    ]);
  });

  it('reports an instance EC2 does not know and still reads the others', async () => {
    // Prepare
    const gone = 'i-0999999999999999f';
    ec2Mock
      .on(DescribeInstancesCommand, { InstanceIds: ['i-0123456789abcdef0', gone] })
      .rejects(awsError('InvalidInstanceID.NotFound', `The instance ID '${gone}' does not exist`))
      .on(DescribeInstancesCommand, { InstanceIds: ['i-0123456789abcdef0'] })
      .resolves(describeFixture());

    // Act
    const result = await readRouteTargets(ec2, [{ instanceId: 'i-0123456789abcdef0' }, { instanceId: gone }]);

    // Assess
    expect(result.values.get('i-0123456789abcdef0')?.eni).toBe('eni-0a0a0a0a0a0a0a0a0');
    expect(result.errors).toEqual([`instance ${gone} does not exist`]);
  });
});

describe('readDeletedEnis', () => {
  it('names the interfaces EC2 says do not exist, and reads the rest again', async () => {
    // Prepare
    const [alive, gone] = ['eni-0a1b2c3d4e5f60001', 'eni-0deadbeef00000001'];
    ec2Mock.on(DescribeNetworkInterfacesCommand).callsFake((input) => {
      if (input.NetworkInterfaceIds.includes(gone)) {
        throw awsError(
          'InvalidNetworkInterfaceID.NotFound',
          `The networkInterface ID '${gone}' does not exist`,
        );
      }
      return { NetworkInterfaces: [{ NetworkInterfaceId: alive }] };
    });

    // Act
    const deleted = await readDeletedEnis(ec2, [alive, gone]);

    // Assess
    expect([...deleted]).toEqual([gone]);
    expect(ec2Mock).toHaveReceivedNthCommandWith(DescribeNetworkInterfacesCommand, 2, {
      NetworkInterfaceIds: [alive],
    });
  });

  it('reports nothing deleted when the interfaces cannot be read (unknown is not deleted)', async () => {
    ec2Mock.on(DescribeNetworkInterfacesCommand).rejects(awsError('UnauthorizedOperation', 'not allowed'));

    expect([...(await readDeletedEnis(ec2, ['eni-0deadbeef00000001']))]).toEqual([]);
  });
});

describe('readRouteTables', () => {
  it('reads every route with its ENI, instance or other target, state and origin', async () => {
    // Prepare
    ec2Mock
      .on(DescribeRouteTablesCommand)
      .resolves(fixture<DescribeRouteTablesCommandOutput>('describe-route-tables.json'));

    // Act
    const result = await readRouteTables(ec2, ['rtb-0a1b2c3d4e5f60718']);

    // Assess
    expect(result.errors).toEqual([]);
    expect(result.values.get('rtb-0a1b2c3d4e5f60718')).toEqual([
      { destination: '10.0.0.0/16', otherTarget: 'local', state: 'active', origin: 'CreateRouteTable' },
      {
        destination: '2001:db8:1234:1a00::/56',
        otherTarget: 'local',
        state: 'active',
        origin: 'CreateRouteTable',
      },
      {
        destination: '0.0.0.0/0',
        otherTarget: 'igw-0123456789abcdef0',
        state: 'active',
        origin: 'CreateRoute',
      },
      {
        destination: '10.50.0.0/16',
        networkInterfaceId: 'eni-0a0a0a0a0a0a0a0a0',
        instanceId: 'i-0123456789abcdef0',
        state: 'active',
        origin: 'CreateRoute',
      },
      {
        destination: '2001:db8:50::/48',
        networkInterfaceId: 'eni-0a0a0a0a0a0a0a0a0',
        instanceId: 'i-0123456789abcdef0',
        state: 'active',
        origin: 'CreateRoute',
      },
      {
        destination: 'pl-0123456789abcdef0',
        networkInterfaceId: 'eni-0deadbeefdeadbeef',
        state: 'blackhole',
        origin: 'CreateRoute',
      },
      {
        destination: '172.16.0.0/12',
        otherTarget: 'tgw-0123456789abcdef0',
        state: 'active',
        origin: 'CreateRoute',
      },
      {
        destination: '192.168.10.0/24',
        otherTarget: 'vgw-0123456789abcdef0',
        state: 'active',
        origin: 'EnableVgwRoutePropagation',
      },
    ]);
  });

  it('reports an IPv6 destination in the one spelling the configuration uses, whatever case or zeros EC2 sends', async () => {
    // Prepare
    const table = routeTableId(1);
    ec2Mock.on(DescribeRouteTablesCommand).resolves({
      RouteTables: [
        {
          RouteTableId: table,
          Routes: [
            {
              DestinationIpv6CidrBlock: '2001:0DB8:0050:0:0::/48',
              NetworkInterfaceId: 'eni-0a0a0a0a0a0a0a0a0',
              Origin: 'CreateRoute',
              State: 'active',
            },
          ],
        },
      ],
    });

    // Act
    const result = await readRouteTables(ec2, [table]);

    // Assess
    expect(result.values.get(table)?.map((r) => r.destination)).toEqual(['2001:db8:50::/48']);
  });

  it('asks for at most 100 tables a call and follows every page', async () => {
    // Prepare
    const ids = Array.from({ length: 150 }, (_, i) => routeTableId(i + 1));
    const requests: { count: number; token: string | undefined }[] = [];
    ec2Mock.on(DescribeRouteTablesCommand).callsFake((input) => {
      requests.push({ count: input.RouteTableIds.length, token: input.NextToken });
      const half = Math.ceil(input.RouteTableIds.length / 2);
      const page =
        input.NextToken === undefined ? input.RouteTableIds.slice(0, half) : input.RouteTableIds.slice(half);
      return {
        RouteTables: page.map((id: string) => ({ RouteTableId: id, Routes: [] })),
        ...(input.NextToken === undefined ? { NextToken: 'next' } : {}),
      };
    });

    // Act
    const result = await readRouteTables(ec2, ids);

    // Assess
    expect(result.errors).toEqual([]);
    expect(result.values.size).toBe(150);
    expect(requests.map((r) => r.count).sort((a, b) => b - a)).toEqual([100, 100, 50, 50]);
    expect(requests.filter((r) => r.token === 'next')).toHaveLength(2);
  });

  it('names a table EC2 does not know in errors and still reads the others', async () => {
    // Prepare
    const [known, gone] = [routeTableId(1), routeTableId(2)];
    ec2Mock.on(DescribeRouteTablesCommand).callsFake((input) => {
      if (input.RouteTableIds.includes(gone)) {
        throw awsError('InvalidRouteTableID.NotFound', `The routeTable ID '${gone}' does not exist`);
      }
      return { RouteTables: [{ RouteTableId: known, Routes: [] }] };
    });

    // Act
    const result = await readRouteTables(ec2, [known, gone]);

    // Assess
    expect(result.values.get(known)).toEqual([]);
    expect(result.values.has(gone)).toBe(false);
    expect(result.errors).toEqual([`route table ${gone} does not exist`]);
  });
});

describe('writeRoute', () => {
  const eni = 'eni-0c0c0c0c0c0c0c0c0';
  const table = 'rtb-0a1b2c3d4e5f60718';

  it('replaces an IPv4 route with the ENI as target, never the instance id', async () => {
    // Prepare
    ec2Mock.on(ReplaceRouteCommand).resolves({});

    // Act
    const done = await writeRoute(ec2, {
      routeTableId: table,
      destination: '10.50.0.0/16',
      action: 'replace',
      networkInterfaceId: eni,
    });

    // Assess
    expect(done).toBe('replaced');
    expect(ec2Mock).toHaveReceivedCommandWith(ReplaceRouteCommand, {
      RouteTableId: table,
      DestinationCidrBlock: '10.50.0.0/16',
      NetworkInterfaceId: eni,
    });
    const input = ec2Mock.commandCalls(ReplaceRouteCommand)[0]?.args[0].input;
    expect(input).not.toHaveProperty('InstanceId');
    expect(ec2Mock).not.toHaveReceivedCommand(CreateRouteCommand);
  });

  it('names an IPv6 destination with DestinationIpv6CidrBlock', async () => {
    // Prepare
    ec2Mock.on(ReplaceRouteCommand).resolves({});

    // Act
    await writeRoute(ec2, {
      routeTableId: table,
      destination: '2001:db8:50::/48',
      action: 'replace',
      networkInterfaceId: eni,
    });

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(ReplaceRouteCommand, {
      DestinationIpv6CidrBlock: '2001:db8:50::/48',
      NetworkInterfaceId: eni,
    });
    expect(ec2Mock.commandCalls(ReplaceRouteCommand)[0]?.args[0].input).not.toHaveProperty(
      'DestinationCidrBlock',
    );
  });

  it('names a prefix-list destination with DestinationPrefixListId', async () => {
    // Prepare
    ec2Mock.on(CreateRouteCommand).resolves({ Return: true });

    // Act
    const done = await writeRoute(ec2, {
      routeTableId: table,
      destination: 'pl-0123456789abcdef0',
      action: 'create',
      networkInterfaceId: eni,
    });

    // Assess
    expect(done).toBe('created');
    expect(ec2Mock).toHaveReceivedCommandWith(CreateRouteCommand, {
      RouteTableId: table,
      DestinationPrefixListId: 'pl-0123456789abcdef0',
      NetworkInterfaceId: eni,
    });
  });

  // Real EC2 answers a ReplaceRoute of a missing route with InvalidParameterValue and this message, not
  // InvalidRoute.NotFound (checked against AWS by the moto maintainers: https://github.com/getmoto/moto/pull/6425).
  it.each([
    [
      'InvalidParameterValue, as EC2 answers today',
      'InvalidParameterValue',
      `There is no route defined for '10.50.0.0/16' in the route table. Use CreateRoute instead.`,
    ],
    [
      'InvalidRoute.NotFound, should EC2 ever answer with it',
      'InvalidRoute.NotFound',
      `The route identified by 10.50.0.0/16 does not exist.`,
    ],
  ])('creates the route when the one it meant to replace is missing (%s)', async (_, code, message) => {
    // Prepare
    ec2Mock.on(ReplaceRouteCommand).rejects(awsError(code, message)).on(CreateRouteCommand).resolves({
      Return: true,
    });

    // Act
    const done = await writeRoute(ec2, {
      routeTableId: table,
      destination: '10.50.0.0/16',
      action: 'replace',
      networkInterfaceId: eni,
    });

    // Assess
    expect(done).toBe('created');
    expect(ec2Mock).toHaveReceivedCommandWith(CreateRouteCommand, {
      RouteTableId: table,
      DestinationCidrBlock: '10.50.0.0/16',
      NetworkInterfaceId: eni,
    });
  });

  it('creates nothing when ReplaceRoute fails with any other InvalidParameterValue', async () => {
    // Prepare
    const unsupported = awsError(
      'InvalidParameterValue',
      'Route target is not supported. This route only supports interface and instance targets.',
    );
    ec2Mock.on(ReplaceRouteCommand).rejects(unsupported).on(CreateRouteCommand).resolves({ Return: true });

    // Act
    const attempt = writeRoute(ec2, {
      routeTableId: table,
      destination: '10.50.0.0/16',
      action: 'replace',
      networkInterfaceId: eni,
    });

    // Assess
    await expect(attempt).rejects.toMatchObject({ code: 'InvalidParameterValue', cause: unsupported });
    expect(ec2Mock).not.toHaveReceivedCommand(CreateRouteCommand);
  });

  it('replaces the route when the one it meant to create already exists (RouteAlreadyExists)', async () => {
    // Prepare
    ec2Mock
      .on(CreateRouteCommand)
      .rejects(awsError('RouteAlreadyExists', `The route identified by 10.50.0.0/16 already exists.`))
      .on(ReplaceRouteCommand)
      .resolves({});

    // Act
    const done = await writeRoute(ec2, {
      routeTableId: table,
      destination: '10.50.0.0/16',
      action: 'create',
      networkInterfaceId: eni,
    });

    // Assess
    expect(done).toBe('replaced');
    expect(ec2Mock).toHaveReceivedCommandTimes(ReplaceRouteCommand, 1);
  });

  it('raises ThrottledError when EC2 still throttles after the SDK retries', async () => {
    // Prepare
    const throttled = awsError('RequestLimitExceeded', 'Request limit exceeded.');
    ec2Mock.on(ReplaceRouteCommand).rejects(throttled);

    // Act
    const attempt = writeRoute(ec2, {
      routeTableId: table,
      destination: '10.50.0.0/16',
      action: 'replace',
      networkInterfaceId: eni,
    });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(ThrottledError);
    await expect(attempt).rejects.toMatchObject({ name: ThrottledError.NAME, cause: throttled });
  });

  it('raises AwsError carrying the EC2 code for any other failure, without falling back', async () => {
    // Prepare
    const missingEni = awsError(
      'InvalidNetworkInterfaceID.NotFound',
      `The networkInterface ID '${eni}' does not exist`,
    );
    ec2Mock.on(ReplaceRouteCommand).rejects(missingEni);

    // Act
    const attempt = writeRoute(ec2, {
      routeTableId: table,
      destination: '10.50.0.0/16',
      action: 'replace',
      networkInterfaceId: eni,
    });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(AwsError);
    await expect(attempt).rejects.toMatchObject({
      code: 'InvalidNetworkInterfaceID.NotFound',
      cause: missingEni,
    });
    await expect(attempt).rejects.toThrow(/ReplaceRoute .*InvalidNetworkInterfaceID\.NotFound/);
    expect(ec2Mock).not.toHaveReceivedCommand(CreateRouteCommand);
  });
});

describe('Elastic IPs', () => {
  it('reads where each Elastic IP is associated in one call', async () => {
    // Prepare
    ec2Mock.on(DescribeAddressesCommand).resolves({
      Addresses: [
        {
          AllocationId: 'eipalloc-0123456789abcdef0',
          AssociationId: 'eipassoc-0123456789abcdef0',
          Domain: 'vpc',
          NetworkInterfaceId: 'eni-0a0a0a0a0a0a0a0a0',
          PublicIp: '203.0.113.10',
        },
        { AllocationId: 'eipalloc-0fedcba9876543210', Domain: 'vpc', PublicIp: '203.0.113.20' },
      ],
    });

    // Act
    const result = await readElasticIps(ec2, ['eipalloc-0123456789abcdef0', 'eipalloc-0fedcba9876543210']);

    // Assess
    expect(ec2Mock).toHaveReceivedCommandTimes(DescribeAddressesCommand, 1);
    expect(result.values.get('eipalloc-0123456789abcdef0')).toEqual({
      networkInterfaceId: 'eni-0a0a0a0a0a0a0a0a0',
      publicIp: '203.0.113.10',
    });
    expect(result.values.get('eipalloc-0fedcba9876543210')).toEqual({ publicIp: '203.0.113.20' });
  });

  it('reports an allocation EC2 does not know and still reads the others', async () => {
    // Prepare
    ec2Mock
      .on(DescribeAddressesCommand, {
        AllocationIds: ['eipalloc-0123456789abcdef0', 'eipalloc-0999999999999999f'],
      })
      .rejects(
        awsError(
          'InvalidAllocationID.NotFound',
          "The allocation ID 'eipalloc-0999999999999999f' does not exist",
        ),
      )
      .on(DescribeAddressesCommand, { AllocationIds: ['eipalloc-0123456789abcdef0'] })
      .resolves({ Addresses: [{ AllocationId: 'eipalloc-0123456789abcdef0', PublicIp: '203.0.113.10' }] });

    // Act
    const result = await readElasticIps(ec2, ['eipalloc-0123456789abcdef0', 'eipalloc-0999999999999999f']);

    // Assess
    expect(result.values.get('eipalloc-0123456789abcdef0')).toEqual({ publicIp: '203.0.113.10' });
    expect(result.errors).toEqual(['Elastic IP eipalloc-0999999999999999f does not exist']);
  });

  it('moves the Elastic IP to the ENI, allowing reassociation', async () => {
    // Prepare
    ec2Mock.on(AssociateAddressCommand).resolves({ AssociationId: 'eipassoc-0fedcba9876543210' });

    // Act
    await associateElasticIp(ec2, 'eipalloc-0123456789abcdef0', 'eni-0c0c0c0c0c0c0c0c0');

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(AssociateAddressCommand, {
      AllocationId: 'eipalloc-0123456789abcdef0',
      NetworkInterfaceId: 'eni-0c0c0c0c0c0c0c0c0',
      AllowReassociation: true,
    });
    expect(ec2Mock.commandCalls(AssociateAddressCommand)[0]?.args[0].input).not.toHaveProperty('InstanceId');
  });
});

describe('resize calls', () => {
  it('describes instances with the facts the resize preflight checks', async () => {
    // Prepare
    ec2Mock
      .on(DescribeInstancesCommand)
      .resolves(fixture<DescribeInstancesCommandOutput>('describe-instances.json'));

    // Act
    const instances = await describeInstances(ec2, ['i-0fedcba9876543210', 'i-0123456789abcdef0']);

    // Assess
    expect(instances).toEqual([
      {
        instanceId: 'i-0fedcba9876543210',
        state: 'stopped',
        instanceType: 'c6in.large',
        availabilityZone: 'eu-west-1b',
        architecture: 'x86_64',
        enaSupport: true,
        bootMode: 'uefi-preferred',
        hibernationConfigured: false,
      },
      expect.objectContaining({
        instanceId: 'i-0123456789abcdef0',
        state: 'running',
        availabilityZone: 'eu-west-1a',
      }),
    ]);
  });

  it('stops and starts one instance at a time', async () => {
    // Prepare
    ec2Mock.on(StopInstancesCommand).resolves({}).on(StartInstancesCommand).resolves({});

    // Act
    await stopInstance(ec2, 'i-0fedcba9876543210');
    await startInstance(ec2, 'i-0fedcba9876543210');

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(StopInstancesCommand, { InstanceIds: ['i-0fedcba9876543210'] });
    expect(ec2Mock).toHaveReceivedCommandWith(StartInstancesCommand, {
      InstanceIds: ['i-0fedcba9876543210'],
    });
  });

  it('raises InsufficientCapacityError when a start finds no capacity', async () => {
    // Prepare
    ec2Mock
      .on(StartInstancesCommand)
      .rejects(
        awsError(
          'InsufficientInstanceCapacity',
          'We currently do not have sufficient c6in.xlarge capacity in the Availability Zone you requested (eu-west-1b).',
        ),
      );

    // Act
    const attempt = startInstance(ec2, 'i-0fedcba9876543210');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InsufficientCapacityError);
    await expect(attempt).rejects.toMatchObject({ name: 'InsufficientCapacityError' });
  });

  it('changes the type with ModifyInstanceAttribute', async () => {
    // Prepare
    ec2Mock.on(ModifyInstanceAttributeCommand).resolves({});

    // Act
    await modifyInstanceType(ec2, 'i-0fedcba9876543210', 'c6in.xlarge');

    // Assess
    expect(ec2Mock).toHaveReceivedCommandWith(ModifyInstanceAttributeCommand, {
      InstanceId: 'i-0fedcba9876543210',
      InstanceType: { Value: 'c6in.xlarge' },
    });
  });

  it('raises IncorrectInstanceStateError when the instance is not stopped', async () => {
    // Prepare
    ec2Mock
      .on(ModifyInstanceAttributeCommand)
      .rejects(
        awsError(
          'IncorrectInstanceState',
          "The instance 'i-0fedcba9876543210' is not in the 'stopped' state.",
        ),
      );

    // Act
    const attempt = modifyInstanceType(ec2, 'i-0fedcba9876543210', 'c6in.xlarge');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(IncorrectInstanceStateError);
  });

  it('raises InvalidInstanceTypeError when the type cannot be applied', async () => {
    // Prepare
    ec2Mock
      .on(ModifyInstanceAttributeCommand)
      .rejects(
        awsError(
          'InvalidInstanceAttributeValue',
          'Value (c7g.xlarge) for parameter instanceType is invalid.',
        ),
      );

    // Act
    const attempt = modifyInstanceType(ec2, 'i-0fedcba9876543210', 'c7g.xlarge');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InvalidInstanceTypeError);
    await expect(attempt).rejects.toMatchObject({ name: InvalidInstanceTypeError.NAME });
  });

  it('describes what an instance type supports', async () => {
    // Prepare
    ec2Mock.on(DescribeInstanceTypesCommand).resolves({
      InstanceTypes: [
        {
          InstanceType: 'c6in.xlarge',
          Hypervisor: 'nitro',
          ProcessorInfo: { SupportedArchitectures: ['x86_64'] },
          NetworkInfo: { EnaSupport: 'required', MaximumNetworkInterfaces: 4 },
          EbsInfo: { NvmeSupport: 'required' },
          SupportedBootModes: ['legacy-bios', 'uefi'],
        },
      ],
    });

    // Act
    const types = await describeInstanceTypes(ec2, ['c6in.xlarge']);

    // Assess
    expect(types).toEqual([
      {
        instanceType: 'c6in.xlarge',
        architectures: ['x86_64'],
        enaSupport: 'required',
        nvmeSupport: 'required',
        bootModes: ['legacy-bios', 'uefi'],
        hypervisor: 'nitro',
        maxNetworkInterfaces: 4,
      },
    ]);
  });

  it('raises InvalidInstanceTypeError for a type EC2 does not know', async () => {
    // Prepare
    ec2Mock
      .on(DescribeInstanceTypesCommand)
      .rejects(
        awsError('InvalidInstanceType', 'The following supplied instance types do not exist: [c9z.large]'),
      );

    // Act
    const attempt = describeInstanceTypes(ec2, ['c9z.large']);

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InvalidInstanceTypeError);
  });

  it('lists the availability zones where a type is offered, filtered by type and zone', async () => {
    // Prepare
    ec2Mock.on(DescribeInstanceTypeOfferingsCommand).resolves({
      InstanceTypeOfferings: [
        { InstanceType: 'c6in.xlarge', LocationType: 'availability-zone', Location: 'eu-west-1a' },
      ],
    });

    // Act
    const offered = await instanceTypeOfferedIn(ec2, 'c6in.xlarge', ['eu-west-1a', 'eu-west-1b']);

    // Assess
    expect(offered).toEqual(new Set(['eu-west-1a']));
    expect(ec2Mock).toHaveReceivedCommandWith(DescribeInstanceTypeOfferingsCommand, {
      LocationType: 'availability-zone',
      Filters: [
        { Name: 'instance-type', Values: ['c6in.xlarge'] },
        { Name: 'location', Values: ['eu-west-1a', 'eu-west-1b'] },
      ],
    });
  });
});
