/**
 * The simulated account's timing and throttling defaults, each with its source: a section of
 * docs/aws-behaviour.md (which links the AWS documentation page for each behaviour), the project's own
 * infrastructure code, or "assumption" where nothing public pins the number down. Ranges are [min, max] in
 * milliseconds; each draw is uniform within its range (sim/random.ts).
 */

/** A uniform range in milliseconds. */
export type Range = readonly [min: number, max: number];

/** API call latency per service call class. */
export interface ApiLatency {
  /** EC2 Describe* calls. Assumption: tens to a couple of hundred ms in-Region. */
  readonly ec2Read: Range;
  /** EC2 mutating calls (ReplaceRoute, StopInstances...). Assumption. */
  readonly ec2Write: Range;
  /** SSM SendCommand / ListCommandInvocations / GetCommandInvocation. Assumption. */
  readonly ssm: Range;
  /** CloudWatch GetMetricData. Assumption. */
  readonly cloudwatch: Range;
  /** Any other simulated call (Step Functions...). Assumption. */
  readonly other: Range;
}

/** How long the world takes to react. */
export interface WorldTiming {
  /**
   * EC2 runs status checks every minute (docs/aws-behaviour.md#instance-status-and-scheduled-events); a change
   * shows at the check after next: 1-2 min.
   */
  readonly statusCheckInterval: number;
  /**
   * After boot, checks read `initializing` this long before `ok`
   * (docs/aws-behaviour.md#stopping-starting-and-resizing-instances; not documented: 1-3 min).
   */
  readonly statusInitializing: Range;
  /**
   * running -> stopping -> stopped (docs/aws-behaviour.md#stopping-starting-and-resizing-instances; not documented:
   * 30-90 s for Linux).
   */
  readonly stop: Range;
  /**
   * stopped -> pending -> running (docs/aws-behaviour.md#stopping-starting-and-resizing-instances; not documented:
   * 15-60 s).
   */
  readonly startToRunning: Range;
  /** shutting-down -> terminated. Assumption. */
  readonly terminate: Range;
  /** A terminated instance stays visible to Describe calls this long. Assumption (about an hour). */
  readonly terminatedVisibleFor: number;
  /** SSM agent Online after the instance is running ("shortly after boot"). Assumption. */
  readonly agentBoot: Range;
  /** The VPN daemon active after the instance is running. Assumption. */
  readonly daemonBoot: Range;
  /** IKE/IPsec SAs established after the daemon starts or the far end returns. Assumption. */
  readonly tunnelEstablish: Range;
  /** How far ahead a scheduled-retirement event is announced when the scenario gives no `for`. Assumption. */
  readonly retirementNotice: number;
}

/**
 * The Run Command probe's phases (not documented, docs/aws-behaviour.md#ssm-run-command: a few seconds end to end).
 */
export interface SsmTiming {
  /** SendCommand -> the invocation is visible to List/GetCommandInvocation (InvocationDoesNotExist before). Assumption. */
  readonly invocationVisible: Range;
  /** Pending -> InProgress: the agent picks the command up. Assumption. */
  readonly delivery: Range;
  /** InProgress -> Success/Failed: the script runs. Assumption. */
  readonly execution: Range;
  /** The probe document's executionTimeout (infra/probe-document.ts PROBE_EXECUTION_TIMEOUT_SECONDS). */
  readonly executionTimeoutMs: number;
  /**
   * How long SSM keeps reporting a silent agent Online (PingStatus) before it reads ConnectionLost and
   * SendCommand rejects the node. Assumption: the agent sends a health ping every HealthFrequencyMinutes (5 by
   * default, https://github.com/aws/amazon-ssm-agent README "Ssm" settings), and SSM gives up after one missed
   * ping: five to ten minutes after the agent fell silent, depending on where in its ping cycle that was.
   */
  readonly agentConnectionLost: Range;
  /**
   * How long each daemon command in the probe script may take before timeout(1) stops it
   * (VPN_FAILOVER_CHECK_TIMEOUT, 2 s by default, in instance/vpn-failover-check.sh): a hung daemon's probe
   * answers this much later than a healthy one's.
   */
  readonly probeCommandTimeoutMs: number;
  /**
   * The probe's ping of the partner (instance/vpn-failover-check.sh: `ping -n -c 2 -i 0.2 -W 1`): two echo
   * requests 0.2 s apart, so about 0.2 s when the partner answers (the second reply, within a VPC's sub-millisecond
   * round trip) and 1.2 s (the second request's 1 s wait) when it does not (ping(8), iputils).
   */
  readonly peerPingAnswered: number;
  readonly peerPingUnanswered: number;
}

/** The tunnel metric the instances publish. */
export interface MetricTiming {
  /** The shipped publisher puts one datapoint a minute (standard resolution). Assumption. */
  readonly publishInterval: number;
  /**
   * A datapoint becomes visible to GetMetricData this long after it is put
   * (docs/aws-behaviour.md#cloudwatch-metrics; not documented: about a minute).
   */
  readonly visibility: Range;
  /** History the account starts with, so the first run sees a steady state. */
  readonly history: number;
}

/** Event delivery and the controller's Lambda. */
export interface ControlTiming {
  /** EC2 state change -> the controller's invocation via EventBridge. Assumption (sub-second to seconds). */
  readonly eventBridge: Range;
  /** The Scheduler's invocation after the scheduled instant (FlexibleTimeWindow OFF). Assumption. */
  readonly scheduler: Range;
  /** Warm-start overhead of an invocation. Assumption. */
  readonly lambdaStart: Range;
  /**
   * The controller function's timeout; undefined means as the CDK app sets it (infra/controller.ts
   * controllerTimeoutSeconds in shared/controller/timing.ts).
   */
  readonly lambdaTimeout?: number;
  /**
   * Async events older than this are dropped, not run (MaximumEventAgeInSeconds 60,
   * docs/aws-behaviour.md#lambda-asynchronous-invocation).
   */
  readonly maxEventAge: number;
}

/**
 * The member agent (instance/vpn-failover-agent.sh) on each member of a pair with the agent enabled: its check
 * loop, its report write and the table stream that invokes the controller.
 */
export interface AgentTiming {
  /** CHECK_INTERVAL: the agent sleeps this long after each check (and report write) before the next. Agent default 1 s. */
  readonly checkInterval: number;
  /**
   * How long the check (instance/vpn-failover-check.sh: `systemctl is-active`, `swanctl --list-sas` or
   * `ipsec trafficstatus`) takes when the daemon answers. Assumption: a local control-socket round trip plus
   * the bash and process starts, tens of ms, up to a couple of hundred on a busy instance.
   */
  readonly checkCommand: Range;
  /** CHECK_TIMEOUT: a hung daemon's check ends after this (exit 4, "not responding"). Agent default 1 s. */
  readonly checkTimeout: number;
  /**
   * How soon a check that disagrees with the reported verdict is followed by the next, to confirm it
   * (instance/vpn-failover-agent.sh RECHECK_MS): 500 ms, so an outage shorter than that is never reported.
   */
  readonly recheck: number;
  /**
   * A report write: one curl request signed by curl itself (REPORT_WITH=curl, the default): curl's start, a TLS
   * handshake with the Regional DynamoDB endpoint and the PutItem round trip. Measured at 26 ms (22-35) against a
   * local emulator, where the AWS CLI took 935 ms; the network to a real endpoint adds tens of ms. Assumption:
   * 50 to 300 ms. The metric's PutMetricData still goes through the AWS CLI, off this path, on its own schedule.
   */
  readonly reportWrite: Range;
  /**
   * A changed item -> the controller's invocation through the table's stream and the Lambda event source
   * mapping, which polls the stream's shards and invokes the function synchronously with the records
   * (https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html; MaximumBatchingWindowInSeconds 0). AWS
   * documents no figure for this delay. Assumption: 200 ms to 1 s.
   */
  readonly stream: Range;
}

/** Eventual consistency of route reads. */
export interface ConsistencyTiming {
  /**
   * After ReplaceRoute, DescribeRouteTables may still show the old target this long
   * (docs/aws-behaviour.md#eventual-consistency-of-ec2-reads; size: assumption).
   */
  readonly routeReadLag: Range;
}

/** A token bucket: burst capacity and refill per second. */
export interface Bucket {
  readonly capacity: number;
  readonly refillPerSecond: number;
}

/** Request-rate limits of the simulated account. */
export interface Throttling {
  /**
   * EC2 non-mutating actions (Describe*...), per action: 100 / 20 (docs/aws-behaviour.md#ec2-request-throttling).
   */
  readonly ec2NonMutating: Bucket;
  /**
   * EC2 unfiltered and unpaginated DescribeInstances / DescribeInstanceStatus...: 50 / 10
   * (docs/aws-behaviour.md#ec2-request-throttling). The docs do not say whether InstanceIds counts as a filter; the
   * simulator assumes it does (calls with ids use 100 / 20).
   */
  readonly ec2UnfilteredDescribe: Bucket;
  /** EC2 mutating actions, per action: 50 / 5 (docs/aws-behaviour.md#ec2-request-throttling). */
  readonly ec2Mutating: Bucket;
  /**
   * EC2 actions with their own request bucket (docs/aws-behaviour.md#ec2-request-throttling): StartInstances 5 /
   * 2...
   */
  readonly ec2Specific: Readonly<Record<string, Bucket>>;
  /** EC2 resource-token buckets, one token per instance (docs/aws-behaviour.md#ec2-request-throttling). */
  readonly ec2ResourceTokens: Readonly<Record<string, Bucket>>;
  /** SSM, per action. Assumption (the SSM documentation gives no request rates here). */
  readonly ssm: Bucket;
  /** CloudWatch, per action. Assumption (GetMetricData's quota is commonly 50 per second). */
  readonly cloudwatch: Bucket;
}

/** Everything the simulated account's behaviour over time depends on. */
export interface LatencyModel {
  readonly api: ApiLatency;
  readonly world: WorldTiming;
  readonly ssm: SsmTiming;
  readonly metrics: MetricTiming;
  readonly control: ControlTiming;
  readonly agent: AgentTiming;
  readonly consistency: ConsistencyTiming;
  readonly throttling: Throttling;
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;

/** The default model. Sources are in the doc comments of each field above. */
export const DEFAULT_LATENCY: LatencyModel = {
  api: {
    ec2Read: [60, 250],
    ec2Write: [80, 350],
    ssm: [50, 200],
    cloudwatch: [60, 250],
    other: [50, 200],
  },
  world: {
    statusCheckInterval: MINUTE,
    statusInitializing: [1 * MINUTE, 3 * MINUTE],
    stop: [30 * SECOND, 90 * SECOND],
    startToRunning: [15 * SECOND, 60 * SECOND],
    terminate: [20 * SECOND, 60 * SECOND],
    terminatedVisibleFor: 60 * MINUTE,
    agentBoot: [10 * SECOND, 30 * SECOND],
    daemonBoot: [5 * SECOND, 15 * SECOND],
    tunnelEstablish: [5 * SECOND, 20 * SECOND],
    retirementNotice: 14 * 24 * 60 * MINUTE,
  },
  ssm: {
    invocationVisible: [200, 1000],
    delivery: [300, 1500],
    execution: [300, 1500],
    executionTimeoutMs: 15 * SECOND,
    agentConnectionLost: [5 * MINUTE, 10 * MINUTE],
    probeCommandTimeoutMs: 2 * SECOND,
    peerPingAnswered: 0.2 * SECOND,
    peerPingUnanswered: 1.2 * SECOND,
  },
  metrics: {
    publishInterval: MINUTE,
    visibility: [30 * SECOND, 60 * SECOND],
    history: 15 * MINUTE,
  },
  control: {
    eventBridge: [500, 2000],
    scheduler: [100, 800],
    lambdaStart: [20, 150],
    maxEventAge: 60 * SECOND,
  },
  agent: {
    checkInterval: 1 * SECOND,
    checkCommand: [20, 200],
    checkTimeout: 1 * SECOND,
    recheck: 500,
    reportWrite: [50, 300],
    stream: [200, 1000],
  },
  consistency: {
    routeReadLag: [0, 200],
  },
  throttling: {
    ec2NonMutating: { capacity: 100, refillPerSecond: 20 },
    ec2UnfilteredDescribe: { capacity: 50, refillPerSecond: 10 },
    ec2Mutating: { capacity: 50, refillPerSecond: 5 },
    ec2Specific: {
      StartInstances: { capacity: 5, refillPerSecond: 2 },
      RunInstances: { capacity: 5, refillPerSecond: 2 },
      TerminateInstances: { capacity: 100, refillPerSecond: 5 },
      ModifyNetworkInterfaceAttribute: { capacity: 100, refillPerSecond: 5 },
    },
    ec2ResourceTokens: {
      StartInstances: { capacity: 1000, refillPerSecond: 2 },
      StopInstances: { capacity: 1000, refillPerSecond: 20 },
      TerminateInstances: { capacity: 1000, refillPerSecond: 20 },
    },
    ssm: { capacity: 100, refillPerSecond: 50 },
    cloudwatch: { capacity: 50, refillPerSecond: 50 },
  },
};

/** The default model with some parts replaced (tests, benchmarks). */
export function latencyWith(
  overrides: { readonly [K in keyof LatencyModel]?: Partial<LatencyModel[K]> },
): LatencyModel {
  return {
    api: { ...DEFAULT_LATENCY.api, ...overrides.api },
    world: { ...DEFAULT_LATENCY.world, ...overrides.world },
    ssm: { ...DEFAULT_LATENCY.ssm, ...overrides.ssm },
    metrics: { ...DEFAULT_LATENCY.metrics, ...overrides.metrics },
    control: { ...DEFAULT_LATENCY.control, ...overrides.control },
    agent: { ...DEFAULT_LATENCY.agent, ...overrides.agent },
    consistency: { ...DEFAULT_LATENCY.consistency, ...overrides.consistency },
    throttling: { ...DEFAULT_LATENCY.throttling, ...overrides.throttling },
  };
}
