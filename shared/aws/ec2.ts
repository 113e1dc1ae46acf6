import {
  type Address,
  AssociateAddressCommand,
  CreateRouteCommand,
  DescribeAddressesCommand,
  DescribeNetworkInterfacesCommand,
  type EC2Client,
  type Instance,
  type InstanceStatus,
  paginateDescribeInstanceStatus,
  paginateDescribeRouteTables,
  ReplaceRouteCommand,
  type Route,
  type RouteTable,
} from '@aws-sdk/client-ec2';
import { chunk } from '../concurrency.ts';
import { canonicalIpv6, destinationKind } from '../config/schema.ts';
import type { RouteWrite } from '../domain/plan.ts';
import {
  type InstanceObservation,
  NO_ADDRESS,
  type ScheduledEvent,
  type StatusSummary,
} from '../domain/types.ts';
import { ControllerError } from '../errors.ts';
import {
  IDS_PER_CALL,
  instanceState,
  readDroppingMissing,
  readInstances,
  send,
  unique,
} from './ec2-calls.ts';
import { awsErrorName, toControllerError } from './errors.ts';
import { collector, type ReadResult } from './read-result.ts';

/**
 * The EC2 gateway of failover: instance status, route tables, route-target ENIs and Elastic IPs, in the
 * domain's shapes. Reads batch and paginate and never throw (a failed chunk is reported, its keys left out);
 * writes throw typed errors from ./errors.ts. The resize workflow's calls are in ./ec2-resize.ts, the
 * operator's checks in ./ec2-checks.ts.
 */

/** A route as the table shows it, whatever its target. */
export interface TableRoute {
  /** DestinationCidrBlock, DestinationIpv6CidrBlock or DestinationPrefixListId */
  readonly destination: string;
  readonly networkInterfaceId?: string;
  readonly instanceId?: string;
  /** any other target: "igw-…", "tgw-…", "nat-…", "pcx-…", "vgw-…", "local", a core network ARN... */
  readonly otherTarget?: string;
  readonly state: 'active' | 'blackhole' | 'filtered';
  /** CreateRouteTable, CreateRoute, EnableVgwRoutePropagation or Advertisement (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReplaceRoute.html) */
  readonly origin?: string;
}

/** A member whose route-target ENI is wanted; a configured networkInterfaceId takes precedence. */
export interface RouteTargetMember {
  readonly instanceId: string;
  readonly networkInterfaceId?: string | undefined;
}

/** A member's route-target ENI and that ENI's primary private IPv4 address (NO_ADDRESS when it has none). */
export interface RouteTarget {
  readonly eni: string;
  readonly address: string;
}

/** Where an Elastic IP is associated now. Both absent when it is not associated. */
export interface ElasticIpAssociation {
  readonly networkInterfaceId?: string;
  readonly publicIp?: string;
}

const STATUS_SUMMARIES: ReadonlySet<string> = new Set<StatusSummary>([
  'ok',
  'impaired',
  'insufficient-data',
  'not-applicable',
  'initializing',
]);

const statusSummary = (status: string | undefined): StatusSummary | undefined =>
  status !== undefined && STATUS_SUMMARIES.has(status) ? (status as StatusSummary) : undefined;

/**
 * Status checks, state and scheduled events of instances: DescribeInstanceStatus with IncludeAllInstances (so
 * stopped instances appear), at most 100 ids a call, all chunks in parallel. MaxResults cannot be combined with
 * InstanceIds (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceStatus.html), so the paginator only follows NextToken. Ids EC2 does not know are
 * reported as `found: false`; a chunk that fails otherwise leaves its ids out and adds an error.
 */
export async function readInstanceStatuses(
  ec2: EC2Client,
  instanceIds: readonly string[],
): Promise<ReadResult<string, InstanceObservation>> {
  const out = collector<string, InstanceObservation>();
  await Promise.all(
    chunk(unique(instanceIds), IDS_PER_CALL).map(async (ids) => {
      const read = await readDroppingMissing(ids, 'InvalidInstanceID.NotFound', async (remaining) => {
        const statuses: InstanceStatus[] = [];
        const pages = paginateDescribeInstanceStatus(
          { client: ec2 },
          { InstanceIds: remaining, IncludeAllInstances: true },
        );
        for await (const page of pages) statuses.push(...(page.InstanceStatuses ?? []));
        return statuses;
      });
      for (const id of read.missing)
        out.values.set(id, { instanceId: id, found: false, scheduledEvents: [] });
      if (read.error !== undefined) {
        out.errors.push(`DescribeInstanceStatus ${read.unread.join(', ')}: ${read.error}`);
        return;
      }
      for (const status of read.result ?? []) {
        if (status.InstanceId !== undefined && ids.includes(status.InstanceId)) {
          out.values.set(status.InstanceId, instanceObservation(status.InstanceId, status));
        }
      }
      const unanswered = ids.filter((id) => !out.values.has(id));
      if (unanswered.length > 0) {
        out.errors.push(`DescribeInstanceStatus returned no status for ${unanswered.join(', ')}`);
      }
    }),
  );
  return out;
}

function instanceObservation(instanceId: string, status: InstanceStatus): InstanceObservation {
  const state = instanceState(status.InstanceState?.Name);
  const systemStatus = statusSummary(status.SystemStatus?.Status);
  const instanceStatus = statusSummary(status.InstanceStatus?.Status);
  const ebsStatus = statusSummary(status.AttachedEbsStatus?.Status);
  return {
    instanceId,
    found: true,
    ...(state ? { state } : {}),
    ...(systemStatus ? { systemStatus } : {}),
    ...(instanceStatus ? { instanceStatus } : {}),
    ...(ebsStatus ? { ebsStatus } : {}),
    scheduledEvents: (status.Events ?? []).flatMap((event): ScheduledEvent[] => {
      // Completed events stay listed for up to a week, prefixed "[Completed]" (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstanceStatus.html);
      // cancelled ones are marked the same way. Neither is a reason to move traffic.
      const description = event.Description;
      if (description?.startsWith('[Completed]') || description?.startsWith('[Canceled]')) return [];
      return [
        {
          code: event.Code ?? 'unknown',
          ...(event.NotBefore ? { notBefore: event.NotBefore.getTime() } : {}),
          ...(description ? { description } : {}),
        },
      ];
    }),
  };
}

/**
 * The ENI each member's routes must target, keyed by instance id: the configured networkInterfaceId when it is
 * attached to that instance, otherwise the primary ENI (device index 0). Routes target ENIs, never instance ids,
 * because instance-id targets fail on multi-ENI instances
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateRoute.html). The same DescribeInstances
 * answer gives that ENI's primary private IPv4 address, which the probe's peer check pings
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceNetworkInterface.html); NO_ADDRESS when
 * the ENI has none (an IPv6-only subnet), so it is not read again.
 */
export async function readRouteTargets(
  ec2: EC2Client,
  members: readonly RouteTargetMember[],
): Promise<ReadResult<string, RouteTarget>> {
  const out = collector<string, RouteTarget>();
  const byInstance = new Map<string, RouteTargetMember>();
  for (const member of members)
    if (!byInstance.has(member.instanceId)) byInstance.set(member.instanceId, member);
  await Promise.all(
    chunk([...byInstance.keys()], IDS_PER_CALL).map(async (ids) => {
      const read = await readDroppingMissing(ids, 'InvalidInstanceID.NotFound', (remaining) =>
        readInstances(ec2, remaining),
      );
      for (const id of read.missing) out.errors.push(`instance ${id} does not exist`);
      if (read.error !== undefined) {
        out.errors.push(`DescribeInstances ${read.unread.join(', ')}: ${read.error}`);
        return;
      }
      const instances = new Map((read.result ?? []).map((i) => [i.InstanceId, i]));
      for (const id of ids) {
        if (read.missing.includes(id)) continue;
        const instance = instances.get(id);
        const member = byInstance.get(id);
        if (!instance || !member) {
          out.errors.push(`DescribeInstances returned nothing for ${id}`);
          continue;
        }
        const target = routeTargetEni(instance, member);
        if (!('eni' in target)) {
          out.errors.push(target.error);
          continue;
        }
        const eni = (instance.NetworkInterfaces ?? []).find((ni) => ni.NetworkInterfaceId === target.eni);
        out.values.set(id, { eni: target.eni, address: eni?.PrivateIpAddress ?? NO_ADDRESS });
      }
    }),
  );
  return out;
}

/**
 * Which of these network interfaces EC2 no longer knows (DescribeNetworkInterfaces answers
 * InvalidNetworkInterfaceID.NotFound naming them): deleted, as a terminated instance's primary ENI is. An
 * interface that cannot be read for any other reason is not reported as deleted.
 */
export async function readDeletedEnis(ec2: EC2Client, eniIds: readonly string[]): Promise<Set<string>> {
  const deleted = new Set<string>();
  await Promise.all(
    chunk([...new Set(eniIds)], IDS_PER_CALL).map(async (ids) => {
      const read = await readDroppingMissing(ids, 'InvalidNetworkInterfaceID.NotFound', (remaining) =>
        ec2.send(new DescribeNetworkInterfacesCommand({ NetworkInterfaceIds: remaining })),
      );
      for (const id of read.missing) deleted.add(id);
    }),
  );
  return deleted;
}

function routeTargetEni(instance: Instance, member: RouteTargetMember): { eni: string } | { error: string } {
  const interfaces = instance.NetworkInterfaces ?? [];
  if (member.networkInterfaceId !== undefined) {
    return interfaces.some((ni) => ni.NetworkInterfaceId === member.networkInterfaceId)
      ? { eni: member.networkInterfaceId }
      : { error: `configured ${member.networkInterfaceId} is not attached to ${member.instanceId}` };
  }
  // On instances with several network cards each card has its own device indexes; the primary ENI is 0 on card 0.
  const primary = interfaces.find(
    (ni) => ni.Attachment?.DeviceIndex === 0 && (ni.Attachment.NetworkCardIndex ?? 0) === 0,
  );
  return primary?.NetworkInterfaceId !== undefined
    ? { eni: primary.NetworkInterfaceId }
    : { error: `${member.instanceId} has no network interface at device index 0` };
}

/**
 * Every route of the given tables, at most 100 tables a call, all chunks in parallel, every page. A table EC2
 * does not know (InvalidRouteTableID.NotFound) is reported by name and the others are still read.
 */
export async function readRouteTables(
  ec2: EC2Client,
  routeTableIds: readonly string[],
): Promise<ReadResult<string, TableRoute[]>> {
  const out = collector<string, TableRoute[]>();
  await Promise.all(
    chunk(unique(routeTableIds), IDS_PER_CALL).map(async (ids) => {
      const read = await readDroppingMissing(ids, 'InvalidRouteTableID.NotFound', async (remaining) => {
        const tables: RouteTable[] = [];
        for await (const page of paginateDescribeRouteTables({ client: ec2 }, { RouteTableIds: remaining })) {
          tables.push(...(page.RouteTables ?? []));
        }
        return tables;
      });
      for (const id of read.missing) out.errors.push(`route table ${id} does not exist`);
      if (read.error !== undefined) {
        out.errors.push(`DescribeRouteTables ${read.unread.join(', ')}: ${read.error}`);
        return;
      }
      for (const table of read.result ?? []) {
        if (table.RouteTableId === undefined || !ids.includes(table.RouteTableId)) continue;
        out.values.set(
          table.RouteTableId,
          (table.Routes ?? []).flatMap((route) => {
            const mapped = tableRoute(route);
            return mapped ? [mapped] : [];
          }),
        );
      }
      const unanswered = ids.filter((id) => !out.values.has(id) && !read.missing.includes(id));
      if (unanswered.length > 0)
        out.errors.push(`DescribeRouteTables returned nothing for ${unanswered.join(', ')}`);
    }),
  );
  return out;
}

function tableRoute(route: Route): TableRoute | undefined {
  // EC2 shows IPv6 destinations in RFC 5952 form; canonicalising again guarantees that a route reads exactly as
  // the configuration names it (the schema canonicalises with the same function).
  const ipv6 = route.DestinationIpv6CidrBlock;
  const destination =
    route.DestinationCidrBlock ??
    (ipv6 === undefined ? undefined : (canonicalIpv6(ipv6) ?? ipv6)) ??
    route.DestinationPrefixListId;
  if (destination === undefined) return undefined;
  const pointsAtInterface = route.NetworkInterfaceId !== undefined || route.InstanceId !== undefined;
  const otherTarget = pointsAtInterface
    ? undefined
    : (route.GatewayId ??
      route.NatGatewayId ??
      route.TransitGatewayId ??
      route.VpcPeeringConnectionId ??
      route.EgressOnlyInternetGatewayId ??
      route.LocalGatewayId ??
      route.CarrierGatewayId ??
      route.CoreNetworkArn ??
      route.OdbNetworkArn);
  return {
    destination,
    ...(route.NetworkInterfaceId ? { networkInterfaceId: route.NetworkInterfaceId } : {}),
    ...(route.InstanceId ? { instanceId: route.InstanceId } : {}),
    ...(otherTarget ? { otherTarget } : {}),
    // EC2 always reports State; if it ever did not, reading "active" is the reading that moves nothing.
    state: route.State ?? 'active',
    ...(route.Origin ? { origin: route.Origin } : {}),
  };
}

/** The request field that names a destination of this kind (IPv4 CIDR, IPv6 CIDR or prefix list). */
function destinationField(destination: string) {
  switch (destinationKind(destination)) {
    case 'ipv4':
      return { DestinationCidrBlock: destination };
    case 'ipv6':
      return { DestinationIpv6CidrBlock: destination };
    case 'prefix-list':
      return { DestinationPrefixListId: destination };
    case undefined:
      throw new ControllerError(
        `not a route destination: ${destination} (expected a CIDR or pl-… prefix list)`,
      );
  }
}

/**
 * ReplaceRoute's answer when the table has no route for the destination. Real EC2 answers InvalidParameterValue
 * with "There is no route defined for '<destination>' in the route table. Use CreateRoute instead." (checked
 * against AWS by the moto maintainers, https://github.com/getmoto/moto/pull/6425); InvalidRoute.NotFound, which
 * DeleteRoute answers, is accepted too in case ReplaceRoute is ever aligned with it. Any other
 * InvalidParameterValue (a bad target, the local route) is a real failure.
 */
function isMissingRoute(err: unknown): boolean {
  const name = awsErrorName(err);
  if (name === 'InvalidRoute.NotFound') return true;
  const message = err instanceof Error ? err.message : '';
  return name === 'InvalidParameterValue' && /^There is no route defined for '[^']*'/.test(message);
}

/**
 * Point one route at an ENI: ReplaceRoute for an existing route, CreateRoute for a missing one. Each falls back
 * to the other once when the table disagrees with the plan: ReplaceRoute's missing-route answer (isMissingRoute)
 * means the route is gone, CreateRoute's RouteAlreadyExists means someone created it
 * (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html). Resolves to what was done;
 * throws ThrottledError once the SDK's retries are spent, AwsError for anything else.
 */
export async function writeRoute(ec2: EC2Client, write: RouteWrite): Promise<'replaced' | 'created'> {
  const input = {
    RouteTableId: write.routeTableId,
    NetworkInterfaceId: write.networkInterfaceId,
    ...destinationField(write.destination),
  };
  const call = (action: RouteWrite['action']) =>
    action === 'replace' ? ec2.send(new ReplaceRouteCommand(input)) : ec2.send(new CreateRouteCommand(input));
  const fallBack = (err: unknown) =>
    write.action === 'replace' ? isMissingRoute(err) : awsErrorName(err) === 'RouteAlreadyExists';
  let action = write.action;
  try {
    try {
      await call(action);
    } catch (err) {
      if (!fallBack(err)) throw err;
      action = action === 'replace' ? 'create' : 'replace';
      await call(action);
    }
  } catch (err) {
    const operation = action === 'replace' ? 'ReplaceRoute' : 'CreateRoute';
    throw toControllerError(
      err,
      `${operation} ${write.routeTableId} ${write.destination} -> ${write.networkInterfaceId}`,
    );
  }
  return action === 'replace' ? 'replaced' : 'created';
}

/**
 * Where Elastic IPs are associated, by allocation id, in one DescribeAddresses call. Allocation ids EC2 does not
 * know are reported as errors and the others still read.
 */
export async function readElasticIps(
  ec2: EC2Client,
  allocationIds: readonly string[],
): Promise<ReadResult<string, ElasticIpAssociation>> {
  const out = collector<string, ElasticIpAssociation>();
  const ids = unique(allocationIds);
  if (ids.length === 0) return out;
  const read = await readDroppingMissing(
    ids,
    'InvalidAllocationID.NotFound',
    async (remaining): Promise<Address[]> => {
      const response = await ec2.send(new DescribeAddressesCommand({ AllocationIds: remaining }));
      return response.Addresses ?? [];
    },
  );
  for (const id of read.missing) out.errors.push(`Elastic IP ${id} does not exist`);
  if (read.error !== undefined) {
    out.errors.push(`DescribeAddresses ${read.unread.join(', ')}: ${read.error}`);
    return out;
  }
  for (const address of read.result ?? []) {
    if (address.AllocationId === undefined) continue;
    out.values.set(address.AllocationId, {
      ...(address.NetworkInterfaceId ? { networkInterfaceId: address.NetworkInterfaceId } : {}),
      ...(address.PublicIp ? { publicIp: address.PublicIp } : {}),
    });
  }
  return out;
}

/**
 * Associate an Elastic IP with an ENI, moving it from wherever it is (AllowReassociation). Targeting the ENI,
 * not the instance, is required on multi-ENI instances (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AssociateAddress.html). Idempotent.
 */
export async function associateElasticIp(
  ec2: EC2Client,
  allocationId: string,
  networkInterfaceId: string,
): Promise<void> {
  await send(
    () =>
      ec2.send(
        new AssociateAddressCommand({
          AllocationId: allocationId,
          NetworkInterfaceId: networkInterfaceId,
          AllowReassociation: true,
        }),
      ),
    `AssociateAddress ${allocationId} -> ${networkInterfaceId}`,
  );
}
