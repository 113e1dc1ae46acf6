import {
  type _InstanceType,
  type EC2Client,
  type Instance,
  type InstanceTypeInfo,
  ModifyInstanceAttributeCommand,
  paginateDescribeInstanceTypeOfferings,
  paginateDescribeInstanceTypes,
  StartInstancesCommand,
  StopInstancesCommand,
} from '@aws-sdk/client-ec2';
import { chunk } from '../concurrency.ts';
import type { InstanceState } from '../domain/types.ts';
import { IDS_PER_CALL, instanceState, readInstances, send, unique } from './ec2-calls.ts';

/**
 * The EC2 calls of the resize workflow: describe instances and instance types, stop, change type, start. They
 * throw typed errors from ./errors.ts.
 */

/** What the resize workflow needs to know about an instance. */
export interface InstanceDescription {
  readonly instanceId: string;
  readonly state?: InstanceState;
  readonly instanceType?: string;
  readonly availabilityZone?: string;
  /** i386, x86_64, arm64, x86_64_mac, arm64_mac */
  readonly architecture?: string;
  readonly enaSupport?: boolean;
  /** legacy-bios, uefi or uefi-preferred, as the instance was launched */
  readonly bootMode?: string;
  /** an instance with hibernation configured cannot change type (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html) */
  readonly hibernationConfigured: boolean;
}

/** What an instance type supports, for the resize preflight (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html, DescribeInstanceTypes). */
export interface InstanceTypeDescription {
  readonly instanceType: string;
  readonly architectures: readonly string[];
  /** unsupported, supported or required */
  readonly enaSupport: string;
  /** unsupported, supported or required */
  readonly nvmeSupport: string;
  /** legacy-bios and/or uefi */
  readonly bootModes: readonly string[];
  /** nitro or xen */
  readonly hypervisor?: string;
  readonly maxNetworkInterfaces: number;
}

/**
 * Type, placement, architecture and state of instances, for the resize workflow; in input order, 100 ids a call.
 * Throws typed errors (AwsError with code InvalidInstanceID.NotFound for an unknown id).
 */
export async function describeInstances(
  ec2: EC2Client,
  instanceIds: readonly string[],
): Promise<InstanceDescription[]> {
  const ids = unique(instanceIds);
  const chunks = await Promise.all(
    chunk(ids, IDS_PER_CALL).map((part) =>
      send(() => readInstances(ec2, part), `DescribeInstances ${part.join(', ')}`),
    ),
  );
  const byId = new Map(chunks.flat().map((instance) => [instance.InstanceId, instance]));
  return ids.flatMap((id) => {
    const instance = byId.get(id);
    return instance ? [instanceDescription(id, instance)] : [];
  });
}

function instanceDescription(instanceId: string, instance: Instance): InstanceDescription {
  const state = instanceState(instance.State?.Name);
  return {
    instanceId,
    ...(state ? { state } : {}),
    ...(instance.InstanceType ? { instanceType: instance.InstanceType } : {}),
    ...(instance.Placement?.AvailabilityZone
      ? { availabilityZone: instance.Placement.AvailabilityZone }
      : {}),
    ...(instance.Architecture ? { architecture: instance.Architecture } : {}),
    ...(instance.EnaSupport !== undefined ? { enaSupport: instance.EnaSupport } : {}),
    ...(instance.BootMode ? { bootMode: instance.BootMode } : {}),
    hibernationConfigured: instance.HibernationOptions?.Configured === true,
  };
}

/** Stop an instance (graceful OS shutdown). Throws IncorrectInstanceStateError, ThrottledError or AwsError. */
export async function stopInstance(ec2: EC2Client, instanceId: string): Promise<void> {
  await send(
    () => ec2.send(new StopInstancesCommand({ InstanceIds: [instanceId] })),
    `StopInstances ${instanceId}`,
  );
}

/**
 * Start a stopped instance. Throws InsufficientCapacityError when the AZ has no capacity for its type
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html), IncorrectInstanceStateError, ThrottledError or AwsError.
 */
export async function startInstance(ec2: EC2Client, instanceId: string): Promise<void> {
  await send(
    () => ec2.send(new StartInstancesCommand({ InstanceIds: [instanceId] })),
    `StartInstances ${instanceId}`,
  );
}

/**
 * Change a stopped instance's type. Throws IncorrectInstanceStateError when it is not stopped and
 * InvalidInstanceTypeError when the type is invalid for it (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html), else ThrottledError/AwsError.
 */
export async function modifyInstanceType(
  ec2: EC2Client,
  instanceId: string,
  instanceType: string,
): Promise<void> {
  await send(
    () =>
      ec2.send(
        new ModifyInstanceAttributeCommand({ InstanceId: instanceId, InstanceType: { Value: instanceType } }),
      ),
    `ModifyInstanceAttribute ${instanceId} InstanceType=${instanceType}`,
  );
}

/**
 * Capabilities of instance types for the resize preflight, 100 types a call. Throws InvalidInstanceTypeError
 * when EC2 does not know a type.
 */
export async function describeInstanceTypes(
  ec2: EC2Client,
  instanceTypes: readonly string[],
): Promise<InstanceTypeDescription[]> {
  const chunks = await Promise.all(
    chunk(unique(instanceTypes), IDS_PER_CALL).map((part) =>
      send(
        async () => {
          const infos: InstanceTypeInfo[] = [];
          // EC2 validates the name; the SDK's closed list of type names lags behind new instance families.
          const input = { InstanceTypes: part as _InstanceType[] };
          for await (const page of paginateDescribeInstanceTypes({ client: ec2 }, input)) {
            infos.push(...(page.InstanceTypes ?? []));
          }
          return infos;
        },
        `DescribeInstanceTypes ${part.join(', ')}`,
      ),
    ),
  );
  return chunks
    .flat()
    .flatMap((info) => (info.InstanceType ? [instanceTypeDescription(info.InstanceType, info)] : []));
}

function instanceTypeDescription(instanceType: string, info: InstanceTypeInfo): InstanceTypeDescription {
  return {
    instanceType,
    architectures: info.ProcessorInfo?.SupportedArchitectures ?? [],
    enaSupport: info.NetworkInfo?.EnaSupport ?? 'unsupported',
    nvmeSupport: info.EbsInfo?.NvmeSupport ?? 'unsupported',
    bootModes: info.SupportedBootModes ?? [],
    ...(info.Hypervisor ? { hypervisor: info.Hypervisor } : {}),
    maxNetworkInterfaces: info.NetworkInfo?.MaximumNetworkInterfaces ?? 0,
  };
}

/**
 * The availability zones, among those given, where the instance type is offered (DescribeInstanceTypeOfferings
 * by availability-zone). An offering does not guarantee capacity (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-resize.html).
 */
export async function instanceTypeOfferedIn(
  ec2: EC2Client,
  instanceType: string,
  availabilityZones: readonly string[],
): Promise<Set<string>> {
  const offered = new Set<string>();
  if (availabilityZones.length === 0) return offered;
  await send(async () => {
    const pages = paginateDescribeInstanceTypeOfferings(
      { client: ec2 },
      {
        LocationType: 'availability-zone',
        Filters: [
          { Name: 'instance-type', Values: [instanceType] },
          { Name: 'location', Values: unique(availabilityZones) },
        ],
      },
    );
    for await (const page of pages) {
      for (const offering of page.InstanceTypeOfferings ?? []) {
        if (offering.Location !== undefined && offering.InstanceType === instanceType)
          offered.add(offering.Location);
      }
    }
  }, `DescribeInstanceTypeOfferings ${instanceType}`);
  return offered;
}
