import type { PairConfig } from '../config/schema.ts';
import type { AgentReport } from '../domain/agent.ts';
import type { Alarm, Decision, MoveTrigger, Plan, Verdict } from '../domain/plan.ts';
import { ALARM_KINDS, isMove } from '../domain/plan.ts';
import type {
  Lease,
  MemberHealth,
  PairMemory,
  PairObservation,
  Pause,
  Role,
  UnknownAlarmKind,
  UnknownAlarmState,
} from '../domain/types.ts';
import { otherRole, ROLES } from '../domain/types.ts';
import { formatSeconds } from '../duration.ts';
import { countOf } from '../plural.ts';
import {
  type AgentView,
  agentSilentAlarms,
  countedText,
  daemonStep,
  nextAgentCounted,
  nextRunningSince,
  readAgent,
  unconfirmedNotes,
} from './agent.ts';
import { evaluateMember, SOFT_SIGNALS, type SoftSignal } from './health.ts';
import { analyseRoutes, classifyRoute, type RouteStatus, routesConverged, routeWrites } from './routes.ts';
import { readSilence, type SilenceView } from './silence.ts';

/**
 * The unknown alarms (signal-unknown, standby-unknown, routes-unreadable) are damped: raised after
 * UNKNOWN_ALARM_AFTER consecutive evaluations that could not read the signal, cleared only after
 * UNKNOWN_CLEAR_AFTER consecutive evaluations that could, spanning at least UNKNOWN_CLEAR_AFTER_MS (fast mode
 * evaluates six times a minute, so a count alone would clear within two minutes of flaky reads). The gap is
 * deliberate: reads that fail half the time (API throttling) raise the alarm once and keep it raised until
 * they have recovered, instead of paging at every failed read.
 */
export const UNKNOWN_ALARM_AFTER = 3;
/** See UNKNOWN_ALARM_AFTER. */
export const UNKNOWN_CLEAR_AFTER = 10;
/** See UNKNOWN_ALARM_AFTER. */
export const UNKNOWN_CLEAR_AFTER_MS = 10 * 60_000;

/** A failure of the primary within this long of its previous one doubles what automatic failback waits for. */
export const FAILBACK_DAMPING_WINDOW_MS = 60 * 60_000;
/** At most this many doublings: a flapping primary waits at most 8 x failbackAfter before failback. */
export const FAILBACK_DAMPING_MAX_DOUBLINGS = 3;

/** The unknown alarms, in the order they are reported. */
const UNKNOWN_ALARMS: readonly UnknownAlarmKind[] = [
  'signal-unknown',
  'standby-unknown',
  'routes-unreadable',
];

const ROUTES_UNREADABLE = 'the route tables could not be read, so no route is written';

/**
 * An operator's command for one pair: move its traffic to one member (`vpn-failover failover`, the resize
 * workflow), or hold its automatic moves for a while (`vpn-failover pause`) and lift that hold (`resume`).
 */
export type OperatorCommand =
  | {
      readonly action: 'failover';
      readonly to: Role;
      /** skip the target-health and maintenance-lease checks (never the route checks) */
      readonly force: boolean;
    }
  | {
      readonly action: 'pause';
      /** how long the hold lasts from now */
      readonly seconds: number;
      readonly reason: string;
      readonly by?: string;
    }
  | { readonly action: 'resume'; readonly by?: string };

/** An operator's failover command. */
export type FailoverCommand = Extract<OperatorCommand, { readonly action: 'failover' }>;

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
  /** the automatic move the operator's pause held back, in words (the plan is then an alarm plan) */
  readonly held?: string;
}

/** This run's view of the pair, shared by the rules below. */
interface Context {
  readonly pair: PairConfig;
  readonly observation: PairObservation;
  readonly memory: PairMemory;
  readonly now: number;
  /** decide and report only: a planned move does not happen */
  readonly dryRun: boolean;
  readonly verdicts: Readonly<Record<Role, Verdict>>;
  /** undefined when the route tables could not be read */
  readonly routes: readonly RouteStatus[] | undefined;
  readonly streaks: Streaks;
  readonly silence: SilenceView;
  readonly agent: AgentView;
  /** the operator's pause in force in this evaluation (as this run's command leaves it), if any */
  readonly pause: Pause | undefined;
}

interface Streaks {
  readonly unhealthyStreak: PairMemory['unhealthyStreak'];
  readonly healthyStreak: PairMemory['healthyStreak'];
  readonly unknownStreak: number;
  /** the agent reports that counted as an observation in this evaluation (their probe agreed) */
  readonly agentCounted: Readonly<Partial<Record<Role, AgentReport>>>;
}

const iso = (epochMs: number): string => new Date(epochMs).toISOString();

/** A live maintenance lease covering `role`, if any. */
function leaseOn(memory: PairMemory, role: Role, now: number): Lease | undefined {
  const lease = memory.lease;
  return lease !== undefined && lease.until > now && lease.member === role ? lease : undefined;
}

/** The stored pause when it still holds at `now`: a pause ends by itself, nothing is written for that. */
export function pauseInForce(memory: PairMemory, now: number): Pause | undefined {
  const pause = memory.pause;
  return pause !== undefined && pause.until > now ? pause : undefined;
}

/** A pause in words: who, until when, why. */
export const describePause = (pause: Pause): string =>
  `paused by ${pause.by ?? 'an operator'} until ${iso(pause.until)}: ${pause.reason}`;

/** The alarm a pause in force raises on every evaluation. */
export const pausedAlarm = (pause: Pause): Alarm => ({
  kind: 'paused',
  detail: `automatic moves held: ${describePause(pause)}`,
});

/** Milliseconds of cooldown left since the last move (0 when none is left or there never was a move). */
function cooldownLeft(ctx: Context): number {
  const last = ctx.memory.lastFailoverAt;
  return last === undefined ? 0 : Math.max(0, last + ctx.pair.cooldown * 1000 - ctx.now);
}

/**
 * The healthy evaluations automatic failback waits for: failbackAfter, doubled for each further failure of
 * the primary within the damping window of the one before (up to FAILBACK_DAMPING_MAX_DOUBLINGS), so a
 * primary that keeps failing must stay healthy longer before traffic returns to it. Once the window has
 * passed since its last failure, failbackAfter again.
 */
function failbackNeeds(pair: PairConfig, memory: PairMemory, now: number): number {
  const failures = memory.primaryFailures;
  if (failures === undefined || now - failures.lastAt > FAILBACK_DAMPING_WINDOW_MS) return pair.failbackAfter;
  return pair.failbackAfter * 2 ** Math.min(failures.count - 1, FAILBACK_DAMPING_MAX_DOUBLINGS);
}

/**
 * Streaks counting this evaluation. A soft signal's unhealthy streak grows on unhealthy (the daemon's by 2
 * when the member's agent report counts as a second observation, agent.ts), resets on healthy and holds on
 * unknown or absent (unknown is not evidence either way). The healthy streak is kept only where
 * automatic failback reads it: the primary's, while the standby carries traffic and failback is automatic,
 * counting evaluations healthy on every signal up to what failback needs; it is 0 everywhere else. So a
 * steady, healthy pair's memory stops changing and a steady tick writes nothing to the state store. The
 * unknown streak counts evaluations in which the active member had some unknown signal.
 */
function nextStreaks(
  pair: PairConfig,
  memory: PairMemory,
  verdicts: Readonly<Record<Role, Verdict>>,
  now: number,
  agent: AgentView,
): Streaks {
  const soft = (role: Role) =>
    Object.fromEntries(
      SOFT_SIGNALS.map((name) => {
        const previous = memory.unhealthyStreak[role][name];
        const health = verdicts[role].signals[name]?.health;
        // A member's agent report and this evaluation's probe agreeing are two observations (agent.ts).
        const step = name === 'daemon' ? daemonStep(agent, role, health) : 1;
        // Capped at the threshold: a member that stays down changes nothing stored, so a degraded pair's
        // ticks write no state.
        const next = Math.min(previous + step, pair.unhealthyThreshold);
        return [name, health === 'unhealthy' ? next : health === 'healthy' ? 0 : previous];
      }),
    ) as Record<SoftSignal, number>;
  const primaryHealthy =
    pair.failback === 'automatic' && memory.active === 'standby' && verdicts.primary.health === 'healthy'
      ? Math.min(memory.healthyStreak.primary + 1, failbackNeeds(pair, memory, now))
      : 0;
  const activeSignals = Object.values(verdicts[memory.active].signals);
  const agentCounted = Object.fromEntries(
    ROLES.flatMap((role) =>
      daemonStep(agent, role, verdicts[role].signals.daemon?.health) === 2
        ? [[role, agent.countable[role] as AgentReport]]
        : [],
    ),
  );
  return {
    agentCounted,
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
  /** an operator's force: the health and lease checks are reported as overridden instead of blocking */
  readonly force?: boolean;
  /** replaces the generic "not healthy" text (the far-end case of a soft failure) */
  readonly unhealthyDetail?: string;
  /**
   * The member losing traffic is certainly lost: a target that is running with status checks not impaired and
   * nothing positively unhealthy is good enough even if other signals read unknown (moved-to-unverified).
   */
  readonly acceptUnverified?: boolean;
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
  if ('plan' in attempt) return { plan: attempt.plan, alarms: attempt.alarms };
  return {
    plan: alarmPlan([...move.reasons, ...blockedReasons(move.to, attempt.blockers), ...trailer]),
    alarms: attempt.blockers.map((b) => b.alarm),
  };
}

/**
 * Whether `role` may take traffic off a certainly lost member without being verified healthy: it runs, EC2
 * reports no impaired status check, and no signal is positively unhealthy (its verdict is unknown, not
 * unhealthy). Unknown daemon or tunnel signals, or checks still initializing, do not stop it.
 */
function unverifiedButUsable(ctx: Context, role: Role): boolean {
  const instance = ctx.observation.instances[role];
  const statuses = [instance.systemStatus, instance.instanceStatus, instance.ebsStatus];
  return (
    ctx.verdicts[role].health === 'unknown' &&
    instance.found &&
    instance.state === 'running' &&
    !statuses.includes('impaired')
  );
}

/**
 * Plan pointing every managed route (and the Elastic IP) at `to`, or say what blocks it: a live lease on
 * `to`, `to` not positively healthy (unless the move accepts an unverified target and `to` qualifies, which
 * raises moved-to-unverified), unreadable route tables, or an unknown route-target ENI for `to`. With force,
 * the lease and health blocks become reasons instead. The cooldown is not checked here: it holds only
 * automatic failback, which checks it before asking for a move.
 */
function planMove(
  ctx: Context,
  move: MoveIntent,
):
  | { readonly plan: MovePlan; readonly alarms: readonly Alarm[] }
  | { readonly blockers: readonly Blocker[] } {
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
  const unverified =
    target.health !== 'healthy' && move.acceptUnverified === true && unverifiedButUsable(ctx, to);
  if (target.health !== 'healthy' && !unverified) {
    blockers.push({
      alarm: {
        kind: 'no-healthy-target',
        detail: move.unhealthyDetail ?? `${to} ${pair[to].instanceId} is ${target.health}: ${target.reason}`,
      },
      forceable: true,
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
  const unverifiedText = `${to} ${pair[to].instanceId} is not verified healthy (${target.reason}), but it runs with status checks not impaired and nothing about it is unhealthy: better than a certain blackhole`;
  const reasons = [
    ...move.reasons,
    ...overridden.map((b) => `forced past: ${b.alarm.detail}`),
    ...(unverified ? [unverifiedText] : []),
    `${countOf(writes.length, 'route write')} to ${eni}${moveElasticIp ? ', Elastic IP follows' : ''}`,
  ];
  // A repair finishes a move onto the active member, so the routes it rewrites come from the other one.
  const from = move.kind === 'repair-routes' ? otherRole(to) : memory.active;
  const common = { from, to, reasons, routes: writes, targetEni: eni, moveElasticIp };
  return {
    plan:
      move.kind === 'repair-routes'
        ? { kind: 'repair-routes', ...common }
        : { kind: move.kind, trigger: move.trigger, ...common },
    alarms: unverified ? [{ kind: 'moved-to-unverified', detail: unverifiedText }] : [],
  };
}

const alarmPlan = (reasons: readonly string[]): Plan => ({ kind: 'alarm', reasons });

const blockedReasons = (to: Role, blockers: readonly Blocker[]): string[] =>
  blockers.map((b) => `not moving to ${to}: ${b.alarm.detail}`);

/** The kind of a move between members: back to the primary is a failback (plan.ts). */
const moveKind = (to: Role): 'failover' | 'failback' => (to === 'primary' ? 'failback' : 'failover');

/**
 * Repair: hard loss, soft failure and failback found no move to make (or one waits): keep traffic where it
 * is, and finish any move that was interrupted half way by pointing the stray routes (and the Elastic IP)
 * back at the active member.
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
          `${active} carries traffic: ${countOf(managed, 'managed route')} on ${observation.enis[active] ?? pair[active].instanceId}`,
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
    ...(stray.length > 0 ? [`${countOf(stray.length, 'managed route')} not on ${active}`] : []),
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
  });
  if ('plan' in attempt) return { plan: attempt.plan, alarms: attempt.alarms };
  return {
    plan: alarmPlan([...notes, `${what}`, ...blockedReasons(active, attempt.blockers)]),
    alarms: attempt.blockers.map((b) => b.alarm),
  };
}

/** The daemon probe counts installed IPsec SAs (not only that a process runs). */
const probeCountsSas = (pair: PairConfig): boolean =>
  pair.probe.kind === 'strongswan' || pair.probe.kind === 'libreswan';

/** How a soft signal's streak got where it is, when an agent report counted in it this evaluation. */
const helped = (ctx: Context, role: Role, name: SoftSignal): string => {
  const report = name === 'daemon' ? ctx.streaks.agentCounted[role] : undefined;
  return report === undefined ? '' : countedText(report);
};

/** Automatic rules, in order: hard loss or scheduled event, soft failure, automatic failback, repair. */
function automatic(ctx: Context): Outcome {
  const { pair, memory, verdicts, streaks, now } = ctx;
  const active = memory.active;
  const standby = otherRole(active);
  const current = verdicts[active];
  const notes: string[] = [
    ...ctx.agent.notes,
    ...unconfirmedNotes(ctx.agent, (role) => verdicts[role].signals.daemon?.health),
  ];

  // Hard loss (or an imminent scheduled event) moves at once, cooldown or not.
  const scheduled = current.signals.instance?.scheduled === true;
  if (current.health === 'unhealthy' && (current.hard || scheduled)) {
    const trigger: MoveTrigger = current.hard ? 'hard-loss' : 'scheduled-event';
    const reasons = [
      `${active} ${current.hard ? 'lost' : 'has a scheduled event'}: ${current.signals.instance?.reason}`,
    ];
    return moveOrAlarm(
      ctx,
      { to: standby, kind: moveKind(standby), trigger, reasons, acceptUnverified: current.hard },
      [`traffic stays on ${active}`],
    );
  }

  // Soft failure: a soft signal unhealthy for unhealthyThreshold evaluations, and healthy on the other
  // member. Moving away from a failing member is never held by the cooldown.
  const soft = SOFT_SIGNALS.filter((name) => current.signals[name]?.health === 'unhealthy');
  const streaked = soft.filter((name) => streaks.unhealthyStreak[active][name] >= pair.unhealthyThreshold);
  // Probe over metric: a probe that counts installed SAs and passed in this evaluation sees the tunnels
  // now, while the tunnel metric's datapoints lag by a period or more; so the metric alone does not move
  // traffic off a member whose probe passes. A systemd probe cannot see SAs, so it never overrides the metric.
  const probeSeesTunnels = probeCountsSas(pair) && current.signals.daemon?.health === 'healthy';
  const failing = probeSeesTunnels ? streaked.filter((name) => name !== 'tunnel') : streaked;
  if (probeSeesTunnels && streaked.includes('tunnel')) {
    notes.push(
      `${active} tunnel unhealthy x${streaks.unhealthyStreak[active].tunnel} (${current.signals.tunnel?.reason}), but its ${pair.probe.kind} probe counts installed SAs now and passed: the probe wins, traffic stays`,
    );
  }
  if (failing.length > 0) {
    const reasons = failing.map(
      (name) =>
        `${active} ${name} unhealthy x${streaks.unhealthyStreak[active][name]}${helped(ctx, active, name)}: ${current.signals[name]?.reason}`,
    );
    // If the standby's same signal is down too (the far end is down), moving helps no one.
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
        ...(unhealthyDetail !== undefined && { unhealthyDetail }),
      },
      [`traffic stays on ${active}`],
    );
  }
  for (const name of soft.filter((name) => !streaked.includes(name))) {
    notes.push(
      `${active} ${name} unhealthy ${streaks.unhealthyStreak[active][name]}/${pair.unhealthyThreshold}${helped(ctx, active, name)}: waiting`,
    );
  }
  if (current.health === 'unknown') {
    const n = streaks.unknownStreak;
    const evaluations = n >= UNKNOWN_ALARM_AFTER ? `${n} or more evaluations` : countOf(n, 'evaluation');
    notes.push(`${active} unknown for ${evaluations} (${current.reason}): unknown never moves traffic`);
  }

  // Failback to the primary: automatic only when configured, after the primary has stayed healthy long
  // enough (longer each time it failed again soon after), once the cooldown has passed.
  if (active === 'standby') {
    if (pair.failback === 'manual') {
      notes.push('traffic stays on the standby until an operator fails back (failback: manual)');
    } else {
      const healthy = streaks.healthyStreak.primary;
      const needs = failbackNeeds(pair, memory, now);
      const damped =
        needs > pair.failbackAfter
          ? ` (failbackAfter ${pair.failbackAfter} doubled: the primary failed ${memory.primaryFailures?.count} times in a row, each within ${formatSeconds(FAILBACK_DAMPING_WINDOW_MS / 1000)} of the last)`
          : '';
      const left = cooldownLeft(ctx);
      const lease = leaseOn(memory, 'primary', now);
      if (healthy < needs) {
        notes.push(`primary healthy ${healthy}/${needs} evaluations before automatic failback${damped}`);
      } else if (left > 0) {
        notes.push(`automatic failback waits ${formatSeconds(left / 1000)} for the cooldown`);
      } else if (lease !== undefined) {
        notes.push(
          `automatic failback waits for the maintenance lease held by ${lease.owner} on the primary`,
        );
      } else {
        const reasons = [`primary healthy for ${healthy} evaluations (needs ${needs}${damped})`];
        return moveOrAlarm(ctx, {
          to: 'primary',
          kind: 'failback',
          trigger: 'automatic-failback',
          reasons,
        });
      }
    }
  }

  // No move: keep (or put back) everything on the active member.
  return settle(ctx, notes);
}

/**
 * The automatic rules, unless the operator paused the pair: then every automatic move (failover on a hard
 * loss, a scheduled event or a soft failure, automatic failback, and repairing routes or the Elastic IP back
 * onto the active member) is held. The plan becomes an alarm plan giving the move's reasons and that it was
 * held; the alarms a blocked move raises still are (moved-to-unverified is not: nothing moved).
 */
function automaticUnlessPaused(ctx: Context): Outcome {
  const outcome = automatic(ctx);
  const { plan } = outcome;
  if (ctx.pause === undefined || !isMove(plan)) return outcome;
  const held =
    plan.kind === 'repair-routes'
      ? `repair ${countOf(plan.routes.length, 'route')}${plan.moveElasticIp ? ' and the Elastic IP' : ''} onto ${plan.to}`
      : `${plan.kind === 'failover' ? 'fail over' : 'fail back'} to ${plan.to} (${plan.trigger})`;
  return {
    plan: alarmPlan([...plan.reasons, `would ${held}, but the pair is ${describePause(ctx.pause)}`]),
    alarms: outcome.alarms.filter((alarm) => alarm.kind !== 'moved-to-unverified'),
    held,
  };
}

/** Operator command: moves traffic to the named member, or is refused with the reason. */
function commanded(ctx: Context, command: FailoverCommand): Outcome {
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
  const common = { to, reasons: [said], force };
  const attempt = planMove(
    ctx,
    to === memory.active
      ? { ...common, kind: 'repair-routes' }
      : { ...common, kind: moveKind(to), trigger: 'manual' },
  );
  if ('plan' in attempt) return { plan: attempt.plan, alarms: attempt.alarms };
  const hint = attempt.blockers.some((b) => b.forceable)
    ? ' (force overrides the health and lease checks)'
    : '';
  const refusal = `refused failover of ${pair.name} to ${to}: ${attempt.blockers.map((b) => b.alarm.detail).join('; ')}${hint}`;
  return { plan: alarmPlan([said, ...blockedReasons(to, attempt.blockers)]), alarms: [], refusal };
}

/** The member carrying traffic once this run's plan is carried out (a dry run reports what a real run would). */
/** The member carrying traffic once this run is done: a move's target, unless this is a dry run (nothing moves). */
const carryingAfter = (ctx: Context, plan: Plan): Role =>
  !ctx.dryRun && (plan.kind === 'failover' || plan.kind === 'failback') ? plan.to : ctx.memory.active;

/**
 * Conditions raised at once whatever the plan, each saying what is positively true: the member not carrying
 * traffic is unhealthy (no redundancy), both are, routes point outside the pair, or the member carrying
 * traffic is lost and this run leaves traffic on it (the move is blocked, or this is a dry run).
 */
function standingAlarms(ctx: Context, outcome: Outcome, dryRun: boolean): Alarm[] {
  const { plan } = outcome;
  const { pair, verdicts, routes, memory } = ctx;
  const alarms: Alarm[] = [];
  const spare = otherRole(carryingAfter(ctx, plan));
  if (verdicts[spare].health === 'unhealthy') {
    alarms.push({
      kind: 'standby-unhealthy',
      detail: `${spare} ${pair[spare].instanceId}, the member not carrying traffic, is unhealthy (${verdicts[spare].reason}): no redundancy`,
    });
  }
  if (ROLES.every((role) => verdicts[role].health === 'unhealthy')) {
    alarms.push({
      kind: 'both-unhealthy',
      detail: ROLES.map((role) => `${role} unhealthy (${verdicts[role].reason})`).join('; '),
    });
  }
  const lost = verdicts[memory.active];
  const movedOff = !dryRun && (plan.kind === 'failover' || plan.kind === 'failback');
  if (lost.hard && !movedOff) {
    const why =
      outcome.held !== undefined && ctx.pause !== undefined
        ? `it would ${outcome.held}, but the pair is ${describePause(ctx.pause)}`
        : dryRun
          ? `a dry run moves nothing (it would ${plan.kind === 'failover' || plan.kind === 'failback' ? `move traffic to ${plan.to}` : 'not move traffic'})`
          : 'no move off it can be made';
    alarms.push({
      kind: 'traffic-blackholed',
      detail: `${memory.active} ${pair[memory.active].instanceId} carries traffic and is lost (${lost.signals.instance?.reason}); ${why}`,
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
  return alarms;
}

/** Whether each unknown alarm's condition holds in this evaluation, and what to say when it does. */
function unknownConditions(ctx: Context, plan: Plan): Readonly<Record<UnknownAlarmKind, string | undefined>> {
  const { pair, verdicts, routes } = ctx;
  const carrying = carryingAfter(ctx, plan);
  const spare = otherRole(carrying);
  const unread = Object.entries(verdicts[carrying].signals).filter(
    ([, signal]) => signal.health === 'unknown',
  );
  return {
    'signal-unknown':
      unread.length === 0
        ? undefined
        : `${carrying} ${pair[carrying].instanceId}, the member carrying traffic, has signals that cannot be read: ${unread.map(([name, signal]) => `${name} (${signal.reason})`).join('; ')}`,
    'standby-unknown':
      verdicts[spare].health === 'unknown'
        ? `${spare} ${pair[spare].instanceId}, the member not carrying traffic, cannot be read (${verdicts[spare].reason}): redundancy unverified`
        : undefined,
    'routes-unreadable': routes === undefined ? ROUTES_UNREADABLE : undefined,
  };
}

/**
 * One damped alarm's next state: raised after UNKNOWN_ALARM_AFTER unreadable evaluations in a row, cleared
 * after UNKNOWN_CLEAR_AFTER readable ones in a row that span UNKNOWN_CLEAR_AFTER_MS.
 */
function nextUnknownAlarm(
  previous: UnknownAlarmState | undefined,
  unreadable: boolean,
  now: number,
): UnknownAlarmState {
  const raised = previous?.raised ?? false;
  const against = raised !== unreadable;
  if (!against) return { raised, streak: 0 };
  const streak = (previous?.streak ?? 0) + 1;
  const since = previous?.streak ? (previous.since ?? now) : now;
  const flips = raised
    ? streak >= UNKNOWN_CLEAR_AFTER && now - since >= UNKNOWN_CLEAR_AFTER_MS
    : streak >= UNKNOWN_ALARM_AFTER;
  if (flips) return { raised: !raised, streak: 0 };
  return raised ? { raised, streak, since } : { raised, streak };
}

/**
 * The unknown alarms after this evaluation, with the memory that damps them: absent entries are clear with
 * no streak, so a steady pair's memory stays empty here. A raised alarm waiting to clear keeps its last
 * detail, marked with how long it has read again.
 */
function unknownAlarms(
  ctx: Context,
  plan: Plan,
): { readonly alarms: Alarm[]; readonly memory: Partial<Record<UnknownAlarmKind, UnknownAlarmState>> } {
  const conditions = unknownConditions(ctx, plan);
  const alarms: Alarm[] = [];
  const memory: Partial<Record<UnknownAlarmKind, UnknownAlarmState>> = {};
  for (const kind of UNKNOWN_ALARMS) {
    const detail = conditions[kind];
    const next = nextUnknownAlarm(ctx.memory.unknownAlarms?.[kind], detail !== undefined, ctx.now);
    if (next.raised || next.streak > 0) memory[kind] = next;
    if (next.raised) {
      alarms.push({
        kind,
        detail:
          detail ??
          `readable again for ${next.streak} evaluations; it clears after ${UNKNOWN_CLEAR_AFTER} in a row over ${formatSeconds(UNKNOWN_CLEAR_AFTER_MS / 1000)}`,
      });
    }
  }
  return { alarms, memory };
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

/** A move off the primary because it failed (not an operator's move or a scheduled event). */
const primaryFailed = (plan: Plan): boolean =>
  (plan.kind === 'failover' || plan.kind === 'failback') &&
  plan.from === 'primary' &&
  (plan.trigger === 'hard-loss' || plan.trigger === 'soft-failure');

/**
 * The memory to store after this run. Streaks always update (so a dry run shows what would happen next).
 * A failover or failback that is really carried out makes its target active, stamps lastFailoverAt and
 * resets the unknown streak (it belonged to the member traffic left); when it moved off a failed primary it
 * also counts that failure for failback damping. Per-member streaks carry on as they are. A repair changes
 * no memory beyond the streaks. ENIs are remembered per member instance id: those read this run, those
 * remembered for the current members, and none for instances no longer in the pair. The alarm kinds raised
 * and the members' health are kept as values only, so a pair steadily healthy or steadily alarmed stores the
 * same memory tick after tick.
 */
function nextMemory(
  ctx: Context,
  plan: Plan,
  dryRun: boolean,
  damped: Partial<Record<UnknownAlarmKind, UnknownAlarmState>>,
  alarms: readonly Alarm[],
): PairMemory {
  const { pair, memory, observation, now, streaks } = ctx;
  const { unknownAlarms: _previous, ...kept } = memory;
  const moved = !dryRun && (plan.kind === 'failover' || plan.kind === 'failback');
  const movedTo = moved ? plan.to : undefined;
  const remembered = (
    read: (role: Role) => string | undefined,
    stored: Readonly<Record<string, string>> | undefined,
  ) =>
    Object.fromEntries(
      ROLES.flatMap((role) => {
        const id = pair[role].instanceId;
        const value = read(role) ?? stored?.[id];
        return value === undefined ? [] : [[id, value]];
      }),
    );
  const enis = remembered((role) => observation.enis[role], memory.enis);
  const addresses = remembered((role) => observation.addresses?.[role], memory.addresses);
  const { silence } = ctx;
  const last = memory.primaryFailures;
  const primaryFailures =
    moved && primaryFailed(plan)
      ? {
          count:
            last !== undefined && now - last.lastAt <= FAILBACK_DAMPING_WINDOW_MS
              ? Math.min(last.count + 1, FAILBACK_DAMPING_MAX_DOUBLINGS + 1)
              : 1,
          lastAt: now,
        }
      : last;
  const {
    enis: _enis,
    addresses: _addresses,
    primaryFailures: _failures,
    peerReached: _reached,
    silenceStreak: _silence,
    agentCounted: _counted,
    runningSince: _running,
    pause: _pause,
    alarms: _alarms,
    verdicts: _verdicts,
    ...rest
  } = kept;
  const raised = ALARM_KINDS.filter((kind) => alarms.some((alarm) => alarm.kind === kind));
  const agentCounted = nextAgentCounted(pair, observation, memory, streaks.agentCounted);
  const runningSince = nextRunningSince(pair, observation, memory, now);
  return {
    ...rest,
    unhealthyStreak: streaks.unhealthyStreak,
    healthyStreak: streaks.healthyStreak,
    unknownStreak: movedTo === undefined ? streaks.unknownStreak : 0,
    ...(Object.keys(damped).length > 0 && { unknownAlarms: damped }),
    ...(movedTo !== undefined && { active: movedTo, lastFailoverAt: now }),
    ...(primaryFailures !== undefined && { primaryFailures }),
    ...(Object.keys(enis).length > 0 && { enis }),
    ...(Object.keys(addresses).length > 0 && { addresses }),
    ...(silence.peerReached.length > 0 && { peerReached: silence.peerReached }),
    ...(ROLES.some((role) => silence.streak[role] > 0) && { silenceStreak: silence.streak }),
    ...(Object.keys(agentCounted).length > 0 && { agentCounted }),
    ...(Object.keys(runningSince).length > 0 && { runningSince }),
    // A pause that has run out is dropped with this write (it stopped holding at its end either way).
    ...(ctx.pause !== undefined && { pause: ctx.pause }),
    ...(raised.length > 0 && { alarms: raised }),
    verdicts: { primary: healthOf(ctx.verdicts.primary), standby: healthOf(ctx.verdicts.standby) },
  };
}

/** A verdict's health values, without the reasons. */
const healthOf = (verdict: Verdict): MemberHealth => ({
  health: verdict.health,
  signals: Object.fromEntries(Object.entries(verdict.signals).map(([name, s]) => [name, s.health])),
});

/**
 * The pause in force once this run's command (if any) is taken: a pause command's new hold (replacing any
 * earlier one), none after resume, else the stored one while it lasts.
 */
function pauseAfter(
  memory: PairMemory,
  now: number,
  command: OperatorCommand | undefined,
): Pause | undefined {
  if (command?.action === 'pause') {
    return {
      until: now + command.seconds * 1000,
      reason: command.reason,
      ...(command.by !== undefined && { by: command.by }),
      at: now,
    };
  }
  return command?.action === 'resume' ? undefined : pauseInForce(memory, now);
}

/**
 * The plan for this run: the command's, or the automatic rules (held while paused). A pause or resume command
 * is followed by the automatic rules as they stand under it (a resume may move at once), its reasons first.
 */
function outcomeOf(ctx: Context, command: OperatorCommand | undefined): Outcome {
  if (command === undefined) return automaticUnlessPaused(ctx);
  if (command.action === 'failover') {
    const outcome = commanded(ctx, command);
    if (ctx.pause === undefined || outcome.refusal !== undefined) return outcome;
    const note = `the pair stays ${describePause(ctx.pause)} (automatic moves held; resume lifts it)`;
    return { ...outcome, plan: { ...outcome.plan, reasons: [...outcome.plan.reasons, note] } };
  }
  const previous = pauseInForce(ctx.memory, ctx.now);
  const said =
    command.action === 'pause'
      ? `operator command: pause for ${formatSeconds(command.seconds)} by ${command.by ?? 'an operator'}: ${command.reason}${previous !== undefined ? ` (replaces: ${describePause(previous)})` : ''}`
      : `operator command: resume by ${command.by ?? 'an operator'}${previous !== undefined ? ` (lifts: ${describePause(previous)})` : ': the pair was not paused'}`;
  const outcome = automaticUnlessPaused(ctx);
  return { ...outcome, plan: { ...outcome.plan, reasons: [said, ...outcome.plan.reasons] } };
}

/**
 * Decide one pair: verdicts for both members, then the plan, the alarms and the memory to store. Pure: the
 * same input always gives the same decision. Without an operator command the automatic rules apply, and
 * while an operator's pause holds they move nothing (alarm `paused` on every evaluation); with a failover
 * command, the command decides (pause or not) and a refusal is returned in `refusal`; a pause or resume
 * command sets or lifts the hold, then the automatic rules apply under it. A dry run carries the same alarms
 * a real run would, plus traffic-blackholed when it leaves traffic on a lost member.
 */
export function decide(input: DecideInput): Decision {
  const { pair, observation, memory, now, dryRun, command } = input;
  const silence = readSilence(pair, observation, memory);
  const agent = readAgent(pair, observation, memory, now);
  const verdicts = {
    primary: evaluateMember({ pair, role: 'primary', observation, now, silence: silence.findings.primary }),
    standby: evaluateMember({ pair, role: 'standby', observation, now, silence: silence.findings.standby }),
  };
  const ctx: Context = {
    pair,
    observation,
    memory,
    dryRun,
    now,
    verdicts,
    routes: analyseRoutes(pair, observation),
    streaks: nextStreaks(pair, memory, verdicts, now, agent),
    silence,
    agent,
    pause: pauseAfter(memory, now, command),
  };
  const outcome = outcomeOf(ctx, command);
  const damped = unknownAlarms(ctx, outcome.plan);
  const paused: Alarm[] =
    ctx.pause === undefined || outcome.refusal !== undefined ? [] : [pausedAlarm(ctx.pause)];
  const alarms = distinct([
    ...outcome.alarms,
    ...standingAlarms(ctx, outcome, dryRun),
    ...damped.alarms,
    ...agentSilentAlarms(pair, observation, memory, now),
    ...paused,
  ]);
  return {
    pair: pair.name,
    plan: outcome.plan,
    alarms,
    verdicts,
    memory: nextMemory(ctx, outcome.plan, dryRun, damped.memory, alarms),
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
