import type {
  Address,
  AssociateAddressRequest,
  AssociateAddressResult,
  CreateRouteRequest,
  CreateRouteResult,
  DescribeAddressesRequest,
  DescribeAddressesResult,
  DescribeInstanceStatusRequest,
  DescribeInstanceStatusResult,
  DescribeInstancesRequest,
  DescribeInstancesResult,
  DescribeInstanceTypeOfferingsRequest,
  DescribeInstanceTypeOfferingsResult,
  DescribeInstanceTypesRequest,
  DescribeInstanceTypesResult,
  DescribeNetworkInterfacesRequest,
  DescribeNetworkInterfacesResult,
  DescribeRouteTablesRequest,
  DescribeRouteTablesResult,
  Instance,
  InstanceStateChange,
  InstanceStatus,
  InstanceStatusSummary,
  InstanceTypeOffering,
  ModifyInstanceAttributeRequest,
  ReplaceRouteRequest,
  Route,
  RouteTable,
  StartInstancesRequest,
  StartInstancesResult,
  StopInstancesRequest,
  StopInstancesResult,
} from '@aws-sdk/client-ec2';
import { canonicalIpv4, canonicalIpv6 } from '../../shared/config/schema.ts';
import type { StatusSummary } from '../../shared/domain/types.ts';
import { INSTANCE_TYPES, instanceTypeInfo } from '../catalog.ts';
import { serviceFault } from '../faults.ts';
import type { World } from '../world.ts';
import {
  ACCOUNT_ID,
  GATEWAY_FIELDS,
  type RouteTarget,
  type SimEni,
  type SimInstance,
  type SimRoute,
  type SimRouteTable,
  STATE_CODES,
} from '../world-model.ts';
import { applyFilters, notFoundMessage, paginate, type ServiceHandlers } from './common.ts';

/**
 * EC2 as the controller and the resize workflow use it, answered from the World with the real response shapes
 * and error codes (docs/aws-behaviour.md). Unknown ids, wrong states and missing routes fail exactly as EC2
 * does, so the adapters' fallbacks (CreateRoute after ReplaceRoute finds no route...) run for real.
 */

const IDS_PER_CALL = 100;

type Destination = { readonly value: string; readonly kind: SimRoute['destinationKind'] };

/** The instances named, or InvalidInstanceID.NotFound naming every unknown one. */
function instancesNamed(world: World, ids: readonly string[]): SimInstance[] {
  const missing = ids.filter((id) => world.visibleInstance(id) === undefined);
  if (missing.length > 0)
    throw serviceFault('InvalidInstanceID.NotFound', notFoundMessage('instance', missing));
  return ids.map((id) => world.visibleInstance(id) as SimInstance);
}

function checkIdCount(ids: readonly string[] | undefined, what: string): void {
  if ((ids?.length ?? 0) > IDS_PER_CALL) {
    throw serviceFault(
      'InvalidParameterValue',
      `The maximum number of ${what} per request is ${IDS_PER_CALL}`,
    );
  }
}

const stateOf = (instance: SimInstance) => ({ Code: STATE_CODES[instance.state], Name: instance.state });

function summary(status: StatusSummary, impairedSince?: number): InstanceStatusSummary {
  if (status === 'not-applicable') return { Status: status };
  const detail = status === 'ok' ? 'passed' : status === 'impaired' ? 'failed' : status;
  return {
    Status: status,
    Details: [
      {
        Name: 'reachability',
        Status: detail,
        ...(status === 'impaired' && impairedSince !== undefined
          ? { ImpairedSince: new Date(impairedSince) }
          : {}),
      },
    ],
  };
}

function instanceStatus(world: World, instance: SimInstance): InstanceStatus {
  const status = world.statusOf(instance);
  const weekAgo = world.clock.now() - 7 * 24 * 3600 * 1000;
  return {
    InstanceId: instance.id,
    AvailabilityZone: instance.availabilityZone,
    InstanceState: stateOf(instance),
    SystemStatus: summary(status.system, instance.checks.impairedSince),
    InstanceStatus: summary(status.instance, instance.checks.impairedSince),
    AttachedEbsStatus: summary(status.ebs),
    // Completed events stay listed for up to a week (docs/aws-behaviour.md#instance-status-and-scheduled-events).
    Events: instance.events
      .filter((e) => !e.description.startsWith('[') || e.notBefore > weekAgo)
      .map((e) => ({
        InstanceEventId: e.id,
        Code: e.code,
        Description: e.description,
        NotBefore: new Date(e.notBefore),
        NotAfter: new Date(e.notAfter),
      })),
  };
}

function describeInstanceStatus(
  world: World,
  input: DescribeInstanceStatusRequest,
): DescribeInstanceStatusResult {
  const ids = input.InstanceIds ?? [];
  checkIdCount(ids, 'instance IDs');
  if (ids.length > 0 && input.MaxResults !== undefined) {
    // MaxResults cannot be combined with InstanceIds (docs/aws-behaviour.md#instance-status-and-scheduled-events).
    throw serviceFault(
      'InvalidParameterCombination',
      'The parameter instancesSet cannot be used with the parameter maxResults',
    );
  }
  const candidates =
    ids.length > 0
      ? instancesNamed(world, ids)
      : [...world.instances.values()].filter((i) => world.visibleInstance(i.id));
  // Without IncludeAllInstances only running instances are returned
  // (docs/aws-behaviour.md#instance-status-and-scheduled-events).
  const scoped =
    input.IncludeAllInstances === true ? candidates : candidates.filter((i) => i.state === 'running');
  const filtered = applyFilters(scoped, input.Filters, {
    'instance-id': (i) => [i.id],
    'instance-state-name': (i) => [i.state],
    'instance-state-code': (i) => [String(STATE_CODES[i.state])],
    'availability-zone': (i) => [i.availabilityZone],
    'event.code': (i) => i.events.map((e) => e.code),
    'system-status.status': (i) => [world.statusOf(i).system],
    'instance-status.status': (i) => [world.statusOf(i).instance],
  });
  const { page, nextToken } = paginate(filtered, input.MaxResults, input.NextToken);
  return {
    InstanceStatuses: page.map((i) => instanceStatus(world, i)),
    ...(nextToken ? { NextToken: nextToken } : {}),
  };
}

function instanceShape(world: World, instance: SimInstance): Instance {
  const spec = INSTANCE_TYPES.get(instance.instanceType);
  const architecture = spec?.architecture ?? 'x86_64';
  const interfaces = instance.enis.flatMap((id) => {
    const eni = world.enis.get(id);
    if (!eni || eni.deleted) return [];
    const address = [...world.addresses.values()].find((a) => a.eni === id);
    return [
      {
        NetworkInterfaceId: eni.id,
        SubnetId: eni.subnetId,
        VpcId: world.vpcId,
        OwnerId: ACCOUNT_ID,
        Status: 'in-use' as const,
        SourceDestCheck: instance.sourceDestCheck,
        PrivateIpAddress: eni.privateIp,
        PrivateIpAddresses: [{ Primary: true, PrivateIpAddress: eni.privateIp }],
        InterfaceType: 'interface',
        Attachment: {
          AttachmentId: `eni-attach-0${world.dice.hex(`attach ${eni.id}`, 16)}`,
          DeviceIndex: eni.deviceIndex ?? 0,
          NetworkCardIndex: 0,
          Status: 'attached' as const,
          DeleteOnTermination: eni.deleteOnTermination,
          AttachTime: new Date(instance.launchTime),
        },
        ...(address ? { Association: { PublicIp: address.publicIp, IpOwnerId: ACCOUNT_ID } } : {}),
      },
    ];
  });
  const primary = interfaces[0];
  return {
    InstanceId: instance.id,
    ImageId: instance.imageId,
    InstanceType: instance.instanceType as Instance['InstanceType'],
    State: stateOf(instance),
    StateTransitionReason: instance.stateReason
      ? `${instance.stateReason} (${new Date(instance.stateSince).toISOString()})`
      : '',
    LaunchTime: new Date(instance.launchTime),
    Placement: { AvailabilityZone: instance.availabilityZone, Tenancy: 'default', GroupName: '' },
    Architecture: architecture,
    EnaSupport: true,
    BootMode: architecture === 'arm64' ? 'uefi' : 'legacy-bios',
    HibernationOptions: { Configured: false },
    RootDeviceType: 'ebs',
    RootDeviceName: '/dev/xvda',
    VirtualizationType: 'hvm',
    Hypervisor: 'xen',
    SourceDestCheck: instance.sourceDestCheck,
    ...(instance.state === 'terminated' ? {} : { VpcId: world.vpcId, SubnetId: instance.subnetId }),
    ...(primary ? { PrivateIpAddress: primary.PrivateIpAddress } : {}),
    NetworkInterfaces: interfaces,
    Tags: [{ Key: 'Name', Value: `${instance.pair}-${instance.role}` }],
  };
}

function describeInstances(world: World, input: DescribeInstancesRequest): DescribeInstancesResult {
  const ids = input.InstanceIds ?? [];
  if (ids.length > 0 && input.MaxResults !== undefined) {
    throw serviceFault(
      'InvalidParameterCombination',
      'The parameter instancesSet cannot be used with the parameter maxResults',
    );
  }
  const candidates =
    ids.length > 0
      ? instancesNamed(world, ids)
      : [...world.instances.values()].filter((i) => world.visibleInstance(i.id));
  const filtered = applyFilters(candidates, input.Filters, {
    'instance-id': (i) => [i.id],
    'instance-state-name': (i) => [i.state],
    'instance-type': (i) => [i.instanceType],
    'availability-zone': (i) => [i.availabilityZone],
    'vpc-id': () => [world.vpcId],
    'network-interface.network-interface-id': (i) => i.enis,
    'tag:Name': (i) => [`${i.pair}-${i.role}`],
  });
  const { page, nextToken } = paginate(filtered, input.MaxResults, input.NextToken);
  return {
    Reservations: page.map((instance) => ({
      ReservationId: `r-0${world.dice.hex(`reservation ${instance.id}`, 16)}`,
      OwnerId: ACCOUNT_ID,
      Groups: [],
      Instances: [instanceShape(world, instance)],
    })),
    ...(nextToken ? { NextToken: nextToken } : {}),
  };
}

function routeShape(world: World, route: SimRoute): Route {
  const target = world.visibleTarget(route);
  const destination =
    route.destinationKind === 'ipv6'
      ? { DestinationIpv6CidrBlock: route.destination }
      : route.destinationKind === 'prefix-list'
        ? { DestinationPrefixListId: route.destination }
        : { DestinationCidrBlock: route.destination };
  const via = (): Route => {
    switch (target.kind) {
      case 'local':
        return { GatewayId: 'local' };
      case 'gateway':
        return { [target.field]: target.id };
      case 'eni': {
        // The route names the instance too while the ENI is attached
        // (docs/aws-behaviour.md#route-targets-are-network-interfaces).
        const eni = world.enis.get(target.eni);
        const instanceId = eni && !eni.deleted ? eni.instanceId : undefined;
        return {
          NetworkInterfaceId: target.eni,
          ...(instanceId ? { InstanceId: instanceId, InstanceOwnerId: ACCOUNT_ID } : {}),
        };
      }
    }
  };
  return { ...destination, ...via(), Origin: route.origin, State: world.routeState(target) };
}

function tableShape(world: World, table: SimRouteTable): RouteTable {
  return {
    RouteTableId: table.id,
    VpcId: table.vpcId,
    OwnerId: ACCOUNT_ID,
    Routes: [...table.routes.values()].map((r) => routeShape(world, r)),
    Associations: [
      {
        Main: false,
        RouteTableAssociationId: `rtbassoc-0${world.dice.hex(`rtbassoc ${table.id}`, 16)}`,
        RouteTableId: table.id,
        SubnetId: `subnet-0${world.dice.hex(`subnet ${table.id}`, 16)}`,
        AssociationState: { State: 'associated' },
      },
    ],
    PropagatingVgws: [],
    Tags: [],
  };
}

function describeRouteTables(world: World, input: DescribeRouteTablesRequest): DescribeRouteTablesResult {
  const ids = input.RouteTableIds ?? [];
  const max = input.MaxResults;
  if (max !== undefined && (max < 5 || max > 100)) {
    throw serviceFault(
      'InvalidParameterValue',
      `Value ( ${max} ) for parameter maxResults is invalid. Expecting a value between 5 and 100.`,
    );
  }
  const missing = ids.filter((id) => !world.routeTables.has(id));
  if (missing.length > 0)
    throw serviceFault('InvalidRouteTableID.NotFound', notFoundMessage('routeTable', missing));
  const tables =
    ids.length > 0
      ? ids.map((id) => world.routeTables.get(id) as SimRouteTable)
      : [...world.routeTables.values()];
  const routes = (t: SimRouteTable) => [...t.routes.values()].map((r) => routeShape(world, r));
  // A table matches a route filter when any of its routes does (docs/aws-behaviour.md#route-table-filters).
  const filtered = applyFilters(tables, input.Filters, {
    'route-table-id': (t) => [t.id],
    'vpc-id': (t) => [t.vpcId],
    'owner-id': () => [ACCOUNT_ID],
    'association.main': () => ['false'],
    'route.destination-cidr-block': (t) => routes(t).map((r) => r.DestinationCidrBlock),
    'route.destination-ipv6-cidr-block': (t) => routes(t).map((r) => r.DestinationIpv6CidrBlock),
    'route.destination-prefix-list-id': (t) => routes(t).map((r) => r.DestinationPrefixListId),
    'route.gateway-id': (t) => routes(t).map((r) => r.GatewayId),
    'route.instance-id': (t) => routes(t).map((r) => r.InstanceId),
    // Not in the documented list, but EC2 accepts it (docs/aws-behaviour.md#route-table-filters).
    'route.network-interface-id': (t) => routes(t).map((r) => r.NetworkInterfaceId),
    'route.origin': (t) => routes(t).map((r) => r.Origin),
    'route.state': (t) => routes(t).map((r) => r.State),
  });
  const { page, nextToken } = paginate(filtered, max, input.NextToken);
  return {
    RouteTables: page.map((t) => tableShape(world, t)),
    ...(nextToken ? { NextToken: nextToken } : {}),
  };
}

function destinationOf(input: CreateRouteRequest | ReplaceRouteRequest): Destination {
  const given = [
    input.DestinationCidrBlock !== undefined ? 'DestinationCidrBlock' : undefined,
    input.DestinationIpv6CidrBlock !== undefined ? 'DestinationIpv6CidrBlock' : undefined,
    input.DestinationPrefixListId !== undefined ? 'DestinationPrefixListId' : undefined,
  ].filter((g) => g !== undefined);
  if (given.length === 0) {
    throw serviceFault(
      'MissingParameter',
      'The request must contain exactly one of: destinationCidrBlock, destinationIpv6CidrBlock, destinationPrefixListId',
    );
  }
  if (given.length > 1)
    throw serviceFault('InvalidParameterCombination', `Only one of ${given.join(', ')} may be given`);
  if (input.DestinationCidrBlock !== undefined) {
    const value = canonicalIpv4(input.DestinationCidrBlock);
    if (value === undefined) {
      throw serviceFault(
        'InvalidParameterValue',
        `Value (${input.DestinationCidrBlock}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.`,
      );
    }
    return { value, kind: 'ipv4' };
  }
  if (input.DestinationIpv6CidrBlock !== undefined) {
    // EC2 shows an IPv6 destination in RFC 5952 form whatever spelling created it.
    const value = canonicalIpv6(input.DestinationIpv6CidrBlock);
    if (value === undefined) {
      throw serviceFault(
        'InvalidParameterValue',
        `Value (${input.DestinationIpv6CidrBlock}) for parameter destinationIpv6CidrBlock is invalid.`,
      );
    }
    return { value, kind: 'ipv6' };
  }
  return { value: input.DestinationPrefixListId as string, kind: 'prefix-list' };
}

/**
 * The ENI of an instance named as a target, which must have exactly one
 * (docs/aws-behaviour.md#route-targets-are-network-interfaces).
 */
function onlyEniOf(world: World, instanceId: string): string {
  const [instance] = instancesNamed(world, [instanceId]);
  const [eni, ...more] = instance?.enis ?? [];
  if (eni === undefined) {
    throw serviceFault(
      'IncorrectInstanceState',
      `The instance '${instanceId}' has no network interface attached.`,
    );
  }
  if (more.length > 0) {
    throw serviceFault(
      'InvalidInstanceID',
      `There are multiple interfaces attached to instance '${instanceId}'. Please specify an interface ID for the operation instead.`,
    );
  }
  return eni;
}

/** The single target of a route write, resolved to an ENI for instance targets. */
function targetOf(world: World, input: CreateRouteRequest | ReplaceRouteRequest): RouteTarget {
  const named: RouteTarget[] = [];
  if (input.NetworkInterfaceId !== undefined) {
    const eni = world.enis.get(input.NetworkInterfaceId);
    if (!eni || eni.deleted) {
      throw serviceFault(
        'InvalidNetworkInterfaceID.NotFound',
        notFoundMessage('networkInterface', [input.NetworkInterfaceId]),
      );
    }
    named.push({ kind: 'eni', eni: eni.id });
  }
  if (input.InstanceId !== undefined) {
    // An instance target fails unless exactly one network interface is attached
    // (docs/aws-behaviour.md#route-targets-are-network-interfaces).
    named.push({ kind: 'eni', eni: onlyEniOf(world, input.InstanceId) });
  }
  for (const field of GATEWAY_FIELDS) {
    const id = (input as unknown as Record<string, unknown>)[field];
    if (typeof id === 'string')
      named.push(id === 'local' ? { kind: 'local' } : { kind: 'gateway', field, id });
  }
  if (named.length !== 1) {
    throw serviceFault(
      named.length === 0 ? 'MissingParameter' : 'InvalidParameterCombination',
      'The request must contain exactly one route target (gatewayId, networkInterfaceId, instanceId...)',
    );
  }
  return named[0] as RouteTarget;
}

function tableNamed(world: World, id: string | undefined): SimRouteTable {
  const table = id === undefined ? undefined : world.routeTables.get(id);
  if (!table) throw serviceFault('InvalidRouteTableID.NotFound', notFoundMessage('routeTable', [id ?? '']));
  return table;
}

function replaceRoute(world: World, input: ReplaceRouteRequest): object {
  const table = tableNamed(world, input.RouteTableId);
  const destination = destinationOf(input);
  const route = table.routes.get(destination.value.toLowerCase());
  if (!route) {
    // Real EC2's answer, not the InvalidRoute.NotFound of DeleteRoute (https://github.com/getmoto/moto/pull/6425).
    throw serviceFault(
      'InvalidParameterValue',
      `There is no route defined for '${destination.value}' in the route table. Use CreateRoute instead.`,
    );
  }
  if (route.origin === 'CreateRouteTable') {
    throw serviceFault(
      'InvalidParameterValue',
      `The route ${route.destination} is the local route of the VPC and cannot be replaced`,
    );
  }
  const target = targetOf(world, input);
  world.writeRoute(table, route, destination.value, destination.kind, target);
  return {};
}

function createRoute(world: World, input: CreateRouteRequest): CreateRouteResult {
  const table = tableNamed(world, input.RouteTableId);
  const destination = destinationOf(input);
  if (table.routes.has(destination.value.toLowerCase())) {
    throw serviceFault('RouteAlreadyExists', `The route identified by ${destination.value} already exists.`);
  }
  const target = targetOf(world, input);
  world.writeRoute(table, undefined, destination.value, destination.kind, target);
  return { Return: true };
}

function addressShape(world: World, allocationId: string): Address {
  const address = world.addresses.get(allocationId);
  if (!address) return {};
  const eni = address.eni === undefined ? undefined : world.enis.get(address.eni);
  return {
    AllocationId: address.allocationId,
    PublicIp: address.publicIp,
    Domain: 'vpc',
    PublicIpv4Pool: 'amazon',
    NetworkBorderGroup: world.region,
    ...(eni
      ? {
          AssociationId: address.associationId,
          NetworkInterfaceId: eni.id,
          NetworkInterfaceOwnerId: ACCOUNT_ID,
          PrivateIpAddress: eni.privateIp,
          ...(eni.instanceId ? { InstanceId: eni.instanceId } : {}),
        }
      : {}),
  };
}

function describeAddresses(world: World, input: DescribeAddressesRequest): DescribeAddressesResult {
  const ids = input.AllocationIds ?? [];
  const missing = ids.filter((id) => !world.addresses.has(id));
  if (missing.length > 0)
    throw serviceFault('InvalidAllocationID.NotFound', notFoundMessage('allocation', missing));
  const byIp = (input.PublicIps ?? []).map((ip) => {
    const found = [...world.addresses.values()].find((a) => a.publicIp === ip);
    if (!found) throw serviceFault('InvalidAddress.NotFound', `Address '${ip}' not found.`);
    return found.allocationId;
  });
  const chosen = ids.length + byIp.length > 0 ? [...new Set([...ids, ...byIp])] : [...world.addresses.keys()];
  const shapes = chosen.map((id) => addressShape(world, id));
  return {
    Addresses: applyFilters(shapes, input.Filters, {
      'allocation-id': (a) => [a.AllocationId],
      'association-id': (a) => [a.AssociationId],
      'network-interface-id': (a) => [a.NetworkInterfaceId],
      'instance-id': (a) => [a.InstanceId],
      'public-ip': (a) => [a.PublicIp],
      domain: (a) => [a.Domain],
    }),
  };
}

function associateAddress(world: World, input: AssociateAddressRequest): AssociateAddressResult {
  if (input.AllocationId === undefined) {
    throw serviceFault('MissingParameter', 'The request must contain the parameter AllocationId');
  }
  const address = world.addresses.get(input.AllocationId);
  if (!address)
    throw serviceFault('InvalidAllocationID.NotFound', notFoundMessage('allocation', [input.AllocationId]));
  let eniId = input.NetworkInterfaceId;
  if (eniId === undefined && input.InstanceId !== undefined) {
    // With InstanceId the instance must have exactly one ENI
    // (docs/aws-behaviour.md#route-targets-are-network-interfaces).
    eniId = onlyEniOf(world, input.InstanceId);
  }
  if (eniId === undefined)
    throw serviceFault('MissingParameter', 'Either instance ID or network interface ID must be specified');
  const eni = world.enis.get(eniId);
  if (!eni || eni.deleted)
    throw serviceFault('InvalidNetworkInterfaceID.NotFound', notFoundMessage('networkInterface', [eniId]));
  if (address.eni !== undefined && address.eni !== eniId && input.AllowReassociation === false) {
    throw serviceFault(
      'Resource.AlreadyAssociated',
      `resource ${address.allocationId} is already associated with associate-id ${address.associationId}`,
    );
  }
  return { AssociationId: world.associateAddress(address, eniId) };
}

function stateChanges(
  instances: readonly SimInstance[],
  act: (i: SimInstance) => void,
): InstanceStateChange[] {
  return instances.map((instance) => {
    const previous = stateOf(instance);
    act(instance);
    return { InstanceId: instance.id, PreviousState: previous, CurrentState: stateOf(instance) };
  });
}

function stopInstances(world: World, input: StopInstancesRequest): StopInstancesResult {
  const instances = instancesNamed(world, input.InstanceIds ?? []);
  const refused = instances.find((i) => !['running', 'pending', 'stopping', 'stopped'].includes(i.state));
  if (refused) {
    throw serviceFault(
      'IncorrectInstanceState',
      `The instance '${refused.id}' is not in a state from which it can be stopped.`,
    );
  }
  return { StoppingInstances: stateChanges(instances, (i) => world.stop(i)) };
}

function startInstances(world: World, input: StartInstancesRequest): StartInstancesResult {
  const instances = instancesNamed(world, input.InstanceIds ?? []);
  const refused = instances.find((i) => !['running', 'pending', 'stopped'].includes(i.state));
  if (refused) {
    throw serviceFault(
      'IncorrectInstanceState',
      `The instance '${refused.id}' is not in a state from which it can be started.`,
    );
  }
  const starting: InstanceStateChange[] = [];
  for (const instance of instances) {
    const previous = stateOf(instance);
    if (world.start(instance) === 'InsufficientInstanceCapacity') {
      // Answered as a client error so the SDK does not retry it: the fault fails exactly one StartInstances
      // call (EC2's documentation does not pin down its status for this code; assumption).
      const others = ['a', 'b', 'c']
        .map((z) => `${world.region}${z}`)
        .filter((z) => z !== instance.availabilityZone);
      throw serviceFault(
        'InsufficientInstanceCapacity',
        `We currently do not have sufficient ${instance.instanceType} capacity in the Availability Zone you requested (${instance.availabilityZone}). Our system will be working on provisioning additional capacity. You can currently get ${instance.instanceType} capacity by not specifying an Availability Zone in your request or choosing ${others.join(', ')}.`,
      );
    }
    starting.push({ InstanceId: instance.id, PreviousState: previous, CurrentState: stateOf(instance) });
  }
  return { StartingInstances: starting };
}

function modifyInstanceAttribute(world: World, input: ModifyInstanceAttributeRequest): object {
  const [instance] = instancesNamed(world, input.InstanceId === undefined ? [] : [input.InstanceId]);
  if (!instance) throw serviceFault('MissingParameter', 'The request must contain the parameter InstanceId');
  const given = Object.keys(input).filter(
    (k) =>
      k !== 'InstanceId' && k !== 'DryRun' && (input as unknown as Record<string, unknown>)[k] !== undefined,
  );
  // One attribute per call (docs/aws-behaviour.md#sourcedestination-check).
  if (given.length !== 1) {
    throw serviceFault(
      'InvalidParameterCombination',
      `Exactly one attribute must be modified per call (got ${given.join(', ') || 'none'})`,
    );
  }
  if (input.SourceDestCheck !== undefined) {
    instance.sourceDestCheck = input.SourceDestCheck.Value ?? instance.sourceDestCheck;
    return {};
  }
  const type = input.InstanceType?.Value;
  if (type === undefined) {
    throw serviceFault(
      'UnsupportedOperation',
      `The simulated account does not model the attribute ${given[0]}`,
    );
  }
  // The type changes only while stopped (docs/aws-behaviour.md#stopping-starting-and-resizing-instances).
  if (instance.state !== 'stopped') {
    throw serviceFault(
      'IncorrectInstanceState',
      `The instance '${instance.id}' is not in the 'stopped' state.`,
    );
  }
  const spec = INSTANCE_TYPES.get(type);
  if (!spec) {
    throw serviceFault(
      'InvalidInstanceAttributeValue',
      `Value (${type}) for parameter instanceType is invalid. Invalid instance type ${type}`,
    );
  }
  const current = INSTANCE_TYPES.get(instance.instanceType);
  if (current && current.architecture !== spec.architecture) {
    throw serviceFault(
      'InvalidInstanceAttributeValue',
      `The instance type '${type}' does not support the architecture of the instance's AMI (${current.architecture})`,
    );
  }
  world.setInstanceType(instance, type);
  return {};
}

function describeInstanceTypes(input: DescribeInstanceTypesRequest): DescribeInstanceTypesResult {
  const names = input.InstanceTypes ?? [];
  checkIdCount(names, 'instance types');
  const unknown = names.filter((n) => !INSTANCE_TYPES.has(n));
  if (unknown.length > 0) {
    throw serviceFault(
      'InvalidInstanceType',
      `The following supplied instance types do not exist: [${unknown.join(', ')}]`,
    );
  }
  const specs = names.length > 0 ? names.map((n) => INSTANCE_TYPES.get(n)) : [...INSTANCE_TYPES.values()];
  return { InstanceTypes: specs.flatMap((s) => (s ? [instanceTypeInfo(s)] : [])) };
}

function describeInstanceTypeOfferings(
  world: World,
  input: DescribeInstanceTypeOfferingsRequest,
): DescribeInstanceTypeOfferingsResult {
  const locationType = input.LocationType ?? 'region';
  const offerings = [...INSTANCE_TYPES.values()].flatMap((spec): InstanceTypeOffering[] => {
    const type = spec.name as NonNullable<DescribeInstanceTypesRequest['InstanceTypes']>[number];
    if (locationType === 'region')
      return [{ InstanceType: type, LocationType: locationType, Location: world.region }];
    return [...spec.zones].map((zone) => ({
      InstanceType: type,
      LocationType: locationType,
      Location: locationType === 'availability-zone' ? `${world.region}${zone}` : zoneId(world.region, zone),
    }));
  });
  const filtered = applyFilters(offerings, input.Filters, {
    'instance-type': (o) => [o.InstanceType],
    location: (o) => [o.Location],
  });
  const { page, nextToken } = paginate(filtered, input.MaxResults, input.NextToken);
  return { InstanceTypeOfferings: page, ...(nextToken ? { NextToken: nextToken } : {}) };
}

/** "eu-west-1" and "b" -> "euw1-az2", the form of availability-zone ids. */
function zoneId(region: string, zone: string): string {
  const [area = '', direction = '', number = ''] = region.split('-');
  return `${area}${direction.charAt(0)}${number}-az${'abcdef'.indexOf(zone) + 1}`;
}

/**
 * DescribeNetworkInterfaces by id: a deleted or unknown interface fails the call with
 * InvalidNetworkInterfaceID.NotFound naming every such id, as EC2 does.
 */
function describeNetworkInterfaces(
  world: World,
  input: DescribeNetworkInterfacesRequest,
): DescribeNetworkInterfacesResult {
  const ids = input.NetworkInterfaceIds ?? [];
  const missing = ids.filter((id) => world.enis.get(id)?.deleted !== false);
  if (missing.length > 0)
    throw serviceFault('InvalidNetworkInterfaceID.NotFound', notFoundMessage('networkInterface', missing));
  return {
    NetworkInterfaces: ids.map((id) => {
      const eni = world.enis.get(id) as SimEni;
      return {
        NetworkInterfaceId: eni.id,
        SubnetId: eni.subnetId,
        VpcId: world.vpcId,
        OwnerId: ACCOUNT_ID,
        PrivateIpAddress: eni.privateIp,
        InterfaceType: 'interface',
        Status: eni.instanceId === undefined ? 'available' : 'in-use',
        ...(eni.instanceId === undefined
          ? {}
          : {
              Attachment: {
                InstanceId: eni.instanceId,
                DeviceIndex: eni.deviceIndex ?? 0,
                Status: 'attached',
              },
            }),
      };
    }),
  };
}

/** The simulated EC2 actions. */
export function ec2Handlers(world: World): ServiceHandlers {
  return {
    DescribeInstanceStatus: (input: DescribeInstanceStatusRequest) => describeInstanceStatus(world, input),
    DescribeInstances: (input: DescribeInstancesRequest) => describeInstances(world, input),
    DescribeNetworkInterfaces: (input: DescribeNetworkInterfacesRequest) =>
      describeNetworkInterfaces(world, input),
    DescribeRouteTables: (input: DescribeRouteTablesRequest) => describeRouteTables(world, input),
    ReplaceRoute: (input: ReplaceRouteRequest) => replaceRoute(world, input),
    CreateRoute: (input: CreateRouteRequest) => createRoute(world, input),
    DescribeAddresses: (input: DescribeAddressesRequest) => describeAddresses(world, input),
    AssociateAddress: (input: AssociateAddressRequest) => associateAddress(world, input),
    StopInstances: (input: StopInstancesRequest) => stopInstances(world, input),
    StartInstances: (input: StartInstancesRequest) => startInstances(world, input),
    ModifyInstanceAttribute: (input: ModifyInstanceAttributeRequest) => modifyInstanceAttribute(world, input),
    DescribeInstanceTypes: (input: DescribeInstanceTypesRequest) => describeInstanceTypes(input),
    DescribeInstanceTypeOfferings: (input: DescribeInstanceTypeOfferingsRequest) =>
      describeInstanceTypeOfferings(world, input),
  };
}
