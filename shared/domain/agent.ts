/**
 * The member agent's report (instance/vpn-failover-agent.sh), as the agent writes it to the agent table and as
 * the controller reads it back. No SDK types: shared/aws/agent-reports.ts translates DynamoDB items into these.
 *
 * Binding: the table's partition key is the sending instance's ARN, and the instance policy lets a member write
 * only the item whose partition key equals its own `${ec2:SourceInstanceARN}` (dynamodb:LeadingKeys,
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html and
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html). So the key names the
 * sender; the instance id written inside the item is only what the sender claims, and a report whose claim
 * differs from its key is never evidence.
 */

/** The check's verdict, as vpn-failover-check prints it (the same script the SSM probe runs). */
export type AgentVerdict = 'healthy' | 'unhealthy' | 'unknown';

/** Why the agent wrote: its verdict changed (after debouncing), or its slow heartbeat. */
export type AgentReportKind = 'change' | 'heartbeat';

/** One member's latest report, as read from the agent table. */
export interface AgentReport {
  /** the instance the item's partition key names: the sender, bound by IAM */
  readonly instanceId: string;
  /** the instance id the item body claims; a report is evidence only when it equals `instanceId` */
  readonly claimedInstanceId: string;
  readonly verdict: AgentVerdict;
  /** the check's verdict line ("unhealthy: 0 installed CHILD SAs, 1 required") */
  readonly detail: string;
  /** the check's exit status (0 healthy, 1 unhealthy, 3 cannot judge, 4 daemon not responding) */
  readonly exitStatus: number;
  /** TunnelUp as the agent last published it: true up, false down; absent when not judged */
  readonly tunnelUp?: boolean;
  /** epoch ms at which the agent first saw the current verdict (the start of the debounced state) */
  readonly since: number;
  /** epoch ms at which this report was sent */
  readonly at: number;
  readonly kind: AgentReportKind;
  /** the agent's own counter, +1 per report since it started */
  readonly seq: number;
  readonly agentVersion: string;
}

/** The agent table's attribute names: the agent script, the CDK table, the adapter and the simulator agree. */
export const AGENT_ITEM = {
  /** partition key (S): the sending instance's ARN, arn:PARTITION:ec2:REGION:ACCOUNT:instance/ID */
  member: 'member',
  instanceId: 'instanceId',
  verdict: 'verdict',
  detail: 'detail',
  exitStatus: 'exitStatus',
  /** N: 1 up, 0 down; absent when not judged */
  tunnelUp: 'tunnelUp',
  since: 'since',
  at: 'at',
  /** S: change | heartbeat. The stream's filter invokes the controller only for `change`. */
  kind: 'kind',
  seq: 'seq',
  agentVersion: 'agentVersion',
  /** N: epoch seconds; DynamoDB's TTL removes reports of members long gone */
  expiresAt: 'expiresAt',
} as const;

/** How often the agent writes a heartbeat when nothing changes (instance/vpn-failover-agent.sh HEARTBEAT). */
export const AGENT_HEARTBEAT_MS = 60_000;

/**
 * No report from a running member for this long raises `agent-silent`: three heartbeats, so one lost write
 * or a slow CLI start does not raise it.
 */
export const AGENT_SILENT_AFTER_MS = 3 * AGENT_HEARTBEAT_MS;

/**
 * A report older than this is not counted as an observation: the agent re-sends its state with every heartbeat,
 * so a live agent's report is never older than one heartbeat plus the write's own delay.
 */
export const AGENT_REPORT_FRESH_MS = 2 * AGENT_HEARTBEAT_MS + 30_000;

/** The agent table key of a member: its instance ARN under the deployment's prefix (`ENV.agentMemberKeyPrefix`). */
export const agentMemberKey = (prefix: string, instanceId: string): string => `${prefix}${instanceId}`;

/** The instance id an agent-table key names, or undefined when the key is not an instance ARN. */
export function instanceIdOfMemberKey(key: string): string | undefined {
  const match = /^arn:[a-z-]+:ec2:[a-z0-9-]+:\d{12}:instance\/(i-[0-9a-f]{8}(?:[0-9a-f]{9})?)$/.exec(key);
  return match?.[1];
}
