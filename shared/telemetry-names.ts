/**
 * Names the controller publishes (CloudWatch embedded metric format) and the CDK app alarms on.
 * One place, so the alarms and the dashboard cannot drift from what the Lambda emits.
 */
export const METRICS_NAMESPACE = 'VpnFailover';

/**
 * Where the instances' tunnel publisher writes TunnelUp. Separate from METRICS_NAMESPACE so that an instance
 * allowed to publish its tunnel state cannot forge the controller's heartbeat or health metrics.
 */
export const TUNNEL_NAMESPACE = 'VpnFailover/Tunnels';

export const METRIC = {
  /** 1 per controller run (no dimensions). The heartbeat alarm treats missing data as breaching. */
  heartbeat: 'ControllerHeartbeat',
  /** Per run, for the whole deployment: traffic moves (failover or failback) whose writes began. */
  failover: 'Failover',
  /**
   * Per run: the number of pairs whose run failed in part or whole (a route write denied, a conflict, an
   * unreadable state item). No dimensions besides service. The run-errors alarm fires on it.
   */
  runErrors: 'RunErrors',
  /**
   * Per run and alarm kind (dimension Kind, one of ALARM_KINDS): the number of pairs raising that kind,
   * published for every kind on every run (0 included), so each CloudWatch alarm has data to clear on.
   */
  alarmRaised: 'AlarmRaised',
} as const;

export const DIMENSION = { kind: 'Kind' } as const;

/**
 * The controller's pair-state log line (shared/controller/metrics.ts pairStateLine): one per pair per
 * evaluation, the message and its fields, which the dashboard's per-pair Logs Insights queries filter and plot.
 * Member signals are nested: `signals.primary.daemon`.
 */
export const PAIR_STATE = {
  /** the log line's message (pino's `msg`) */
  message: 'pair state',
  pair: 'pair',
  /** primary | standby: the member carrying traffic after the evaluation */
  active: 'active',
  /** 0 = primary carries traffic, 1 = standby */
  activeMember: 'activeMember',
  /** 1 when the evaluation began moving traffic (failover or failback), else 0 */
  moved: 'moved',
  /** per member and signal: 1 healthy, 0 unhealthy, -1 unknown */
  signals: 'signals',
} as const;

/** The DynamoDB table's key schema (shared by the state store, the simulator's local table and the CDK table). */
export const TABLE_KEYS = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'expiresAt' } as const;

/** Environment variables the controller and step Lambdas read. */
export const ENV = {
  tableName: 'TABLE_NAME',
  probeDocument: 'PROBE_DOCUMENT',
  configPath: 'CONFIG_PATH',
  topicArn: 'TOPIC_ARN',
  stateMachineArn: 'STATE_MACHINE_ARN',
  /** the member agent's report table (absent when no pair has the agent enabled) */
  agentTableName: 'AGENT_TABLE_NAME',
  /** `arn:PARTITION:ec2:REGION:ACCOUNT:instance/`: a member's agent-table key is this plus its instance id */
  agentMemberKeyPrefix: 'AGENT_MEMBER_KEY_PREFIX',
} as const;

/** The SSM Command document's parameter names (the CDK document and the SSM adapter agree on these). */
export const PROBE_PARAMETERS = {
  kind: 'ProbeKind',
  unit: 'Unit',
  minSas: 'MinSas',
  peerAddresses: 'PeerAddresses',
  /** seconds each daemon command may take (instance/vpn-failover-check.sh SSM_CommandTimeout) */
  commandTimeout: 'CommandTimeout',
} as const;

/**
 * The probe script's exit status when it could not judge the daemon (the agent, older than 3.3.2746.0, did not
 * pass the parameters as environment variables, https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html): read as unknown, never unhealthy.
 */
export const PROBE_EXIT_UNKNOWN = 3;

/**
 * The probe script's exit status when a daemon command did not answer within its own timeout (a hung daemon):
 * read as unhealthy, "daemon not responding". Without it the step would run into SSM's execution timeout,
 * which reads as unknown and never moves traffic.
 */
export const PROBE_EXIT_NOT_RESPONDING = 4;

/** One dotted IPv4 address, each octet 0-255. */
const IPV4 =
  '(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}';

/**
 * The probe script's line about the member's partner (from PeerAddresses), after the verdict line:
 * "peer 10.0.1.5 reachable" (ping answered), "unreachable" (no reply) or "unknown" (ping could not run).
 */
export const PROBE_PEER_LINE = /^peer (\S+) (reachable|unreachable|unknown)$/;

/** The probe document's allowedPattern per parameter (the Unit pattern is the config schema's unit pattern). */
export const PROBE_PARAMETER_PATTERNS = {
  kind: '^(systemd|strongswan|libreswan)$',
  unit: '^[A-Za-z0-9@._:-]{1,128}$',
  minSas: '^[0-9]{1,4}$',
  /** empty, or up to 25 pairs (one SendCommand of 50 instances) of dotted IPv4 addresses: "a-b,c-d" */
  peerAddresses: `^$|^${IPV4}-${IPV4}(,${IPV4}-${IPV4}){0,24}$`,
  commandTimeout: '^[1-9]$',
} as const;

/** The probe document's one step, named by GetCommandInvocation's PluginName. */
export const PROBE_STEP_NAME = 'probe';

/**
 * The stack's output keys: the CLI finds a deployment from them (DescribeStacks on the stack name). Keys are
 * part of the interface between a deployed stack and the CLI, so they never change.
 */
export const STACK_OUTPUTS = {
  controllerFunctionName: 'ControllerFunctionName',
  controllerFunctionArn: 'ControllerFunctionArn',
  stateTableName: 'StateTableName',
  probeDocumentName: 'ProbeDocumentName',
  resizeStateMachineArn: 'ResizeStateMachineArn',
  alarmTopicArn: 'AlarmTopicArn',
  deploymentName: 'DeploymentName',
  configHash: 'ConfigHash',
  /** the member agent's report table (when some pair has the agent enabled) */
  agentTableName: 'AgentTableName',
  /** the managed policy to attach to the members' instance role (the agent's only permissions) */
  agentPolicyArn: 'AgentPolicyArn',
  /** the SSM Command document that installs, upgrades or removes the agent */
  agentDocumentName: 'AgentDocumentName',
} as const;
