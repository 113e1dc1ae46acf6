import { type Acknowledgment, Stack } from 'aws-cdk-lib';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import type { Config, PairConfig } from '../shared/config/schema.ts';

/**
 * The controller's IAM statements, one builder per capability, each scoped to what the configuration names.
 * Resource types per action follow the Service Authorization Reference (read through the iann0036/iam-dataset
 * snapshot of it): ec2:CreateRoute / ec2:ReplaceRoute take only `route-table*`; ec2:AssociateAddress takes
 * `elastic-ip`, `instance` and `network-interface`; ssm:SendCommand is authorised on both the document and the
 * instance (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html). Actions that AWS does not scope by resource (EC2
 * Describe*, ssm:ListCommandInvocations, cloudwatch:GetMetricData) are read-only and are
 * the only ones granted on `*`.
 */

/** Read-only actions that AWS authorises only on `*` (no resource-level permissions exist for them). */
export const UNSCOPED_EC2_READS: readonly string[] = [
  'ec2:DescribeInstanceStatus',
  'ec2:DescribeInstances',
  'ec2:DescribeRouteTables',
  // Only when a managed route is blackholed to an interface that is no member's: has EC2 deleted it?
  'ec2:DescribeNetworkInterfaces',
];

/** Actions that must always name their resources; a test walks the template to prove none of them get `*`. */
export const ROUTE_WRITES: readonly string[] = ['ec2:ReplaceRoute', 'ec2:CreateRoute'];

const arn = (scope: IConstruct, service: string, resource: string, resourceName: string): string =>
  Stack.of(scope).formatArn({ service, resource, resourceName });

const instanceArn = (scope: IConstruct, instanceId: string): string =>
  arn(scope, 'ec2', 'instance', instanceId);

const membersOf = (pair: PairConfig) => [pair.primary, pair.standby];

const unique = (values: readonly string[]): string[] => [...new Set(values)];

const PER_PAIR = new WeakSet<PolicyStatement>();

/**
 * Mark a statement that names resources of every pair (members, route tables, addresses): the grant puts it in
 * customer-managed policies, compacted and split to fit IAM's size quotas (policy-size.ts).
 */
export function perPair(statement: PolicyStatement): PolicyStatement {
  PER_PAIR.add(statement);
  return statement;
}

/** Whether {@link perPair} marked the statement. */
export const isPerPair = (statement: PolicyStatement): boolean => PER_PAIR.has(statement);

/**
 * Reads the controller needs to observe pairs: instance state and status checks, the members' ENIs, the route
 * tables, and (only when some pair moves an Elastic IP) the addresses. EC2 Describe* actions support no
 * resource-level permissions, so `*` is the only possible resource.
 */
export function observeStatements(config: Config): PolicyStatement[] {
  const actions = config.pairs.some((p) => p.elasticIp)
    ? [...UNSCOPED_EC2_READS, 'ec2:DescribeAddresses']
    : [...UNSCOPED_EC2_READS];
  return [new PolicyStatement({ sid: 'ObserveEc2', effect: Effect.ALLOW, actions, resources: ['*'] })];
}

/** ReplaceRoute and CreateRoute, only on the configured route tables (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReplaceRoute.html). */
export function routeWriteStatements(scope: IConstruct, config: Config): PolicyStatement[] {
  const tables = unique(config.pairs.flatMap((p) => p.routeTables));
  return [
    perPair(
      new PolicyStatement({
        sid: 'WriteManagedRoutes',
        effect: Effect.ALLOW,
        actions: [...ROUTE_WRITES],
        resources: tables.map((rtb) => arn(scope, 'ec2', 'route-table', rtb)),
      }),
    ),
  ];
}

/**
 * AssociateAddress, only for pairs that configure an Elastic IP: the allocation itself, the member instances and
 * the member ENIs. When a member's ENI is not configured it is discovered at run time, so the ENI can only be
 * named as `network-interface/*`; the elastic-ip resource still confines the action to the configured allocation.
 */
export function elasticIpStatements(scope: IConstruct, config: Config): PolicyStatement[] {
  const pairs = config.pairs.filter((p) => p.elasticIp);
  if (pairs.length === 0) return [];
  const resources = unique(
    pairs.flatMap((pair) => [
      arn(scope, 'ec2', 'elastic-ip', pair.elasticIp?.allocationId as string),
      ...membersOf(pair).map((m) => instanceArn(scope, m.instanceId)),
      ...membersOf(pair).map((m) => arn(scope, 'ec2', 'network-interface', m.networkInterfaceId ?? '*')),
    ]),
  );
  return [
    perPair(
      new PolicyStatement({
        sid: 'MoveElasticIps',
        effect: Effect.ALLOW,
        actions: ['ec2:AssociateAddress'],
        resources,
      }),
    ),
  ];
}

/**
 * The daemon probe: SendCommand only with the product's document and only to members of pairs that have a probe;
 * reading invocations back (ListCommandInvocations with details, the only read the probe makes), which AWS does
 * not scope by resource.
 */
export function probeStatements(scope: IConstruct, config: Config, documentName: string): PolicyStatement[] {
  const probed = config.pairs.filter((p) => p.probe.kind !== 'none');
  if (probed.length === 0) return [];
  const instances = unique(probed.flatMap((p) => membersOf(p).map((m) => instanceArn(scope, m.instanceId))));
  return [
    perPair(
      new PolicyStatement({
        sid: 'RunDaemonProbe',
        effect: Effect.ALLOW,
        actions: ['ssm:SendCommand'],
        resources: [arn(scope, 'ssm', 'document', documentName), ...instances],
      }),
    ),
    new PolicyStatement({
      sid: 'ReadProbeResults',
      effect: Effect.ALLOW,
      actions: ['ssm:ListCommandInvocations'],
      resources: ['*'],
    }),
  ];
}

/** GetMetricData for the tunnel signal, only when some pair configures one; CloudWatch has no resource scoping. */
export function tunnelReadStatements(config: Config): PolicyStatement[] {
  if (!config.pairs.some((p) => p.tunnel)) return [];
  return [
    new PolicyStatement({
      sid: 'ReadTunnelMetrics',
      effect: Effect.ALLOW,
      actions: ['cloudwatch:GetMetricData'],
      resources: ['*'],
    }),
  ];
}

/** The pair state store: item reads and conditional writes on the one table (no Scan, no DeleteItem). */
export function stateStatements(tableArn: string): PolicyStatement[] {
  return [
    new PolicyStatement({
      sid: 'PairState',
      effect: Effect.ALLOW,
      actions: [
        'dynamodb:GetItem',
        'dynamodb:BatchGetItem',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:Query',
      ],
      resources: [tableArn],
    }),
  ];
}

/** Why each statement that names `*` (or a resource-type wildcard) has to; keyed by statement id. */
const WILDCARD_REASONS: Readonly<Record<string, string>> = {
  ObserveEc2:
    'EC2 Describe* actions (instance status, instances, route tables, network interfaces, addresses) support no resource-level permissions; they are read-only.',
  ReadProbeResults:
    'ssm:ListCommandInvocations supports no resource-level permissions; it is read-only. SendCommand itself is scoped to the probe document and the members.',
  ReadTunnelMetrics: 'cloudwatch:GetMetricData supports no resource-level permissions; it is read-only.',
  MoveElasticIps:
    'A member without a configured networkInterfaceId has its ENI discovered at run time, so AssociateAddress can name it only as network-interface/*; the statement still names the exact Elastic IP allocations and member instances, and configuring networkInterfaceId removes the wildcard.',
};

/**
 * A resource as cdk-nag writes it in a finding id: literals as they are, `{ Ref: X }` as `<X>`, joined. The id
 * therefore depends on whether the stack's account and Region are known (cdk-nag v3 embeds resolved ARNs in finding ids), so it is
 * computed from the synthesized value rather than written down.
 */
function nagResource(scope: IConstruct, resource: string): string {
  const resolved: unknown = Stack.of(scope).resolve(resource);
  if (typeof resolved === 'string') return resolved;
  const [separator, parts] = (resolved as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return parts
    .map((part) => (typeof part === 'string' ? part : `<${(part as { Ref: string }).Ref}>`))
    .join(separator);
}

/** The cdk-nag finding a statement raises by design, with its reason; undefined for fully scoped statements. */
export function wildcardFinding(scope: IConstruct, statement: PolicyStatement): Acknowledgment | undefined {
  const reason = statement.sid ? WILDCARD_REASONS[statement.sid] : undefined;
  if (!reason) return undefined;
  if (statement.resources.includes('*')) return { id: 'AwsSolutions-IAM5[Resource::*]', reason };
  const eni = statement.resources.find((r) => r.endsWith(':network-interface/*'));
  if (eni) return { id: `AwsSolutions-IAM5[Resource::${nagResource(scope, eni)}]`, reason };
  return undefined;
}
