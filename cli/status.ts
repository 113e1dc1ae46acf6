import type { Command } from 'commander';
import type { OperatorClients } from '../shared/aws/clients.ts';
import { type AlarmState, readAlarms } from '../shared/aws/cloudwatch.ts';
import { type HistoryEntry, StateStore } from '../shared/aws/state-store.ts';
import type { Clock } from '../shared/clock.ts';
import { loadConfigFile } from '../shared/config/file.ts';
import { configHash } from '../shared/config/load.ts';
import type { Config, PairConfig } from '../shared/config/schema.ts';
import { observePairs } from '../shared/controller/observe.ts';
import { evaluateMember } from '../shared/decide/health.ts';
import { analyseRoutes, type RouteStatus } from '../shared/decide/routes.ts';
import { ALARM_KINDS, type Verdict } from '../shared/domain/plan.ts';
import {
  type MemberHealth,
  type PairMemory,
  type PairObservation,
  ROLES,
  type Role,
} from '../shared/domain/types.ts';
import { parseDurationSeconds } from '../shared/duration.ts';
import { silentLogger } from '../shared/logger.ts';
import { countOf } from '../shared/plural.ts';
import {
  CliError,
  clientsFor,
  clockOf,
  type Deployment,
  describeError,
  interruptOnSigint,
  OPERATOR_EXIT,
  type OperatorDeps,
  type OperatorOptions,
  pairOf,
  requireDeployment,
  runOperator,
  sleepUnless,
  stackNameOf,
  withConfigOption,
  withOperatorOptions,
} from './operator.ts';
import type { CliIo } from './simulate.ts';

/**
 * `vpn-failover status [PAIR] [--watch [SECONDS]]`: read-only. Per pair: where traffic is (the routes
 * themselves), each member's instance state and signals judged now by the controller's own rules from EC2 and
 * CloudWatch, beside the verdict and signals the controller last decided (its probe's daemon signal included)
 * and its counts of failed evaluations, from the state table; the alarms raised, the maintenance lease or
 * operator pause, and the last move and why. The daemon is not probed: SSM Run Command runs a command on the
 * member, which is not a read; the controller's last look is shown instead.
 */

/** The options commander parses for status. */
export interface StatusOptions extends OperatorOptions {
  readonly config: string;
  /** true (no value) or a number of seconds */
  readonly watch?: string | boolean;
}

/** Seconds between two redraws of --watch when no number is given. */
export const DEFAULT_WATCH_SECONDS = 10;
/** How many of the pair's newest history records are read to find the last move. */
const LAST_MOVE_LOOKBACK = 25;

/** One managed route as status shows it. */
export interface StatusRoute {
  readonly routeTable: string;
  readonly destination: string;
  /** primary, standby, missing, orphaned or foreign */
  readonly to: string;
  readonly via: string;
  readonly blackhole: boolean;
}

/** One member as status shows it. */
export interface StatusMember {
  readonly instanceId: string;
  readonly state?: string;
  readonly systemStatus?: string;
  readonly instanceStatus?: string;
  /** the verdict from what EC2 and CloudWatch say now (the daemon is not probed) */
  readonly health: string;
  readonly reason: string;
  readonly signals: Readonly<Record<string, { readonly health: string; readonly reason: string }>>;
  /** the controller's consecutive unhealthy evaluations, as last stored, per soft signal */
  readonly unhealthyCount: { readonly daemon: number; readonly tunnel: number };
  /**
   * the verdict and each signal's health as the controller last stored them; absent before its first run for
   * the pair (or when its state was written by a version that did not store them)
   */
  readonly decided?: MemberHealth;
}

/** The last traffic move recorded for a pair. */
export interface StatusMove {
  readonly at: string;
  readonly plan: string;
  readonly trigger?: string;
  readonly from?: string;
  readonly to?: string;
  readonly reasons: readonly string[];
}

/** One pair as status shows it. */
export interface StatusPair {
  readonly pair: string;
  /** where the routes send traffic: a member, split (some on each), or unknown (tables unreadable) */
  readonly traffic: Role | 'split' | 'none' | 'unknown';
  /** the member the controller intends to carry traffic (state table); absent before its first run */
  readonly intended?: Role;
  readonly routes: readonly StatusRoute[];
  readonly members: Readonly<Record<Role, StatusMember>>;
  /** the alarm kinds the controller's last evaluation raised, as stored (paused only while the pause lasts) */
  readonly alarms: readonly string[];
  readonly lease?: { readonly owner: string; readonly until: string; readonly member?: string };
  readonly pause?: {
    readonly until: string;
    readonly reason: string;
    readonly by?: string;
    readonly at: string;
  };
  readonly lastMove?: StatusMove;
  /** what could not be read, one line each */
  readonly problems: readonly string[];
}

/** The whole report: the deployment, its alarms raised, and every pair asked for. */
export interface StatusReport {
  readonly at: string;
  readonly stack: string;
  readonly deployment: string;
  /** the deployment's CloudWatch alarms (`<deployment>.alarm.*`) in ALARM; undefined when unreadable */
  readonly alarms?: readonly { readonly name: string; readonly since?: string; readonly reason?: string }[];
  /** set when the configuration file is not the one deployed (ConfigHash differs) */
  readonly configDrift?: string;
  readonly pairs: readonly StatusPair[];
  readonly problems: readonly string[];
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** The pair as the status judges it: its probe is not run, so its daemon signal is left to the stored counts. */
const unprobed = (pair: PairConfig): PairConfig => ({ ...pair, probe: { kind: 'none' } });

/** The CloudWatch alarm names of a deployment's alarm kinds start with this (infra/telemetry.ts alarmName.kind). */
export const alarmKindPrefix = (deployment: string): string => `${deployment}.alarm.`;

/** Read everything status shows, for the given pairs of the configuration. */
export async function readStatus(
  clients: OperatorClients,
  deployment: Deployment,
  config: Config,
  pairs: readonly PairConfig[],
  clock: Clock,
): Promise<StatusReport> {
  const store = new StateStore({ dynamo: clients.dynamo, tableName: deployment.tableName, clock });
  const stored = await store.loadPairs(pairs.map((p) => p.name));
  // A pair the controller never wrote reads as version 0 with initial memory: no intent of its own yet.
  const written = (name: string): PairMemory | undefined => {
    const pair = stored.get(name);
    return pair !== undefined && pair.version > 0 ? pair.memory : undefined;
  };
  const readOnly = pairs.map(unprobed);
  const [observations, alarms, histories] = await Promise.all([
    observePairs(
      {
        clients,
        config: { ...config, pairs: readOnly },
        tableName: deployment.tableName,
        probeDocument: deployment.probeDocument ?? '',
        clock,
        log: silentLogger,
      },
      readOnly,
      new Map(
        pairs.flatMap((p) => (written(p.name) ? [[p.name, written(p.name) as PairMemory] as const] : [])),
      ),
    ),
    readAlarms(clients.cloudwatch, alarmKindPrefix(deployment.deploymentName)).then(
      (all) => ({ raised: all.filter((a) => a.state === 'ALARM') }),
      (error: unknown) => ({ error: (error as Error).message }),
    ),
    Promise.all(
      pairs.map((p) =>
        store.listHistory(p.name, LAST_MOVE_LOOKBACK).then(
          (entries) => ({ entries }),
          (error: unknown) => ({ error: (error as Error).message }),
        ),
      ),
    ),
  ]);
  const now = clock.now();
  const problems: string[] = [];
  if ('error' in alarms) problems.push(`CloudWatch alarms not readable: ${alarms.error}`);
  const hash = configHash(config);
  return {
    at: iso(now),
    stack: deployment.stackName,
    deployment: deployment.deploymentName,
    ...('raised' in alarms ? { alarms: alarms.raised.map(alarmShown) } : {}),
    ...(deployment.configHash !== undefined && deployment.configHash !== hash
      ? {
          configDrift: `the configuration file (ConfigHash ${hash}) is not the one deployed (${deployment.configHash})`,
        }
      : {}),
    pairs: pairs.map((pair, i) => {
      const history = histories[i] ?? { entries: [] };
      return pairStatus(
        pair,
        readOnly[i] as PairConfig,
        observations.get(pair.name) as PairObservation,
        written(pair.name),
        history,
        now,
      );
    }),
    problems,
  };
}

const alarmShown = (alarm: AlarmState) => ({
  name: alarm.name,
  ...(alarm.since !== undefined ? { since: iso(alarm.since) } : {}),
  ...(alarm.reason !== undefined ? { reason: alarm.reason } : {}),
});

function pairStatus(
  pair: PairConfig,
  judged: PairConfig,
  observation: PairObservation,
  memory: PairMemory | undefined,
  history: { readonly entries: readonly HistoryEntry[] } | { readonly error: string },
  now: number,
): StatusPair {
  const problems: string[] = [];
  const routes = analyseRoutes(pair, observation);
  if (routes === undefined) problems.push('route tables not readable');
  const verdicts = Object.fromEntries(
    ROLES.map((role) => [role, evaluateMember({ pair: judged, role, observation, now })]),
  ) as Record<Role, Verdict>;
  const lease = memory?.lease !== undefined && memory.lease.until > now ? memory.lease : undefined;
  const pause = pauseOf(memory, now);
  // The damped alarms' own state as well, for items stored before the raised kinds were.
  const raised = new Set<string>([
    ...(memory?.alarms ?? []).filter((kind) => kind !== 'paused'),
    ...Object.entries(memory?.unknownAlarms ?? {}).flatMap(([kind, state]) => (state?.raised ? [kind] : [])),
    ...(pause ? ['paused'] : []),
  ]);
  const alarms = ALARM_KINDS.filter((kind) => raised.has(kind));
  if ('error' in history) problems.push(`history not readable: ${history.error}`);
  const lastMove = 'entries' in history ? lastMoveOf(history.entries) : undefined;
  return {
    pair: pair.name,
    traffic: routes === undefined ? 'unknown' : trafficOf(routes),
    ...(memory !== undefined ? { intended: memory.active } : {}),
    routes: (routes ?? []).map((r) => ({
      routeTable: r.routeTableId,
      destination: r.destination,
      to: r.target,
      via: r.via,
      blackhole: r.blackhole,
    })),
    members: Object.fromEntries(
      ROLES.map((role) => {
        const instance = observation.instances[role];
        const verdict = verdicts[role];
        const member: StatusMember = {
          instanceId: pair[role].instanceId,
          ...(instance.found ? {} : { state: 'not found' }),
          ...(instance.state !== undefined ? { state: instance.state } : {}),
          ...(instance.systemStatus !== undefined ? { systemStatus: instance.systemStatus } : {}),
          ...(instance.instanceStatus !== undefined ? { instanceStatus: instance.instanceStatus } : {}),
          health: verdict.health,
          reason: verdict.reason,
          signals: Object.fromEntries(
            Object.entries(verdict.signals).map(([name, s]) => [
              name,
              { health: s.health, reason: s.reason },
            ]),
          ),
          unhealthyCount: {
            daemon: memory?.unhealthyStreak[role].daemon ?? 0,
            tunnel: memory?.unhealthyStreak[role].tunnel ?? 0,
          },
          ...(memory?.verdicts !== undefined ? { decided: memory.verdicts[role] } : {}),
        };
        return [role, member];
      }),
    ) as Record<Role, StatusMember>,
    alarms,
    ...(lease
      ? {
          lease: {
            owner: lease.owner,
            until: iso(lease.until),
            ...(lease.member !== undefined ? { member: lease.member } : {}),
          },
        }
      : {}),
    ...(pause ? { pause } : {}),
    ...(lastMove ? { lastMove } : {}),
    problems,
  };
}

/** The operator's pause as stored, while it lasts. */
function pauseOf(memory: PairMemory | undefined, now: number): StatusPair['pause'] {
  const pause = memory?.pause;
  if (pause === undefined || pause.until <= now) return undefined;
  return {
    until: iso(pause.until),
    reason: pause.reason,
    ...(pause.by !== undefined ? { by: pause.by } : {}),
    at: iso(pause.at),
  };
}

/** Where the routes send traffic. */
function trafficOf(routes: readonly RouteStatus[]): StatusPair['traffic'] {
  const on = new Set(routes.map((r) => r.target));
  const members = ROLES.filter((role) => on.has(role));
  if (members.length === 2) return 'split';
  return members[0] ?? 'none';
}

const MOVES: ReadonlySet<unknown> = new Set(['failover', 'failback', 'repair-routes']);

/** The newest move in history entries listed newest first. */
function lastMoveOf(entries: readonly HistoryEntry[]): StatusMove | undefined {
  const entry = entries.find((e) => MOVES.has(e.record.plan));
  if (entry === undefined) return undefined;
  const { plan, trigger, from, to, reasons } = entry.record;
  return {
    at: iso(entry.at),
    plan: String(plan),
    ...(typeof trigger === 'string' ? { trigger } : {}),
    ...(typeof from === 'string' ? { from } : {}),
    ...(typeof to === 'string' ? { to } : {}),
    reasons: Array.isArray(reasons) ? reasons.map(String) : [],
  };
}

/** The report as text. */
export function renderStatus(report: StatusReport): string {
  const lines: string[] = [];
  lines.push(`${report.stack} (deployment ${report.deployment}) at ${report.at}`);
  if (report.configDrift !== undefined) lines.push(`note: ${report.configDrift}`);
  if (report.alarms !== undefined) {
    lines.push(
      report.alarms.length === 0
        ? 'Alarms: none in ALARM'
        : `Alarms in ALARM: ${report.alarms.map((a) => `${a.name}${a.since ? ` (since ${a.since})` : ''}`).join(', ')}`,
    );
  }
  for (const problem of report.problems) lines.push(`note: ${problem}`);
  for (const pair of report.pairs) {
    lines.push('');
    const onRoutes = pair.routes.filter((r) => r.to === pair.traffic).length;
    const where =
      pair.traffic === 'primary' || pair.traffic === 'standby'
        ? `traffic on ${pair.traffic} (${onRoutes} of ${countOf(pair.routes.length, 'route')})`
        : pair.traffic === 'split'
          ? 'traffic SPLIT between the members'
          : pair.traffic === 'none'
            ? 'NO route points at a member'
            : 'traffic unknown (route tables not readable)';
    const intent =
      pair.intended === undefined
        ? '; the controller has not looked at this pair yet'
        : pair.intended === pair.traffic
          ? ''
          : `; the controller intends ${pair.intended}`;
    lines.push(`${pair.pair}: ${where}${intent}`);
    for (const role of ROLES) {
      const member = pair.members[role];
      const checks =
        member.systemStatus !== undefined || member.instanceStatus !== undefined
          ? `, status checks ${member.systemStatus ?? '?'}/${member.instanceStatus ?? '?'}`
          : '';
      lines.push(
        `  ${role.padEnd(7)} ${member.instanceId}  ${member.state ?? 'state unknown'}${checks}: ${member.health}`,
      );
      for (const [name, signal] of Object.entries(member.signals)) {
        lines.push(`            ${name} ${signal.health}: ${signal.reason}`);
      }
      const decided = member.decided;
      lines.push(
        `            controller's last verdict: ${
          decided === undefined
            ? 'none stored yet'
            : `${decided.health} (${Object.entries(decided.signals)
                .map(([name, health]) => `${name} ${health}`)
                .join(', ')})`
        }`,
      );
      const counted = (['daemon', 'tunnel'] as const).filter((s) => member.unhealthyCount[s] > 0);
      lines.push(
        `            controller's count: ${
          counted.length === 0
            ? 'no unhealthy evaluation'
            : counted.map((s) => `${s} unhealthy x${member.unhealthyCount[s]}`).join(', ')
        }`,
      );
    }
    for (const route of pair.routes) {
      const target =
        route.to === 'primary' || route.to === 'standby' ? `${route.to} (${route.via})` : route.to;
      lines.push(
        `  route ${route.routeTable} ${route.destination} -> ${target}${route.blackhole ? ' BLACKHOLE' : ''}`,
      );
    }
    lines.push(`  alarms: ${pair.alarms.length === 0 ? 'none' : pair.alarms.join(', ')}`);
    if (pair.lease) {
      lines.push(
        `  lease: held by ${pair.lease.owner} until ${pair.lease.until}${pair.lease.member ? ` (${pair.lease.member} under maintenance)` : ''}`,
      );
    }
    if (pair.pause) {
      lines.push(
        `  PAUSED until ${pair.pause.until}${pair.pause.by ? ` by ${pair.pause.by}` : ''}: ${pair.pause.reason}`,
      );
    }
    if (pair.lastMove) {
      const move = pair.lastMove;
      const arrow = move.from && move.to ? ` ${move.from} -> ${move.to}` : '';
      lines.push(
        `  last move: ${move.at} ${move.plan}${arrow}${move.trigger ? ` (${move.trigger})` : ''}${move.reasons.length > 0 ? `: ${move.reasons.join('; ')}` : ''}`,
      );
    } else {
      lines.push('  last move: none recorded');
    }
    for (const problem of pair.problems) lines.push(`  note: ${problem}`);
  }
  return `${lines.join('\n')}\n`;
}

/** --watch's interval in seconds, or undefined without --watch. */
function watchSeconds(watch: StatusOptions['watch']): number | undefined {
  if (watch === undefined || watch === false) return undefined;
  if (watch === true) return DEFAULT_WATCH_SECONDS;
  const seconds = parseDurationSeconds(watch);
  if (seconds === undefined || seconds < 1) {
    throw new CliError(
      `invalid --watch: expected a number of seconds, at least 1 (got ${JSON.stringify(watch)})`,
      OPERATOR_EXIT.invalid,
    );
  }
  return seconds;
}

/** ANSI: cursor home, clear the screen. */
const CLEAR = '\x1b[H\x1b[2J';

/** Run the command; resolves to the exit status. */
export async function runStatus(
  pair: string | undefined,
  options: StatusOptions,
  io: CliIo,
  deps: OperatorDeps = {},
): Promise<number> {
  return runOperator(io, 'status', async () => {
    const env = deps.env ?? process.env;
    const every = watchSeconds(options.watch);
    const config = loadConfigFile(options.config);
    const pairs = pair === undefined ? config.pairs : [pairOf(config, pair, options.config)];
    const clients = clientsFor(options, deps);
    const deployment = await requireDeployment(clients, stackNameOf(options, env));
    const clock = clockOf(deps);
    const draw = async (clear: boolean) => {
      const report = await readStatus(clients, deployment, config, pairs, clock);
      if (options.json) {
        io.stdout(`${JSON.stringify(report, null, every === undefined ? 2 : undefined)}\n`);
      } else {
        io.stdout(`${clear ? CLEAR : ''}${renderStatus(report)}`);
      }
    };
    if (every === undefined) {
      await draw(false);
      return OPERATOR_EXIT.ok;
    }
    const tty = !options.json && (deps.isTTY ?? process.stdout.isTTY === true);
    const stop = deps.interrupt ? { signal: deps.interrupt, release: () => {} } : interruptOnSigint();
    try {
      for (let first = true; !stop.signal.aborted; first = false) {
        if (!first && !tty && !options.json) io.stdout('\n');
        if (first) {
          await draw(tty);
        } else {
          // Once watching, a failed look (throttling, a network blip) is said and the next one tried: the
          // screen an on-call engineer keeps open does not end on the first hiccup.
          await draw(tty).catch((error: unknown) => {
            io.stderr(
              `vpn-failover status: ${iso(clock.now())}: ${describeError(error)} (trying again in ${every}s)\n`,
            );
          });
        }
        await sleepUnless(clock, every * 1000, stop.signal);
      }
    } finally {
      stop.release();
    }
    // Ctrl-C is how --watch is meant to end.
    return OPERATOR_EXIT.ok;
  });
}

/** Add the status subcommand to the program. */
export function addStatusCommand(program: Command, io: CliIo, deps: OperatorDeps = {}): Command {
  const command = program
    .command('status')
    .description(
      'read-only: where each pair sends traffic, its members’ health, alarms, lease or pause, last move',
    )
    .argument('[pair]', 'one pair (default: every pair of the configuration)')
    .option('--watch [seconds]', `redraw every SECONDS (default ${DEFAULT_WATCH_SECONDS}) until Ctrl-C`);
  withConfigOption(withOperatorOptions(command));
  return command.action(async (pair: string | undefined, options: StatusOptions) => {
    io.setExitCode(await runStatus(pair, options, io, deps));
  });
}
