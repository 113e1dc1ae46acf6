import type { AlarmKind } from './alarms.ts';
import type { Health, PairMemory, Role, Signal, SignalName } from './types.ts';

/** The alarm kinds live in ./alarms.ts (the domain's types name them too); re-exported for the plan's users. */
export { ALARM_KINDS, type AlarmKind } from './alarms.ts';

/** A member's overall verdict from its signals. */
export interface Verdict {
  readonly health: Health;
  /** hard loss: the member cannot carry traffic at all */
  readonly hard: boolean;
  readonly signals: Readonly<Partial<Record<SignalName, Signal>>>;
  readonly reason: string;
}

/** One route write the act step performs. */
export interface RouteWrite {
  readonly routeTableId: string;
  readonly destination: string;
  /** replace an existing route, or create a missing one */
  readonly action: 'replace' | 'create';
  readonly networkInterfaceId: string;
}

/** Why traffic moves. */
export type MoveTrigger = 'hard-loss' | 'soft-failure' | 'scheduled-event' | 'manual' | 'automatic-failback';

interface Move {
  readonly from: Role;
  readonly to: Role;
  readonly reasons: readonly string[];
  readonly routes: readonly RouteWrite[];
  /** the target member's route-target ENI (routes and the Elastic IP go there) */
  readonly targetEni: string;
  /** associate the pair's Elastic IP with the target member */
  readonly moveElasticIp: boolean;
}

/**
 * The controller's plan for one pair in one run: a closed union, switched on exhaustively.
 * - noop: the world matches intent; nothing to write.
 * - failover / failback: move traffic between members (failback = back to the primary).
 * - repair-routes: traffic stays on the active member, but some routes (or the EIP) are not on it.
 * - alarm: traffic ought to move but must not (no healthy standby, lease, unknown signals); raise an alarm.
 */
export type Plan =
  | { readonly kind: 'noop'; readonly reasons: readonly string[] }
  | ({ readonly kind: 'failover'; readonly trigger: MoveTrigger } & Move)
  | ({ readonly kind: 'failback'; readonly trigger: MoveTrigger } & Move)
  | ({ readonly kind: 'repair-routes' } & Move)
  | { readonly kind: 'alarm'; readonly reasons: readonly string[] };

export type PlanKind = Plan['kind'];

export interface Alarm {
  readonly kind: AlarmKind;
  readonly detail: string;
}

/** The full outcome of deciding one pair: the plan, alarms, verdicts and the memory to store. */
export interface Decision {
  readonly pair: string;
  readonly plan: Plan;
  readonly alarms: readonly Alarm[];
  readonly verdicts: Readonly<Record<Role, Verdict>>;
  /** the memory to persist after the plan is carried out */
  readonly memory: PairMemory;
  readonly dryRun: boolean;
  /** why an operator command was not carried out (the run answers it as a refusal, not an error); absent otherwise */
  readonly refusal?: string;
}

/** Exhaustiveness guard for switches on closed unions. */
export function assertNever(value: never): never {
  throw new Error(`unexpected value: ${JSON.stringify(value)}`);
}

/** Plans that write routes. */
export const isMove = (plan: Plan): plan is Extract<Plan, { routes: readonly RouteWrite[] }> =>
  plan.kind === 'failover' || plan.kind === 'failback' || plan.kind === 'repair-routes';
