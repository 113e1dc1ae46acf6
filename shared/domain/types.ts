/**
 * The domain vocabulary shared by observe, decide and act. No SDK types here: adapters in shared/aws
 * translate AWS responses into these shapes, and the pure decision code reads only these.
 */
import type { AgentReport } from './agent.ts';
import type { AlarmKind } from './alarms.ts';

/** A member of a pair, by its configured role. Which one carries traffic is a separate fact (`active`). */
export type Role = 'primary' | 'standby';
export const ROLES: readonly Role[] = ['primary', 'standby'];
export const otherRole = (role: Role): Role => (role === 'primary' ? 'standby' : 'primary');

/** Three-valued health: unknown (could not read) never moves traffic by itself. */
export type Health = 'healthy' | 'unhealthy' | 'unknown';

/** The independent views of a member's health. */
export type SignalName = 'instance' | 'daemon' | 'tunnel';

/** One signal's verdict on one member, with a reason a person can read. */
export interface Signal {
  readonly health: Health;
  readonly reason: string;
  /** Hard loss (not found, not running, impaired status checks, blackholed route): moves traffic at once. */
  readonly hard?: boolean;
  /**
   * A pending scheduled event (retirement, stop, reboot, maintenance): the member still runs, but traffic
   * moves at once, like a hard loss, so that it has left before the event happens.
   */
  readonly scheduled?: boolean;
}

export type InstanceState = 'pending' | 'running' | 'stopping' | 'stopped' | 'shutting-down' | 'terminated';
export type StatusSummary = 'ok' | 'impaired' | 'insufficient-data' | 'not-applicable' | 'initializing';

/** What EC2 says about one instance (DescribeInstanceStatus with IncludeAllInstances). */
export interface InstanceObservation {
  readonly instanceId: string;
  /** false when EC2 does not know the instance (terminated long ago, wrong id) */
  readonly found: boolean;
  readonly state?: InstanceState;
  readonly systemStatus?: StatusSummary;
  readonly instanceStatus?: StatusSummary;
  readonly ebsStatus?: StatusSummary;
  readonly scheduledEvents: readonly ScheduledEvent[];
}

export interface ScheduledEvent {
  readonly code: string;
  /** epoch ms */
  readonly notBefore?: number;
  readonly description?: string;
}

/**
 * How a probe was answered, which is evidence in itself:
 * - answered: the script ran on the member and exited (its verdict may still be unknown, exit 3);
 * - silent: the member said nothing, though SSM took the command: not delivered, delivery timed out, still
 *   pending at the probe deadline, or its agent no longer counted as online by SSM;
 * - unreadable: the control plane did not tell us (the API call failed, was throttled or denied, or the
 *   invocation stopped for a reason of its own, such as running out of time after it started).
 */
export type ProbeReply = 'answered' | 'silent' | 'unreadable';

/** What a member's ping of its partner found: only an answer or no answer is evidence. */
export type PeerReach = 'reachable' | 'unreachable' | 'unknown';

/** The outcome of one daemon probe through SSM Run Command. */
export interface ProbeObservation {
  readonly instanceId: string;
  /** succeeded: exit 0; failed: exit non-zero; unknown: no answer (agent offline, timeout, API error) */
  readonly outcome: 'succeeded' | 'failed' | 'unknown';
  readonly detail: string;
  /** how the probe was answered; absent reads as unreadable (never as silence) */
  readonly reply?: ProbeReply;
  /** this member's ping of its partner's address, when the probe was given it and answered */
  readonly peer?: PeerReach;
}

/** One CloudWatch datapoint: the start of its period (epoch ms) and the statistic's value. */
export interface Datapoint {
  readonly at: number;
  readonly value: number;
}

/** A member's TunnelUp as its member agent's report carries it, taken instead of reading the metric. */
export interface ReportedTunnel {
  /** epoch ms the report was sent */
  readonly at: number;
  readonly value: number;
}

/**
 * One member's tunnel reading: the recent datapoints of its tunnel metric, newest first, or the value its
 * member agent's report carries (shared/decide/tunnel-source.ts says when), never both.
 */
export interface TunnelObservation {
  readonly instanceId: string;
  /** undefined when the metric was not read (`reported`) or could not be read at all (API error) */
  readonly datapoints?: readonly Datapoint[];
  /** the reading taken from the agent's report; the metric was not read */
  readonly reported?: ReportedTunnel;
  readonly detail?: string;
}

/** A member's remembered address when its route-target ENI has no private IPv4 address (IPv6-only subnet). */
export const NO_ADDRESS = 'none';

/** A destination as EC2 names it on a route. */
export type Destination = string;

/** What the agent table held for one member in this run. */
export interface AgentObservation {
  /**
   * false when the agent table could not be read for this member: an unknown, neither evidence nor silence
   * (`detail` says why)
   */
  readonly readable: boolean;
  /** the report stored under this member's own key; absent when there is none (or it was unreadable) */
  readonly report?: AgentReport;
  /**
   * The report speaks for this member: its key (the sender, bound by IAM) and the instance id it claims both
   * name the member. An unbound report is never evidence.
   */
  readonly bound?: boolean;
  readonly detail?: string;
}

/** One observed route in a managed route table, for one managed destination. */
export interface ObservedRoute {
  readonly routeTableId: string;
  readonly destination: Destination;
  /** false when the table has no route for this destination */
  readonly present: boolean;
  readonly networkInterfaceId?: string;
  readonly instanceId?: string;
  /** other targets (gateway, TGW, peering...) as "kind:id" */
  readonly otherTarget?: string;
  readonly state?: 'active' | 'blackhole' | 'filtered';
  /**
   * The route's target network interface no longer exists (EC2 deleted it, as it does a terminated
   * instance's primary ENI): the route is dead whoever pointed it there. Only looked up for blackholed routes
   * to an interface that is not a member's.
   */
  readonly targetDeleted?: boolean;
}

/**
 * What the routes say about where one route goes, in the pair's terms: a member, no route, a dead route
 * (`orphaned`: its target interface was deleted, so it carries nothing for anyone), or something else.
 */
export type RouteTarget = Role | 'missing' | 'orphaned' | 'foreign';

/** Everything observed about one pair in one run. */
export interface PairObservation {
  readonly instances: Readonly<Record<Role, InstanceObservation>>;
  /** absent when the pair has no daemon probe configured */
  readonly probes?: Readonly<Record<Role, ProbeObservation>>;
  /** absent when the pair has no tunnel metric configured */
  readonly tunnels?: Readonly<Record<Role, TunnelObservation>>;
  /** route-target ENI of each member; undefined when it could not be read */
  readonly enis: Readonly<Record<Role, string | undefined>>;
  /** private IPv4 address of each member's route-target ENI, when read (NO_ADDRESS when it has none) */
  readonly addresses?: Readonly<Record<Role, string | undefined>>;
  /** one entry per managed (route table, destination); undefined when the tables could not be read */
  readonly routes?: readonly ObservedRoute[];
  /** member whose route-target ENI holds the pair's Elastic IP, when one is configured and readable */
  readonly elasticIpOn?: Role | 'other' | 'none';
  /** each member's latest agent report; absent when the pair has no agent (or no agent table is deployed) */
  readonly agent?: Readonly<Record<Role, AgentObservation>>;
}

/** A maintenance lease, taken by the resize workflow. */
export interface Lease {
  readonly owner: string;
  /** epoch ms after which the lease no longer holds */
  readonly until: number;
  /** the member under maintenance (the controller must not move traffic to it) */
  readonly member?: Role;
}

/**
 * An operator's hold on a pair's automatic moves (`vpn-failover pause`): until `until`, the controller makes no
 * automatic move for the pair (operator commands still work). It ends by itself at `until`: nothing needs to
 * be written for that, and a later write drops it.
 */
export interface Pause {
  /** epoch ms after which the pause no longer holds */
  readonly until: number;
  /** why, as the operator said it */
  readonly reason: string;
  /** who paused it, when the command said */
  readonly by?: string;
  /** epoch ms of the pause command */
  readonly at: number;
}

/**
 * The alarms about signals that could not be read. They are damped (raised only once the condition has
 * persisted, cleared only once it has been gone for a while), so that throttled or flaky reads page nobody
 * twice: an unknown says "look at SSM, CloudWatch or the EC2 API", never "look at the member".
 */
export type UnknownAlarmKind = 'signal-unknown' | 'standby-unknown' | 'routes-unreadable';

/** One damped alarm's state between runs. */
export interface UnknownAlarmState {
  readonly raised: boolean;
  /** consecutive evaluations pointing the other way: unreadable while clear, readable while raised */
  readonly streak: number;
  /** epoch ms of the first evaluation of that streak (a raised alarm clears only after a stretch of time too) */
  readonly since?: number;
}

/** Failovers that moved traffic off the primary because it failed, for damping automatic failback. */
export interface PrimaryFailures {
  /** how many, each within the damping window of the one before (capped) */
  readonly count: number;
  /** epoch ms of the latest */
  readonly lastAt: number;
}

/**
 * A member's health as an evaluation decided it: the verdict and each signal's, without the reasons (whose
 * wording carries counts and times), so it changes only when a health does.
 */
export interface MemberHealth {
  readonly health: Health;
  readonly signals: Readonly<Partial<Record<SignalName, Health>>>;
}

/** The controller's memory of a pair between runs (DynamoDB pair item). */
export interface PairMemory {
  /** the member the controller intends to carry traffic */
  readonly active: Role;
  /** consecutive unhealthy evaluations per member and soft signal */
  readonly unhealthyStreak: Readonly<Record<Role, Readonly<Record<'daemon' | 'tunnel', number>>>>;
  /**
   * Consecutive evaluations in which a member was healthy on every signal, kept where automatic failback
   * reads it: the primary's, while the standby carries traffic under automatic failback, up to the number
   * failback needs; 0 elsewhere (so a steady pair's memory, and its stored item, stop changing).
   */
  readonly healthyStreak: Readonly<Record<Role, number>>;
  /** consecutive evaluations with some signal of the member carrying traffic unknown (capped), for reasons */
  readonly unknownStreak: number;
  /** the damped unknown alarms that are raised or counting; absent kinds are clear with no streak */
  readonly unknownAlarms?: Readonly<Partial<Record<UnknownAlarmKind, UnknownAlarmState>>>;
  /** epoch ms of the last traffic move, for the cooldown */
  readonly lastFailoverAt?: number;
  /** recent failures of the primary that moved traffic off it; absent when there were none */
  readonly primaryFailures?: PrimaryFailures;
  /**
   * Route-target ENI per member instance id, as last read from EC2 (saves a DescribeInstances on steady
   * ticks). Keyed by instance id, not role: a member replaced by a new instance gets its own ENI read.
   */
  readonly enis?: Readonly<Record<string, string>>;
  /**
   * Private IPv4 address of each member's route-target ENI, by instance id, as last read (like `enis`;
   * NO_ADDRESS when it has none, so it is not read again). The probe's peer check pings it.
   */
  readonly addresses?: Readonly<Record<string, string>>;
  /**
   * Member instance ids that their partner's ping has reached at least once. Only for these is a failed ping
   * evidence: a security group that never let ping through cannot fake a lost OS.
   */
  readonly peerReached?: readonly string[];
  /**
   * Consecutive evaluations (capped) in which a member's probe was silent while the same probe round was
   * answered by its partner, and that partner's ping of it got no reply. Absent when both are 0.
   */
  readonly silenceStreak?: Readonly<Record<Role, number>>;
  /**
   * Per member, the `since` of the agent report last counted as an observation (each report's unhealthy
   * state counts once), kept while that report is still the member's current one. Absent when none is.
   */
  readonly agentCounted?: Readonly<Partial<Record<Role, number>>>;
  /**
   * Epoch ms since which each member of an agent-enabled pair has been seen running without a break; its
   * agent's silence counts only after it has run as long as the silence limit. Absent for stopped members.
   */
  readonly runningSince?: Readonly<Partial<Record<Role, number>>>;
  /**
   * The alarm kinds the last stored evaluation raised, in ALARM_KINDS order; absent when none. A run whose
   * kinds differ records the change in the pair's history with the same write.
   */
  readonly alarms?: readonly AlarmKind[];
  /** each member's health as the last stored evaluation decided it (what `vpn-failover status` shows) */
  readonly verdicts?: Readonly<Record<Role, MemberHealth>>;
  readonly lease?: Lease;
  /** the operator's pause, as last stored (it may have run out since: see `until`) */
  readonly pause?: Pause;
}

export const initialMemory = (): PairMemory => ({
  active: 'primary',
  unhealthyStreak: { primary: { daemon: 0, tunnel: 0 }, standby: { daemon: 0, tunnel: 0 } },
  healthyStreak: { primary: 0, standby: 0 },
  unknownStreak: 0,
});

/** A stored pair item: memory plus its optimistic-lock version (0 = never written). */
export interface StoredPair {
  readonly pair: string;
  readonly version: number;
  readonly memory: PairMemory;
}
