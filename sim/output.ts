import type { Trigger } from '../shared/controller/types.ts';
import type { AgentVerdict } from '../shared/domain/agent.ts';
import type { AlarmKind, MoveTrigger, PlanKind } from '../shared/domain/plan.ts';
import type { InstanceState, Role } from '../shared/domain/types.ts';
import type { FaultKind } from './faults.ts';

/**
 * The output of a scenario run: docs/simulator.md#simulate-output (`vpn-failover simulate --json`). Fields and
 * event types listed there are public; the extra event types and fields below extend it.
 */

/** Where a route points, in the pair's terms. */
export type RouteOwner = Role | 'other' | 'missing';

/** Fields every event has. */
interface At {
  /** virtual seconds since the scenario start, rounded to 0.1 */
  readonly t: number;
}

/** What a traffic move (done or, in a dry run, not done) says. */
interface MoveFields {
  readonly pair: string;
  readonly from: Role;
  readonly to: Role;
  readonly reason: string;
  readonly kind: 'failover' | 'failback';
  readonly trigger: MoveTrigger;
}

/** What a route repair (done or, in a dry run, not done) says. */
interface RepairFields {
  readonly pair: string;
  readonly to: Role;
  readonly reason: string;
}

/**
 * One entry of the event log, in time order. In a dry run nothing the controller would write appears as done:
 * no failover, repair or route-change events from it, only would-failover and would-repair.
 */
export type SimEvent = At &
  (
    | {
        readonly type: 'fault';
        /** PAIR/primary, PAIR/standby or * */
        readonly target: string;
        readonly fault: FaultKind;
        readonly rate?: number;
        /** seconds */
        readonly for?: number;
        /** why the fault had no effect, when it had none */
        readonly note?: string;
        /** foreign-route: the managed route pointed outside the pair */
        readonly routeTable?: string;
        readonly destination?: string;
      }
    | {
        readonly type: 'command';
        readonly pair: string;
        readonly command: 'failover' | 'resize' | 'pause' | 'resume';
        readonly to?: Role;
        /** failover: past the health and lease checks */
        readonly force?: boolean;
        readonly instanceType?: string;
        /** pause: seconds */
        readonly for?: number;
        readonly reason?: string;
      }
    | {
        /** the controller refused an operator command: its answer, nothing was written */
        readonly type: 'refused';
        readonly pair: string;
        readonly command: Trigger['kind'];
        readonly reason: string;
      }
    | ({
        /** a traffic move the controller decided and carried out: failovers and failbacks (kind says which) */
        readonly type: 'failover';
      } & MoveFields)
    | ({
        /**
         * Dry run: the move the controller would have made; nothing was written. Decisions that keep asking for
         * the same move (same kind, trigger, from and to) on later runs are one would-be move: the event appears
         * when the pair starts asking for it. Each operator command that would move traffic has its own.
         */
        readonly type: 'would-failover';
      } & MoveFields)
    | ({
        /** the controller re-pointed stray routes at the member already active (finishing an interrupted move) */
        readonly type: 'repair';
      } & RepairFields)
    | ({
        /**
         * Dry run: the stray routes the controller would have re-pointed; nothing was written. Once per
         * stretch of decisions asking for the same repair, as would-failover.
         */
        readonly type: 'would-repair';
      } & RepairFields)
    | {
        /** a managed route's target changed in the account */
        readonly type: 'route-change';
        readonly pair: string;
        readonly routeTable: string;
        readonly destination: string;
        readonly to: RouteOwner;
        readonly from: RouteOwner;
        readonly action: 'replaced' | 'created';
      }
    | {
        /** a member agent reported a changed verdict (written to the agent table; heartbeats are not listed) */
        readonly type: 'agent-report';
        readonly pair: string;
        readonly member: Role;
        readonly verdict: AgentVerdict;
        /** the check's verdict line */
        readonly detail: string;
      }
    | { readonly type: 'alarm'; readonly pair: string; readonly alarm: AlarmKind; readonly detail: string }
    | { readonly type: 'alarm-cleared'; readonly pair: string; readonly alarm: AlarmKind }
    | {
        /** an EC2 instance state transition (delivered to the controller through EventBridge) */
        readonly type: 'state-change';
        readonly target: string;
        readonly instanceId: string;
        readonly from: InstanceState;
        readonly to: InstanceState;
      }
    | { readonly type: 'elastic-ip'; readonly pair: string; readonly to: RouteOwner }
    | { readonly type: 'instance-type'; readonly target: string; readonly from: string; readonly to: string }
    | { readonly type: 'start-failed'; readonly target: string; readonly reason: string }
    | {
        readonly type: 'resize-stage';
        readonly pair: string;
        readonly stage: string;
        readonly detail?: string;
      }
    | {
        /** every decision of every run (only with the verbose option) */
        readonly type: 'decision';
        readonly pair: string;
        readonly plan: PlanKind;
        readonly trigger: Trigger['kind'];
        readonly reasons: readonly string[];
      }
    | {
        /** the controller invocation died (the crash option or its Lambda timeout) */
        readonly type: 'controller-crash';
        readonly reason: 'crash-after-route-writes' | 'timeout';
        readonly routeWrites?: number;
      }
    | {
        /**
         * an event older than the maximum event age was dropped instead of run,
         * docs/aws-behaviour.md#lambda-asynchronous-invocation
         */
        readonly type: 'event-dropped';
        readonly trigger: Trigger['kind'];
        readonly ageSeconds: number;
      }
    | { readonly type: 'error'; readonly pair?: string; readonly message: string }
  );

/** The event types, for readers that switch on them. */
export type SimEventType = SimEvent['type'];

/** One managed route at the end. */
export interface FinalRoute {
  readonly routeTable: string;
  readonly destination: string;
  readonly to: RouteOwner;
  readonly state: 'active' | 'blackhole' | 'missing';
}

/** One member at the end. */
export interface FinalMember {
  readonly state: InstanceState;
  readonly instanceType: string;
}

/** A pair at the end. */
export interface FinalPair {
  /** where the routes actually point; "split" when they do not all point at one member */
  readonly active: Role | 'split';
  readonly routes: readonly FinalRoute[];
  readonly members: Readonly<Record<Role, FinalMember>>;
  /** where the pair's Elastic IP is, when it has one */
  readonly elasticIp?: RouteOwner;
  /**
   * Virtual seconds (rounded to 0.1) during which at least one managed route of the pair was blackholed or
   * pointed at a member that was not running.
   */
  readonly blackholeSeconds: number;
}

/** Counters of the run. */
export interface SimStats {
  readonly invocations: number;
  /** attempts per "Service Action", retries included */
  readonly apiCalls: Readonly<Record<string, number>>;
  readonly throttled: Readonly<Record<string, number>>;
}

/** The whole output of `vpn-failover simulate --json`. */
export interface SimulateOutput {
  readonly scenario: string;
  readonly seed: number;
  /** virtual seconds */
  readonly duration: number;
  readonly events: readonly SimEvent[];
  readonly final: { readonly pairs: Readonly<Record<string, FinalPair>> };
  readonly stats: SimStats;
}
