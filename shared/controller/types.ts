import type { LambdaClients } from '../aws/clients.ts';
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { Alarm, MoveTrigger, PlanKind } from '../domain/plan.ts';
import type { MemberHealth, Pause, Role } from '../domain/types.ts';
import type { Log } from '../logger.ts';

/** What the controller needs from its environment (Lambda, the simulator, tests). */
export interface ControllerDeps {
  readonly clients: LambdaClients;
  readonly config: Config;
  readonly tableName: string;
  /** name of the SSM Command document that probes the VPN daemon */
  readonly probeDocument: string;
  readonly clock: Clock;
  readonly log: Log;
  /**
   * Epoch ms (on `clock`) by which the invocation must have returned: the Lambda's own deadline. Route writes
   * stop early enough before it to store their outcome. @default a run's start + controllerTimeoutSeconds
   */
  readonly deadline?: number;
  /** the member agent's report table; absent: no agent anywhere (no reports read, no agent-silent alarm) */
  readonly agentTableName?: string;
  /** `arn:PARTITION:ec2:REGION:ACCOUNT:instance/`: a member's agent-table key is this plus its instance id */
  readonly agentMemberKeyPrefix?: string;
}

/**
 * Why the controller runs. Every trigger only says which pairs to look at (level-triggered): the decision
 * always uses freshly observed state, never the trigger's payload.
 */
export type Trigger =
  | { readonly kind: 'schedule' }
  | { readonly kind: 'instance-state-change'; readonly instanceId: string; readonly state: string }
  | { readonly kind: 'alarm'; readonly alarmName: string; readonly state: string }
  /**
   * Member agents wrote a changed report (the agent table's stream): the instances the records' keys name, so
   * the sender, never what the report body claims. `ignored` says which records named no instance and why.
   */
  | {
      readonly kind: 'agent-report';
      readonly instanceIds: readonly string[];
      readonly ignored?: readonly string[];
    }
  | { readonly kind: 'reconcile'; readonly pair?: string }
  /** a quick second look, within the same invocation, at pairs whose last evaluation asked for one */
  | { readonly kind: 'recheck'; readonly pairs: readonly string[] }
  | { readonly kind: 'failover'; readonly pair: string; readonly to: Role; readonly force: boolean }
  /** an operator's hold on the pair's automatic moves for `seconds` */
  | {
      readonly kind: 'pause';
      readonly pair: string;
      readonly seconds: number;
      readonly reason: string;
      readonly by?: string;
    }
  | { readonly kind: 'resume'; readonly pair: string; readonly by?: string };

/** The triggers that are an operator's command about one named pair: refused rather than failed. */
export type OperatorTrigger = Extract<Trigger, { readonly kind: 'failover' | 'pause' | 'resume' }>;

/** One route the run wrote. */
export interface RouteChange {
  readonly routeTableId: string;
  readonly destination: string;
  readonly to: Role;
  readonly action: 'replaced' | 'created';
}

/** The run's outcome for one pair (the Lambda returns these as JSON). */
export interface PairSummary {
  readonly pair: string;
  readonly plan: PlanKind;
  readonly trigger?: MoveTrigger;
  readonly from?: Role;
  readonly to?: Role;
  /** the member carrying traffic after this run (intent): a move's target once its writes have begun */
  readonly active: Role;
  /**
   * True when this run began moving traffic between members (failover or failback, not a dry run): its
   * intent was stored and route writes started, whether or not every write succeeded. The Failover metric
   * counts these.
   */
  readonly moveStarted?: boolean;
  /**
   * True when this run found a move to make but another run held the writer lease: the move is left to that
   * run, which looks at the pair again before it lets go. Nothing was stored or written for the pair.
   */
  readonly deferred?: boolean;
  readonly reasons: readonly string[];
  readonly alarms: readonly Alarm[];
  readonly routesChanged: readonly RouteChange[];
  readonly elasticIpMoved: boolean;
  readonly dryRun: boolean;
  /** each member's verdict and signals as decided in this run */
  readonly members?: Readonly<Record<Role, MemberSummary>>;
  /** the operator's pause holding the pair's automatic moves after this run, while it lasts */
  readonly pause?: Pause;
  /**
   * Why the operator command of this run was not carried out for the pair (nothing was stored or written). An
   * answer to the operator, not a failure: it counts toward no error metric.
   */
  readonly refused?: string;
  /** set when this pair's run failed (the others still ran) */
  readonly error?: string;
  /**
   * Milliseconds after which the pair should be evaluated again within the same invocation, to confirm a
   * failure seen fewer than unhealthyThreshold times (shared/decide/recheck.ts); absent when not wanted.
   */
  readonly recheckAfterMs?: number;
}

export interface MemberSummary extends MemberHealth {
  readonly reason: string;
}

export interface RunSummary {
  readonly trigger: Trigger['kind'];
  readonly startedAt: string;
  readonly durationMs: number;
  readonly pairs: readonly PairSummary[];
  /**
   * Pairs this run left, unobserved, to the run holding the writer lease (an event that arrived while another
   * run was moving routes); that run looks at them before it lets go.
   */
  readonly deferred?: readonly string[];
  /**
   * Set when the run's operator command (failover, pause, resume) was refused: why, in one line. Nothing was
   * stored or written. The invocation still succeeds: a refusal is the answer, not an error (a malformed
   * command is an error, BadEventError).
   */
  readonly refused?: string;
}
