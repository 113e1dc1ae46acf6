import {
  AllocateAddressCommand,
  AssociateAddressCommand,
  AttachNetworkInterfaceCommand,
  CreateNetworkInterfaceCommand,
  CreateRouteCommand,
  CreateRouteTableCommand,
  CreateSubnetCommand,
  CreateVpcCommand,
  DescribeAddressesCommand,
  DescribeInstancesCommand,
  DescribeRouteTablesCommand,
  RunInstancesCommand,
} from '@aws-sdk/client-ec2';
import type { InitializeMiddleware, MiddlewareStack } from '@smithy/types';
import { inject } from 'vitest';
import type { HandlerDeps } from '../../functions/controller/handler.ts';
import { type AwsClients, createClients } from '../../shared/aws/clients.ts';
import { parseConfig } from '../../shared/config/load.ts';
import type { ConfigInput } from '../../shared/config/schema.ts';
import { createMetrics } from '../../shared/controller/metrics.ts';
import { rootLogger } from '../../shared/logger.ts';
import { createStateTable } from '../../sim/state-table.ts';
import { steppingClock } from '../support/mock-fleet.ts';

/**
 * The account the integration tests run against: moto (started by global-setup.ts), reached through the clients
 * the product's own createClients makes, and a VPC with one VPN pair built in it by plain SDK calls.
 */

const endpoint = inject('motoEndpoint');
export const TABLE = 'vpn-failover-state';
export const PAIR = 'branch-a';
export const DESTINATIONS = ['10.50.0.0/16', '192.168.10.0/24'];
export const SCHEDULE = { action: 'schedule' };
export const context = { awsRequestId: 'integration', getRemainingTimeInMillis: () => 60_000 };
/** EC2 calls that change something the controller manages. */
const WRITES = new Set(['ReplaceRouteCommand', 'CreateRouteCommand', 'AssociateAddressCommand']);

export interface Member {
  readonly instanceId: string;
  /** device index 0: the ENI routes must target (each member has a second one, at device index 1) */
  readonly eni: string;
}

export interface World {
  readonly primary: Member;
  readonly standby: Member;
  readonly routeTables: readonly string[];
  readonly allocationId: string;
}

// The SDK reads AWS_ENDPOINT_URL for every client (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html),
// so the clients are the ones createClients makes for Lambda, only pointed at moto.
process.env.AWS_ENDPOINT_URL = endpoint;
export const sent: string[] = [];
const countCommand: InitializeMiddleware<object, object> = (next, ctx) => (args) => {
  sent.push(String(ctx.commandName));
  return next(args);
};
export const clients: AwsClients = createClients({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  // Every command each client sends, by name, counted before the SDK's retries.
  customize: (client) => {
    (client.middlewareStack as MiddlewareStack<object, object>).add(countCommand, {
      step: 'initialize',
      name: 'countCommands',
    });
  },
});
export const { ec2 } = clients;
export const writes = () => sent.filter((name) => WRITES.has(name));

export let world: World;

/** Empty moto's accounts (its management API), so each test builds its own VPC and table. */
async function resetMoto(): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (!response.ok) throw new Error(`moto reset answered ${response.status}`);
}

async function launchMember(subnetId: string): Promise<Member> {
  const run = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: 't2.small',
      MinCount: 1,
      MaxCount: 1,
      SubnetId: subnetId,
    }),
  );
  const instance = run.Instances?.[0];
  const eni = instance?.NetworkInterfaces?.find((ni) => ni.Attachment?.DeviceIndex === 0)?.NetworkInterfaceId;
  if (instance?.InstanceId === undefined || eni === undefined) throw new Error('moto launched no instance');
  const created = await ec2.send(new CreateNetworkInterfaceCommand({ SubnetId: subnetId }));
  const secondEni = created.NetworkInterface?.NetworkInterfaceId as string;
  await ec2.send(
    new AttachNetworkInterfaceCommand({
      InstanceId: instance.InstanceId,
      NetworkInterfaceId: secondEni,
      DeviceIndex: 1,
    }),
  );
  // The controller must pick device index 0 among what DescribeInstances lists, so both must be listed.
  const described = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [instance.InstanceId] }));
  const listed = described.Reservations?.[0]?.Instances?.[0]?.NetworkInterfaces ?? [];
  if (listed.length !== 2)
    throw new Error(`moto lists ${listed.length} ENIs on ${instance.InstanceId}, not 2`);
  return { instanceId: instance.InstanceId, eni };
}

/** A VPC with two VPN instances, two route tables whose managed routes target the primary, an EIP on it. */
async function buildWorld(): Promise<World> {
  const vpc = await ec2.send(new CreateVpcCommand({ CidrBlock: '10.0.0.0/16' }));
  const vpcId = vpc.Vpc?.VpcId as string;
  const subnet = await ec2.send(
    new CreateSubnetCommand({ VpcId: vpcId, CidrBlock: '10.0.1.0/24', AvailabilityZone: 'eu-west-1a' }),
  );
  const subnetId = subnet.Subnet?.SubnetId as string;
  const primary = await launchMember(subnetId);
  const standby = await launchMember(subnetId);
  const routeTables: string[] = [];
  for (let i = 0; i < 2; i++) {
    const table = await ec2.send(new CreateRouteTableCommand({ VpcId: vpcId }));
    const id = table.RouteTable?.RouteTableId as string;
    routeTables.push(id);
    for (const destination of DESTINATIONS) {
      await ec2.send(
        new CreateRouteCommand({
          RouteTableId: id,
          DestinationCidrBlock: destination,
          NetworkInterfaceId: primary.eni,
        }),
      );
    }
  }
  const address = await ec2.send(new AllocateAddressCommand({ Domain: 'vpc' }));
  const allocationId = address.AllocationId as string;
  await ec2.send(
    new AssociateAddressCommand({ AllocationId: allocationId, NetworkInterfaceId: primary.eni }),
  );
  return { primary, standby, routeTables, allocationId };
}

export function pairConfig(
  overrides: Partial<ConfigInput['pairs'][number]> = {},
): ConfigInput['pairs'][number] {
  return {
    name: PAIR,
    primary: { instanceId: world.primary.instanceId },
    standby: { instanceId: world.standby.instanceId },
    routeTables: [...world.routeTables],
    destinations: DESTINATIONS,
    // moto does not implement ListCommandInvocations, so an SSM probe can never read a verdict here (pinned in
    // controller.test.ts, "what moto does not emulate"); the pair is judged on its instance signals.
    probe: { kind: 'none' },
    elasticIp: { allocationId: world.allocationId },
    ...overrides,
  };
}

export function handlerDeps(pair = pairConfig()): HandlerDeps {
  return {
    clients,
    config: parseConfig({ pairs: [pair] }),
    tableName: TABLE,
    probeDocument: 'VpnFailover-Probe',
    // Sleeps (probe polling) advance this clock instead of waiting.
    clock: steppingClock(Date.now()),
    log: rootLogger,
    metrics: createMetrics(),
  };
}

/** Which member each managed route targets now, as DescribeRouteTables shows it, by "table destination". */
export async function routeTargets(): Promise<Record<string, string>> {
  const { RouteTables = [] } = await ec2.send(
    new DescribeRouteTablesCommand({ RouteTableIds: [...world.routeTables] }),
  );
  const name = (eni: string | undefined) =>
    eni === world.primary.eni ? 'primary' : eni === world.standby.eni ? 'standby' : `${eni}`;
  const targets: Record<string, string> = {};
  for (const table of RouteTables) {
    for (const route of table.Routes ?? []) {
      if (route.DestinationCidrBlock === undefined || !DESTINATIONS.includes(route.DestinationCidrBlock))
        continue;
      targets[`${table.RouteTableId} ${route.DestinationCidrBlock}`] = name(route.NetworkInterfaceId);
    }
  }
  return targets;
}

/** Every managed route, each on `member`. */
export const allOn = (member: string) =>
  Object.fromEntries(world.routeTables.flatMap((t) => DESTINATIONS.map((d) => [`${t} ${d}`, member])));

export async function elasticIpOn(): Promise<string | undefined> {
  const { Addresses = [] } = await ec2.send(
    new DescribeAddressesCommand({ AllocationIds: [world.allocationId] }),
  );
  const eni = Addresses[0]?.NetworkInterfaceId;
  return eni === world.primary.eni ? 'primary' : eni === world.standby.eni ? 'standby' : eni;
}

/** Empty moto, then build the VPC, the pair and the state table afresh; forget the commands sent so far. */
export async function freshAccount(): Promise<void> {
  await resetMoto();
  world = await buildWorld();
  await createStateTable(clients.dynamo, TABLE);
  sent.length = 0;
}
