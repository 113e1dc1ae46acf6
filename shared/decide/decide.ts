import type { PairConfig } from '../config/schema.ts';
import type { Alarm, Decision, MoveTrigger, Plan, Verdict } from '../domain/plan.ts';
import { isMove } from '../domain/plan.ts';
import type { Lease, PairMemory, PairObservation, Role } from '../domain/types.ts';
import { otherRole, ROLES } from '../domain/types.ts';
import { formatSeconds } from '../duration.ts';
import { evaluateMember, SOFT_SIGNALS, type SoftSignal } from './health.ts';
import { analyseRoutes, classifyRoute, type RouteStatus, routesConverged, routeWrites } from './routes.ts';

/** Consecutive evaluations with an unknown signal on the active member before the signal-unknown alarm. */
export const UNKNOWN_ALARM_AFTER = 3;

const ROUTES_UNREADABLE = 'the route tables could not be read, so no route is written';

/** An operator's request to move a pair's traffic to one member (`cli failover`, the resize workflow). */
export interface OperatorCommand {
  readonly action: 'failover';
  readonly to: Role;
  /** skip the target-health and maintenance-lease checks (never the route checks) */
  readonly force: boolean;
}

/** Everything `decide` needs: the pure inputs of one pair's reconcile. */
export interface DecideInput {
  /** validated configuration (cooldown in seconds) */
  readonly pair: PairConfig;
  readonly observation: PairObservation;
  /** from the state store; `lease` may be set by the resize workflow */
  readonly memory: PairMemory;
  /** epoch ms */
  readonly now: number;
  /** config.dryRun || pair.dryRun */
  readonly dryRun: boolean;
  /** an operator command for this pair, when this run was started by one */
  readonly command?: OperatorCommand;
}

type MovePlan = Extract<Plan, { readonly routes: unknown }>;

/** One reason a move cannot happen; `forceable` ones an operator's force overrides. */
interface Blocker {
  readonly alarm: Alarm;
  readonly forceable: boolean;
}

interface Outcome {
  readonly plan: Plan;
  readonly alarms: readonly Alarm[];
  readonly refusal?: string;
}

/** This run's view of the pair, shared by the rules below. */
interface Context {
  readonly pair: PairConfig;
  readonly observation: PairObservation;
  readonly memory: PairMemory;
  readonly now: number;
  readonly verdicts: Readonly<Record<Role, Verdict>>;
  /** undefined when the route tables could not be read */
  readonly routes: readonly RouteStatus[] | undefined;
  readonly streaks: Streaks;
}

interface Streaks {
  readonly unhealthyStreak: PairMemory['unhealthyStreak'];
  readonly healthyStreak: PairMemory['healthyStreak'];
  readonly unknownStreak: number;
}

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/** A live maintenance lease covering `role`, if any (design.md "Maintenance lease"). */
function leaseOn(memory: PairMemory, role: Role, now: number): Lease | undefined {
  const lease = memory.lease;
  return lease !== undefined && lease.until > now && lease.member === role ? lease : undefined;
}

/** Milliseconds of cooldown left since the last move (0 when none is left or there never was a move). */
function cooldownLeft(ctx: Context): number {
  const last = ctx.memory.lastFailoverAt;
  return last === undefined ? 0 : Math.max(0, last + ctx.pair.cooldown * 1000 - ctx.now);
}

/**
 * Streaks counting this evaluation. A soft signal's unhealthy streak grows on unhealthy, resets on healthy
 * and holds on unknown or absent (unknown is not evidence either way). The healthy streak is kept only where
 * automatic failback reads it: the primary's, while the standby carries traffic and failback is automatic,
 * counting evaluations healthy on every signal up to failbackAfter; it is 0 everywhere else. So a steady, healthy pair's memory stops
 * changing and a steady tick writes nothing to the state store. The unknown streak counts evaluations in
 * which the active member had some unknown signal.
 */
function nextStreaks(
  pair: PairConfig,
  memory: PairMemory,
  verdicts: Readonly<Record<Role, Verdict>>,
): Streaks {
  const soft = (role: Role) =>
    Object.fromEntries(
      SOFT_SIGNALS.map((name) => {
        const previous = memory.unhealthyStreak[role][name];
        const health = verdicts[role].signals[name]?.health;
        // Capped at the threshold: a member that stays down changes nothing stored, so a degraded pair's
        // ticks write no state.
        const next = Math.min(previous + 1, pair.unhealthyThreshold);
        return [name, health === 'unhealthy' ? next : health === 'healthy' ? 0 : previous];
      }),
    ) as Record<SoftSignal, number>;
  const primaryHealthy =
    pair.failback === 'automatic' && memory.active === 'standby' && verdicts.primary.health === 'healthy'
      ? Math.min(memory.healthyStreak.primary + 1, pair.failbackAfter)
      : 0;
  const activeSignals = Object.values(verdicts[memory.active].signals);
  return {
    unhealthyStreak: { primary: soft('primary'), standby: soft('standby') },
    healthyStreak: { primary: primaryHealthy, standby: 0 },
    unknownStreak: activeSignals.some((signal) => signal.health === 'unknown')
      ? Math.min(memory.unknownStreak + 1, UNKNOWN_ALARM_AFTER)
      : 0,
  };
}

/** The Elastic IP must follow traffic to `role`: configured, and not known to be there already. */
function elasticIpMustMove(ctx: Context, role: Role, unreadableMeansMove: boolean): boolean {
  if (ctx.pair.elasticIp === undefined) return false;
  const on = ctx.observation.elasticIpOn;
  return on === undefined ? unreadableMeansMove : on !== role;
}

/** A move the rules want: where to, why, and which checks apply. */
type MoveIntent = {
  readonly to: Role;
  readonly reasons: readonly string[];
  /** soft failures wait for the cooldown; hard loss, scheduled events and operators do not */
  readonly respectCooldown: boolean;
  /** an operator's force: the health and lease checks are reported as overridden instead of blocking */
  readonly force?: boolean;
  /** replaces the generic "not healthy" text (the far-end case of a soft failure) */
  readonly unhealthyDetail?: string;
} & (
  | { readonly kind: 'repair-routes' }
  | { readonly kind: 'failover' | 'failback'; readonly trigger: MoveTrigger }
);

/**
 * An automatic move, or, when something blocks it, an alarm plan giving the move's reasons, what blocks it and
 * `trailer`, with the blockers' alarms.
 */
function moveOrAlarm(ctx: Context, move: MoveIntent, trailer: readonly string[] = []): Outcome {
  const attempt = planMove(ctx, move);
  if ('plan' in attempt) return { plan: attempt.plan, alarms: [] };
  return {
    plan: alarmPlan([...move.reasons, ...blockedReasons(move.to, attempt.blockers), ...trailer]),
    alarms: attempt.blockers.map((b) => b.alarm),
  };
}

/**
 * Plan pointing every managed route (and the Elastic IP) at `to`, or say what blocks it: a live lease on
 * `to`, `to` not positively healthy, the cooldown (soft failures only), unreadable route tables, or an
 * unknown route-target ENI for `to`. With force, the lease and health blocks become reasons instead.
 */
function planMove(
  ctx: Context,
  move: MoveIntent,
): { readonly plan: MovePlan } | { readonly blockers: readonly Blocker[] } {
  const { pair, observation, memory, now, verdicts, routes } = ctx;
  const { to } = move;
  const blockers: Blocker[] = [];
  const lease = leaseOn(memory, to, now);
  if (lease !== undefined) {
    blockers.push({
      alarm: {
        kind: 'maintenance-lease',
        detail: `${to} is under a maintenance lease held by ${lease.owner} until ${iso(lease.until)}`,
      },
      forceable: true,
    });
  }
  const target = verdicts[to];
  if (target.health !== 'healthy') {
    blockers.push({
      alarm: {
        kind: 'no-healthy-target',
        detail: move.unhealthyDetail ?? `${to} ${pair[to].instanceId} is ${target.health}: ${target.reason}`,
      },
      forceable: true,
    });
  }
  const left = move.respectCooldown ? cooldownLeft(ctx) : 0;
  if (left > 0) {
    blockers.push({
      alarm: {
        kind: 'in-cooldown',
        detail: `the last move was less than ${formatSeconds(pair.cooldown)} ago; soft failures wait ${formatSeconds(left / 1000)} more`,
      },
      forceable: false,
    });
  }
  if (routes === undefined) {
    blockers.push({
      alarm: { kind: 'routes-unreadable', detail: ROUTES_UNREADABLE },
      forceable: false,
    });
  }
  const eni = observation.enis[to];
  if (eni === undefined) {
    blockers.push({
      alarm: {
        kind: 'no-healthy-target',
        detail: `the route-target ENI of ${to} is unknown, so no route can point at it`,
      },
      forceable: false,
    });
  }
  const overridden = move.force === true ? blockers.filter((b) => b.forceable) : [];
  const blocking = blockers.filter((b) => !overridden.includes(b));
  if (blocking.length > 0 || routes === undefined || eni === undefined) return { blockers: blocking };
  const writes = routeWrites(routes, to, eni);
  const moveElasticIp = elasticIpMustMove(ctx, to, move.kind !== 'repair-routes');
  const reasons = [
    ...move.reasons,
    ...overridden.map((b) => `forced past: ${b.alarm.detail}`),
    `${writes.length} route writes to ${eni}${moveElasticIp ? ', Elastic IP follows' : ''}`,
  ];
  // A repair finishes a move onto the active member, so the routes it rewrites come from the other one.
  const from = move.kind === 'repair-routes' ? otherRole(to) : memory.active;
  const common = { from, to, reasons, routes: writes, targetEni: eni, moveElasticIp };
  return {
    plan:
      move.kind === 'repair-routes'
        ? { kind: 'repair-routes', ...common }
        : { kind: move.kind, trigger: move.trigger, ...common },
  };
}

const alarmPlan = (reasons: readonly string[]): Plan => ({ kind: 'alarm', reasons });

const blockedReasons = (to: Role, blockers: readonly Blocker[]): string[] =>
  blockers.map((b) => `not moving to ${to}: ${b.alarm.detail}`);

/** The kind of a move between members: back to the primary is a failback (plan.ts). */
const moveKind = (to: Role): 'failover' | 'failback' => (to === 'primary' ? 'failback' : 'failover');

/**
 * Rules 1, 2 and 5 found no move to make (or one waits): keep traffic where it is, and finish any move
 * that was interrupted half way by pointing the stray routes (and the Elastic IP) back at the active member.
 */
function settle(ctx: Context, notes: readonly string[]): Outcome {
  const { pair, observation, memory, verdicts, routes } = ctx;
  const active = memory.active;
  if (routes === undefined) {
    return {
      plan: alarmPlan([...notes, 'the route tables could not be read: where traffic goes is not confirmed']),
      alarms: [],
    };
  }
  const converged = routesConverged(routes, active);
  const elasticIpAway = elasticIpMustMove(ctx, active, false);
  if (converged && !elasticIpAway) {
    const managed = routes.filter((r) => r.target !== 'foreign').length;
    return {
      plan: {
        kind: 'noop',
        reasons: [
          `${active} carries traffic: ${managed} managed routes on ${observation.enis[active] ?? pair[active].instanceId}`,
          ...notes,
        ],
      },
      alarms: [],
    };
  }
  const stray = routes.filter(
    (r) => r.target !== 'foreign' && !(r.target === active && r.onEni && !r.blackhole),
  );
  const what = [
    ...(stray.length > 0 ? [`${stray.length} managed routes not on ${active}`] : []),
    ...(elasticIpAway ? [`Elastic IP on ${observation.elasticIpOn}`] : []),
  ].join(' and ');
  if (verdicts[active].health !== 'healthy') {
    const detail = `${what}, but ${active} is ${verdicts[active].health} (${verdicts[active].reason}): not repairing onto it`;
    return { plan: alarmPlan([...notes, detail]), alarms: [{ kind: 'no-healthy-target', detail }] };
  }
  const attempt = planMove(ctx, {
    to: active,
    kind: 'repair-routes',
    reasons: [...notes, `${what}: finishing the move onto ${active}`],
    respectCooldown: false,
  });
  if ('plan' in attempt) return { plan: attempt.plan, alarms: [] };
  return {
    plan: alarmPlan([...notes, `${what}`, ...blockedReasons(active, attempt.blockers)]),
    alarms: attempt.blockers.map((b) => b.alarm),
  };
}

/** Automatic rules, in order: hard loss or scheduled event, soft failure, automatic failback, repair. */
function automatic(ctx: Context): Outcome {
  const { pair, memory, verdicts, streaks, now } = ctx;
  const active = memory.active;
  const standby = otherRole(active);
  const current = verdicts[active];
  const notes: string[] = [];

  // Rule 1: hard loss (or an imminent scheduled event) moves at once, cooldown or not.
  const scheduled = current.signals.instance?.scheduled === true;
  if (current.health === 'unhealthy' && (current.hard || scheduled)) {
    const trigger: MoveTrigger = current.hard ? 'hard-loss' : 'scheduled-event';
    const reasons = [
      `${active} ${current.hard ? 'lost' : 'has a scheduled event'}: ${current.signals.instance?.reason}`,
    ];
    return moveOrAlarm(
      ctx,
      { to: standby, kind: moveKind(standby), trigger, reasons, respectCooldown: false },
      [`traffic stays on ${active}`],
    );
  }

  // Rule 2: a soft signal unhealthy for unhealthyThreshold evaluations, and healthy on the other member.
  const soft = SOFT_SIGNALS.filter((name) => current.signals[name]?.health === 'unhealthy');
  const failing = soft.filter((name) => streaks.unhealthyStreak[active][name] >= pair.unhealthyThreshold);
  if (failing.length > 0) {
    const reasons = failing.map(
      (name) =>
        `${active} ${name} unhealthy x${streaks.unhealthyStreak[active][name]}: ${current.signals[name]?.reason}`,
    );
    // design.md: if the standby's same signal is down too (the far end is down), moving helps no one.
    const farEnd = failing.flatMap((name) => {
      const theirs = verdicts[standby].signals[name];
      if (theirs === undefined || theirs.health === 'healthy') return [];
      const why =
        theirs.health === 'unhealthy'
          ? 'the far end may be down and moving traffic helps no one'
          : 'it is not positively healthy';
      return [`${standby} ${name} is ${theirs.health} too (${theirs.reason}): ${why}`];
    });
    const unhealthyDetail = farEnd.length > 0 ? farEnd.join('; ') : undefined;
    return moveOrAlarm(
      ctx,
      {
        to: standby,
        kind: moveKind(standby),
        trigger: 'soft-failure',
        reasons,
        respectCooldown: true,
        ...(unhealthyDetail !== undefined && { unhealthyDetail }),
      },
      [`traffic stays on ${active}`],
    );
  }
  for (const name of soft) {
    notes.push(
      `${active} ${name} unhealthy ${streaks.unhealthyStreak[active][name]}/${pair.unhealthyThreshold}: waiting`,
    );
  }
  if (current.health === 'unknown')
    notes.push(`${active} unknown (${current.reason}): unknown never moves traffic`);

  // Rule 5: failback to the primary.
  if (active === 'standby') {
    if (pair.failback === 'manual') {
      notes.push('traffic stays on the standby until an operator fails back (failback: manual)');
    } else {
      const healthy = streaks.healthyStreak.primary;
      const left = cooldownLeft(ctx);
      const lease = leaseOn(memory, 'primary', now);
      if (healthy < pair.failbackAfter) {
        notes.push(`primary healthy ${healthy}/${pair.failbackAfter} evaluations before automatic failback`);
      } else if (left > 0) {
        notes.push(`automatic failback waits ${formatSeconds(left / 1000)} for the cooldown`);
      } else if (lease !== undefined) {
        notes.push(
          `automatic failback waits for the maintenance lease held by ${lease.owner} on the primary`,
        );
      } else {
        const reasons = [`primary healthy for ${healthy} evaluations (failbackAfter ${pair.failbackAfter})`];
        return moveOrAlarm(ctx, {
          to: 'primary',
          kind: 'failback',
          trigger: 'automatic-failback',
          reasons,
          respectCooldown: true,
        });
      }
    }
  }

  // Rule 8: no move; keep (or put back) everything on the active member.
  return settle(ctx, notes);
}

/** Rule 6: an operator command moves traffic to the named member, or is refused with the reason. */
function commanded(ctx: Context, command: OperatorCommand): Outcome {
  const { memory, routes, pair } = ctx;
  const { to, force } = command;
  const said = `operator command: failover to ${to}${force ? ' (forced)' : ''}`;
  if (
    to === memory.active &&
    routes !== undefined &&
    routesConverged(routes, to) &&
    !elasticIpMustMove(ctx, to, false)
  ) {
    return {
      plan: { kind: 'noop', reasons: [said, `${to} already carries traffic and its routes are in place`] },
      alarms: [],
    };
  }
  const common = { to, reasons: [said], respectCooldown: false, force };
  const attempt = planMove(
    ctx,
    to === memory.active
      ? { ...common, kind: 'repair-routes' }
      : { ...common, kind: moveKind(to), trigger: 'manual' },
  );
  if ('plan' in attempt) return { plan: attempt.plan, alarms: [] };
  const hint = attempt.blockers.some((b) => b.forceable)
    ? ' (force overrides the health and lease checks)'
    : '';
  const refusal = `refused failover of ${pair.name} to ${to}: ${attempt.blockers.map((b) => b.alarm.detail).join('; ')}${hint}`;
  return { plan: alarmPlan([said, ...blockedReasons(to, attempt.blockers)]), alarms: [], refusal };
}

/** Conditions raised whatever the plan: redundancy lost, routes outside the pair, persistent unknowns. */
function standingAlarms(ctx: Context, plan: Plan): Alarm[] {
  const { pair, verdicts, routes, streaks, memory } = ctx;
  const alarms: Alarm[] = [];
  const carrying = isMove(plan) ? plan.to : memory.active;
  const spare = otherRole(carrying);
  if (verdicts[spare].health !== 'healthy') {
    alarms.push({
      kind: 'standby-unhealthy',
      detail: `${spare} ${pair[spare].instanceId}, the member not carrying traffic, is ${verdicts[spare].health} (${verdicts[spare].reason}): no redundancy`,
    });
  }
  if (ROLES.every((role) => verdicts[role].health !== 'healthy')) {
    alarms.push({
      kind: 'both-unhealthy',
      detail: ROLES.map((role) => `${role} ${verdicts[role].health} (${verdicts[role].reason})`).join('; '),
    });
  }
  for (const route of routes ?? []) {
    if (route.target === 'foreign') {
      alarms.push({
        kind: 'foreign-route',
        detail: `${route.routeTableId} ${route.destination} points at ${route.via}, outside the pair: left alone`,
      });
    }
  }
  if (routes === undefined) {
    alarms.push({ kind: 'routes-unreadable', detail: ROUTES_UNREADABLE });
  }
  if (streaks.unknownStreak >= UNKNOWN_ALARM_AFTER) {
    alarms.push({
      kind: 'signal-unknown',
      detail: `${memory.active} has had an unknown signal for ${streaks.unknownStreak} or more evaluations: ${verdicts[memory.active].reason}`,
    });
  }
  return alarms;
}

/** Alarms in order, without repeats (a blocker and a standing condition can say the same thing). */
function distinct(alarms: readonly Alarm[]): Alarm[] {
  const seen = new Set<string>();
  return alarms.filter((alarm) => {
    const key = `${alarm.kind}\u0000${alarm.detail}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * The memory to store after this run. Streaks always update (so a dry run shows what would happen next).
 * A failover or failback that is really carried out makes its target active, stamps lastFailoverAt and
 * resets the unknown streak (it belonged to the member traffic left); per-member streaks carry on as they
 * are. A repair changes no memory beyond the streaks. ENIs read this run are remembered.
 */
function nextMemory(ctx: Context, plan: Plan, dryRun: boolean): PairMemory {
  const { memory, observation, now, streaks } = ctx;
  const movedTo = !dryRun && (plan.kind === 'failover' || plan.kind === 'failback') ? plan.to : undefined;
  const seenEnis = Object.fromEntries(
    ROLES.flatMap((role) => {
      const eni = observation.enis[role];
      return eni === undefined ? [] : [[role, eni]];
    }),
  ) as Partial<Record<Role, string>>;
  const enis = { ...memory.enis, ...seenEnis };
  return {
    ...memory,
    unhealthyStreak: streaks.unhealthyStreak,
    healthyStreak: streaks.healthyStreak,
    unknownStreak: movedTo === undefined ? streaks.unknownStreak : 0,
    ...(movedTo !== undefined && { active: movedTo, lastFailoverAt: now }),
    ...(Object.keys(enis).length > 0 && { enis }),
  };
}

/**
 * Decide one pair: verdicts for both members, then the plan (design.md "Failover rules"), the alarms and the
 * memory to store. Pure: the same input always gives the same decision. Without an operator command the
 * automatic rules apply; with one, the command decides and a refusal is returned in `refusal`.
 */
export function decide(input: DecideInput): Decision {
  const { pair, observation, memory, now, dryRun, command } = input;
  const verdicts = {
    primary: evaluateMember({ pair, role: 'primary', observation, now }),
    standby: evaluateMember({ pair, role: 'standby', observation, now }),
  };
  const ctx: Context = {
    pair,
    observation,
    memory,
    now,
    verdicts,
    routes: analyseRoutes(pair, observation),
    streaks: nextStreaks(pair, memory, verdicts),
  };
  const outcome = command === undefined ? automatic(ctx) : commanded(ctx, command);
  return {
    pair: pair.name,
    plan: outcome.plan,
    alarms: distinct([...outcome.alarms, ...standingAlarms(ctx, outcome.plan)]),
    verdicts,
    memory: nextMemory(ctx, outcome.plan, dryRun),
    dryRun,
    ...(outcome.refusal !== undefined && { refusal: outcome.refusal }),
  };
}

/**
 * The member most managed routes point at (by ENI, or by instance id); primary on a tie or when no route
 * names a member. Used for a pair's very first memory, so that deploying the controller adopts traffic
 * where it is instead of moving it.
 */
export function inferActive(observation: PairObservation): Role {
  const counts: Record<Role, number> = { primary: 0, standby: 0 };
  for (const route of observation.routes ?? []) {
    const { target } = classifyRoute(route, observation);
    if (target === 'primary' || target === 'standby') counts[target] += 1;
  }
  return counts.standby > counts.primary ? 'standby' : 'primary';
}
