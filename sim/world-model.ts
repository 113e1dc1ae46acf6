import type { Config } from '../shared/config/schema.ts';
import type { InstanceState, Role } from '../shared/domain/types.ts';
import type { VirtualClock } from './clock.ts';
import type { LatencyModel } from './latency.ts';
import type { Dice } from './random.ts';

/**
 * What the simulated account is made of (instances, ENIs, route tables, Elastic IPs, SSM commands, metric
 * datapoints) and the events it emits; the World (sim/world.ts) holds them and changes them over time.
 */

/** The account id every simulated resource belongs to. */
export const ACCOUNT_ID = '123456789012';

/** EC2 instance state codes (the low byte of State.Code). */
export const STATE_CODES: Readonly<Record<InstanceState, number>> = {
  pending: 0,
  running: 16,
  'shutting-down': 32,
  terminated: 48,
  stopping: 64,
  stopped: 80,
};

/** Route target fields other than an ENI or instance (ReplaceRoute/CreateRoute parameters, Route fields). */
export const GATEWAY_FIELDS = [
  'GatewayId',
  'NatGatewayId',
  'TransitGatewayId',
  'VpcPeeringConnectionId',
  'EgressOnlyInternetGatewayId',
  'LocalGatewayId',
  'CarrierGatewayId',
  'CoreNetworkArn',
] as const;

/** One of GATEWAY_FIELDS. */
export type GatewayField = (typeof GATEWAY_FIELDS)[number];

/** Where a route sends traffic. */
export type RouteTarget =
  | { readonly kind: 'eni'; readonly eni: string }
  | { readonly kind: 'gateway'; readonly field: GatewayField; readonly id: string }
  | { readonly kind: 'local' };

/** One route of a simulated table. */
export interface SimRoute {
  /** as EC2 shows it: IPv4/IPv6 CIDR (IPv6 lower-cased) or pl-… */
  readonly destination: string;
  readonly destinationKind: 'ipv4' | 'ipv6' | 'prefix-list';
  target: RouteTarget;
  readonly origin: 'CreateRouteTable' | 'CreateRoute';
  /**
   * what reads still show until `until` (reads are eventually consistent after a write,
   * https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html)
   */
  stale?: { readonly target: RouteTarget; readonly until: number };
}

/** A simulated route table. */
export interface SimRouteTable {
  readonly id: string;
  readonly vpcId: string;
  /** by lower-cased destination */
  readonly routes: Map<string, SimRoute>;
}

/** A network interface. */
export interface SimEni {
  readonly id: string;
  readonly subnetId: string;
  readonly privateIp: string;
  /** attached instance, if any */
  instanceId?: string;
  deviceIndex?: number;
  readonly deleteOnTermination: boolean;
  deleted: boolean;
}

/** An Elastic IP. */
export interface SimAddress {
  readonly allocationId: string;
  readonly publicIp: string;
  eni?: string;
  associationId?: string;
}

/** A scheduled event on an instance (DescribeInstanceStatus Events). */
export interface SimScheduledEvent {
  readonly id: string;
  readonly code: 'instance-retirement';
  description: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

/**
 * The status checks as EC2 last evaluated them: they run every minute and lag the real condition
 * (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-system-instance-status-check.html).
 */
export interface CheckReading {
  readonly system: 'ok' | 'impaired';
  readonly instance: 'ok' | 'impaired';
  readonly impairedSince?: number;
}

/** A simulated instance: one member of a pair. */
export interface SimInstance {
  readonly id: string;
  readonly pair: string;
  readonly role: Role;
  readonly availabilityZone: string;
  readonly subnetId: string;
  readonly imageId: string;
  readonly launchTime: number;
  instanceType: string;
  state: InstanceState;
  stateSince: number;
  stateReason?: string;
  /** attached ENI ids in device-index order; [0] is the primary ENI */
  enis: string[];
  /** the ENI the pair's routes target (the configured one, or the primary ENI) */
  readonly routeTargetEni: string;
  /** the systemd unit the VPN daemon runs as */
  readonly daemonUnit: string;
  /** ms into each minute at which EC2 runs this instance's status checks */
  readonly checkPhase: number;
  /**
   * off on routing instances (https://docs.aws.amazon.com/vpc/latest/userguide/VPC_NAT_Instance.html#EIP_Disable_SrcDestCheck);
   * ModifyInstanceAttribute changes it
   */
  sourceDestCheck: boolean;
  /** the real conditions faults set */
  systemFault: boolean;
  instanceFault: boolean;
  /** ssm-agent-offline: the SSM agent (not the member agent) is silent */
  agentFault: boolean;
  /**
   * agent-stop: the member agent's process (instance/vpn-failover-agent.sh) is gone until agent-start, or until
   * the guest boots again (systemd starts the enabled service at boot).
   */
  memberAgentStopped: boolean;
  daemonFault: boolean;
  tunnelFault: boolean;
  capacityFault: boolean;
  /**
   * daemon-hang: the daemon process is still there but neither carries traffic nor answers its control commands
   * (daemonFault is set with it: the daemon does not do its job).
   */
  daemonHung: boolean;
  /**
   * os-hang: the guest OS has stopped (instanceFault is set with it: the real condition behind the instance
   * status check), but EC2 still shows the instance running and SSM still shows its agent Online for a while.
   */
  osHung: boolean;
  /**
   * While the agent has fallen silent but SSM has not noticed yet: the instant its PingStatus turns
   * ConnectionLost, after which SendCommand rejects the node. Meaningless while the agent talks; cleared when
   * the instance boots anew.
   */
  agentLostAt?: number;
  /** what the status checks last read */
  checks: CheckReading;
  /** checks read `initializing` until then (after a start) */
  initializingUntil: number;
  /** the guest's services are up from these instants (after boot or a fault clears) */
  agentReadyAt: number;
  daemonReadyAt: number;
  tunnelReadyAt: number;
  events: SimScheduledEvent[];
  /** cancels the pending state transition (stopping -> stopped...) */
  cancelTransition?: () => void;
}

/** An SSM Run Command invocation on one instance. */
export interface SimInvocation {
  readonly instanceId: string;
  readonly visibleAt: number;
  status: 'Pending' | 'InProgress' | 'Success' | 'Failed' | 'TimedOut';
  statusDetails: string;
  responseCode: number;
  output: string;
  startedAt?: number;
  endedAt?: number;
}

/** An SSM command (SendCommand). */
export interface SimCommand {
  readonly id: string;
  readonly documentName: string;
  readonly parameters: Readonly<Record<string, readonly string[]>>;
  readonly instanceIds: readonly string[];
  readonly requestedAt: number;
  readonly timeoutSeconds: number;
  readonly comment: string;
  readonly invocations: Map<string, SimInvocation>;
}

/** One datapoint put to CloudWatch. */
export interface Datapoint {
  readonly at: number;
  readonly value: number;
  /**
   * GetMetricData sees it from then on (a datapoint is not readable at once,
   * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/publishingMetrics.html)
   */
  readonly visibleAt: number;
}

/** Something that happened in the world, for the scenario's event log and EventBridge. */
export type WorldEvent =
  | {
      readonly kind: 'state-change';
      readonly instanceId: string;
      readonly pair: string;
      readonly role: Role;
      readonly from: InstanceState;
      readonly to: InstanceState;
      readonly reason?: string;
    }
  | {
      readonly kind: 'route-change';
      readonly routeTableId: string;
      readonly destination: string;
      readonly from: RouteTarget | undefined;
      readonly to: RouteTarget;
      readonly action: 'replaced' | 'created';
    }
  | { readonly kind: 'elastic-ip'; readonly allocationId: string; readonly eni: string | undefined }
  | {
      readonly kind: 'instance-type';
      readonly instanceId: string;
      readonly pair: string;
      readonly role: Role;
      readonly from: string;
      readonly to: string;
    }
  | {
      readonly kind: 'start-failed';
      readonly instanceId: string;
      readonly pair: string;
      readonly role: Role;
      readonly reason: string;
    };

/** What a World is built from. */
export interface WorldOptions {
  readonly config: Config;
  readonly clock: VirtualClock;
  readonly dice: Dice;
  readonly latency: LatencyModel;
  readonly region: string;
  /** the SSM document the controller probes with; other documents are unknown to the account */
  readonly probeDocument: string;
}

/** Two targets are the same. */
export function sameTarget(a: RouteTarget | undefined, b: RouteTarget | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind === 'eni' && b.kind === 'eni') return a.eni === b.eni;
  if (a.kind === 'gateway' && b.kind === 'gateway') return a.field === b.field && a.id === b.id;
  return a.kind === 'local' && b.kind === 'local';
}

/** The store key of a metric: namespace, name and dimensions in name order. */
export function metricKey(
  namespace: string,
  metricName: string,
  dimensions: Readonly<Record<string, string>>,
): string {
  const dims = Object.entries(dimensions)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${namespace}|${metricName}|${dims}`;
}
