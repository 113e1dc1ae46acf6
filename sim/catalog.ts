import type { InstanceTypeInfo } from '@aws-sdk/client-ec2';

/**
 * The instance types the simulated account knows: the network-optimised and general-purpose families VPN pairs
 * run on, x86_64 and arm64. Figures are the published specifications of these types; the simulator only uses
 * them to answer DescribeInstanceTypes and to validate ModifyInstanceAttribute
 * (docs/aws-behaviour.md#stopping-starting-and-resizing-instances).
 */

/** One known type. */
export interface TypeSpec {
  readonly name: string;
  readonly architecture: 'x86_64' | 'arm64';
  readonly vcpus: number;
  readonly memoryMib: number;
  readonly maxEnis: number;
  readonly ipsPerEni: number;
  /** availability zone suffixes where the type is offered */
  readonly zones: string;
}

const family = (
  prefix: string,
  architecture: TypeSpec['architecture'],
  sizes: readonly (readonly [
    size: string,
    vcpus: number,
    memoryMib: number,
    maxEnis: number,
    ipsPerEni: number,
  ])[],
  zones = 'abc',
): TypeSpec[] =>
  sizes.map(([size, vcpus, memoryMib, maxEnis, ipsPerEni]) => ({
    name: `${prefix}.${size}`,
    architecture,
    vcpus,
    memoryMib,
    maxEnis,
    ipsPerEni,
    zones,
  }));

const NETWORK_SIZES = [
  ['large', 2, 4096, 3, 10],
  ['xlarge', 4, 8192, 4, 15],
  ['2xlarge', 8, 16384, 4, 15],
  ['4xlarge', 16, 32768, 8, 30],
] as const;

const GENERAL_SIZES = [
  ['large', 2, 8192, 3, 10],
  ['xlarge', 4, 16384, 4, 15],
  ['2xlarge', 8, 32768, 4, 15],
] as const;

/** Every known type by name. */
export const INSTANCE_TYPES: ReadonlyMap<string, TypeSpec> = new Map(
  [
    ...family('c6in', 'x86_64', NETWORK_SIZES),
    // Offered in two of three zones, so a resize preflight can meet a type missing from an AZ.
    ...family('c6in', 'x86_64', [['8xlarge', 32, 65536, 8, 30]], 'ab'),
    ...family('c5n', 'x86_64', NETWORK_SIZES),
    ...family(
      'c7i',
      'x86_64',
      GENERAL_SIZES.map(([s, v, m, e, i]) => [s, v, m / 2, e, i] as const),
    ),
    ...family('m6i', 'x86_64', GENERAL_SIZES),
    ...family('t3', 'x86_64', [
      ['medium', 2, 4096, 3, 6],
      ['large', 2, 8192, 3, 12],
    ]),
    ...family('c6gn', 'arm64', NETWORK_SIZES),
    ...family(
      'c7g',
      'arm64',
      GENERAL_SIZES.map(([s, v, m, e, i]) => [s, v, m / 2, e, i] as const),
    ),
    ...family('m7g', 'arm64', GENERAL_SIZES),
    ...family('t4g', 'arm64', [
      ['medium', 2, 4096, 3, 6],
      ['large', 2, 8192, 3, 12],
    ]),
  ].map((spec) => [spec.name, spec]),
);

/** The type every simulated instance starts as. */
export const DEFAULT_INSTANCE_TYPE = 'c6in.large';

/** DescribeInstanceTypes' answer for a known type. */
export function instanceTypeInfo(spec: TypeSpec): InstanceTypeInfo {
  return {
    InstanceType: spec.name as InstanceTypeInfo['InstanceType'],
    CurrentGeneration: true,
    FreeTierEligible: false,
    SupportedUsageClasses: ['on-demand', 'spot'],
    SupportedRootDeviceTypes: ['ebs'],
    SupportedVirtualizationTypes: ['hvm'],
    BareMetal: false,
    Hypervisor: 'nitro',
    ProcessorInfo: { SupportedArchitectures: [spec.architecture] },
    VCpuInfo: { DefaultVCpus: spec.vcpus },
    MemoryInfo: { SizeInMiB: spec.memoryMib },
    InstanceStorageSupported: false,
    EbsInfo: { EbsOptimizedSupport: 'default', EncryptionSupport: 'supported', NvmeSupport: 'required' },
    NetworkInfo: {
      NetworkPerformance: 'Up to 25 Gigabit',
      MaximumNetworkInterfaces: spec.maxEnis,
      MaximumNetworkCards: 1,
      DefaultNetworkCardIndex: 0,
      NetworkCards: [{ NetworkCardIndex: 0, MaximumNetworkInterfaces: spec.maxEnis }],
      Ipv4AddressesPerInterface: spec.ipsPerEni,
      Ipv6AddressesPerInterface: spec.ipsPerEni,
      Ipv6Supported: true,
      EnaSupport: 'required',
      EfaSupported: false,
      EncryptionInTransitSupported: true,
    },
    PlacementGroupInfo: { SupportedStrategies: ['cluster', 'partition', 'spread'] },
    HibernationSupported: spec.architecture === 'x86_64',
    BurstablePerformanceSupported: spec.name.startsWith('t'),
    DedicatedHostsSupported: true,
    AutoRecoverySupported: true,
    SupportedBootModes: spec.architecture === 'arm64' ? ['uefi'] : ['legacy-bios', 'uefi'],
  };
}
