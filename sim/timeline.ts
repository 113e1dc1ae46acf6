import { formatSeconds } from '../shared/duration.ts';
import { countOf as count } from '../shared/plural.ts';
import type { SimEvent, SimulateOutput } from './output.ts';
import type { Scenario } from './scenario.ts';

/**
 * The readable form of a scenario run: a timeline a person can follow (what happened, what the controller
 * decided and why, which routes moved), the final state, and a summary of each traffic move with the time it
 * took from its cause. In a dry run the moves the controller would have made are told apart from moves made:
 * they are listed as would-be moves and never counted as moves.
 */

/** One traffic move and what caused it. */
export interface MoveReport {
  readonly pair: string;
  readonly from: string;
  readonly to: string;
  readonly kind: 'failover' | 'failback';
  readonly trigger: string;
  /** "branch-a/primary daemon-down" or "operator failover to primary" */
  readonly cause?: string;
  /** virtual seconds of the cause */
  readonly causeAt?: number;
  /** virtual seconds of the decision */
  readonly decidedAt: number;
  /** virtual seconds at which the last route of the move changed; absent when none did */
  readonly routesMovedAt?: number;
  readonly routesMoved: number;
}

/** Dry run: a move the controller would have made and what caused it. Nothing was written. */
export type WouldMoveReport = Omit<MoveReport, 'routesMovedAt' | 'routesMoved'>;

/** What the summary says about a run. */
export interface RunReport {
  /** moves carried out */
  readonly moves: readonly MoveReport[];
  /** dry run: moves decided but not carried out */
  readonly wouldMoves: readonly WouldMoveReport[];
  readonly failovers: number;
  readonly failbacks: number;
  readonly routesMoved: number;
  readonly errors: number;
}

/** Faults that end a problem: what lets an automatic failback happen, never what makes traffic leave. */
const RECOVERIES = new Set([
  'daemon-up',
  'tunnel-up',
  'status-ok',
  'ssm-agent-online',
  'os-recover',
  'start',
]);

/**
 * Faults that neither start nor end a problem on a member: a start refused for capacity changes nothing, and
 * throttled or failing calls delay a decision without deciding it.
 */
const NEUTRAL = new Set(['insufficient-capacity', 'api-throttling', 'state-store-errors']);

type MoveEvent = Extract<SimEvent, { type: 'failover' | 'would-failover' }>;
type FaultEvent = Extract<SimEvent, { type: 'fault' }>;

const isMoveEvent = (event: SimEvent): event is MoveEvent =>
  event.type === 'failover' || event.type === 'would-failover';

/** Whether a fault hit this member of this pair: aimed at it, or at that member of every pair (zone-wide). */
const hits = (fault: FaultEvent, pair: string, role: string): boolean =>
  fault.target === `${pair}/${role}` || fault.target === `*/${role}`;

/** What caused a move, and when. */
export interface Cause {
  /** "branch-a/primary daemon-down" or "operator failover to primary" */
  readonly cause?: string;
  /** virtual seconds of the cause */
  readonly causeAt?: number;
}

/**
 * What caused the move at `index`, nearest preceding first: for an operator move (a failover command or a
 * resize), the command on that pair; for an automatic failback, the recovery of the member traffic went back
 * to; for any other move, the fault on the member traffic left. Faults on other pairs or on the other member,
 * faults that had no effect and call faults never count; a zone-wide fault on every pair's member counts for
 * each pair.
 */
export function causeOf(events: readonly SimEvent[], index: number): Cause {
  const move = events[index];
  if (move === undefined || !isMoveEvent(move)) return {};
  const before = events.slice(0, index).reverse();
  if (move.trigger === 'manual') {
    // Only a failover or a resize moves traffic by hand (a pause or resume is not a move).
    const command = before.find(
      (e) =>
        e.type === 'command' && e.pair === move.pair && (e.command === 'failover' || e.command === 'resize'),
    );
    if (command?.type !== 'command') return {};
    return {
      cause: `operator ${command.command}${command.to ? ` to ${command.to}` : ''}${command.instanceType ? ` to ${command.instanceType}` : ''}`,
      causeAt: command.t,
    };
  }
  const recovery = move.trigger === 'automatic-failback';
  const fault = before.find(
    (e): e is FaultEvent =>
      e.type === 'fault' &&
      e.note === undefined &&
      !NEUTRAL.has(e.fault) &&
      RECOVERIES.has(e.fault) === recovery &&
      hits(e, move.pair, recovery ? move.to : move.from),
  );
  return fault === undefined ? {} : { cause: `${fault.target} ${fault.fault}`, causeAt: fault.t };
}

/** The moves of a run, each with its cause (the latest fault on that pair, or the operator command) and timings. */
export function reportOf(output: SimulateOutput): RunReport {
  const events = output.events;
  const moves: MoveReport[] = [];
  const wouldMoves: WouldMoveReport[] = [];
  events.forEach((event, index) => {
    if (!isMoveEvent(event)) return;
    const decided = {
      pair: event.pair,
      from: event.from,
      to: event.to,
      kind: event.kind,
      trigger: event.trigger,
      ...causeOf(events, index),
      decidedAt: event.t,
    };
    if (event.type === 'would-failover') {
      wouldMoves.push(decided);
      return;
    }
    let routesMoved = 0;
    let routesMovedAt: number | undefined;
    for (const later of events.slice(index + 1)) {
      if (later.type === 'failover' && later.pair === event.pair) break;
      if (later.type === 'route-change' && later.pair === event.pair && later.to === event.to) {
        routesMoved++;
        routesMovedAt = later.t;
      }
    }
    moves.push({ ...decided, ...(routesMovedAt !== undefined ? { routesMovedAt } : {}), routesMoved });
  });
  return {
    moves,
    wouldMoves,
    failovers: moves.filter((m) => m.kind === 'failover').length,
    failbacks: moves.filter((m) => m.kind === 'failback').length,
    routesMoved: events.filter((e) => e.type === 'route-change').length,
    errors: events.filter((e) => e.type === 'error' || e.type === 'controller-crash').length,
  };
}

/** "mm:ss" (or "h:mm:ss") of virtual seconds. */
export function clockTime(seconds: number): string {
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3600);
  const m = Math.floor((whole % 3600) / 60);
  const s = whole % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

const seconds = (value: number): string => `${Number(value.toFixed(1))} s`;

/** Text on one line: reasons may carry the newlines of a probe's output. */
const flat = (text: string): string => text.replace(/\s+/g, ' ').trim();

/** The width used when the output is not a terminal (a file, a pipe, a CI log). */
export const DEFAULT_WIDTH = 100;

/** Continuation lines keep at least this many columns for text, however narrow the terminal. */
const MIN_TEXT_WIDTH = 30;

/** The width of the terminal the report is printed on, or DEFAULT_WIDTH when it goes elsewhere. */
export function terminalWidth(): number {
  return process.stdout.isTTY && process.stdout.columns > 0 ? process.stdout.columns : DEFAULT_WIDTH;
}

/**
 * `prefix` then `text`, wrapped at spaces to `width` columns, continuation lines indented under the text. Nothing
 * is cut: a word longer than the line gets a line of its own.
 */
export function wrap(prefix: string, text: string, width: number): string[] {
  const room = Math.max(MIN_TEXT_WIDTH, width - prefix.length);
  const indent = ' '.repeat(prefix.length);
  const lines: string[] = [];
  let line = '';
  for (const word of flat(text).split(' ')) {
    if (line !== '' && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.map((l, i) => `${i === 0 ? prefix : indent}${l}`);
}

/** One line of the timeline before layout. */
interface Entry {
  readonly t: number;
  readonly label: string;
  readonly text: string;
}

/** Labels are padded to at least this width, wider when a timeline has longer ones (WOULD FAIL OVER). */
const LABEL_WIDTH = 9;

const entry = (t: number, label: string, text: string): Entry => ({ t, label, text });

/** An operator command as the timeline says it: "pause branch-a for 2h: firmware upgrade". */
function commandText(event: Extract<SimEvent, { type: 'command' }>): string {
  const parts = [
    `${event.command} ${event.pair}`,
    event.to ? `to ${event.to}` : undefined,
    event.force ? '(forced)' : undefined,
    event.instanceType ? `to ${event.instanceType}` : undefined,
    event.for !== undefined ? `for ${formatSeconds(event.for)}` : undefined,
  ].filter((x) => x !== undefined);
  return `${parts.join(' ')}${event.reason ? `: ${event.reason}` : ''}`;
}

/** One event as a timeline entry, or undefined for events folded into others. */
function describe(event: SimEvent): Entry | undefined {
  switch (event.type) {
    case 'fault': {
      const extra = [
        event.rate !== undefined ? `${Math.round(event.rate * 100)} % of calls` : undefined,
        event.for !== undefined ? `for ${event.for} s` : undefined,
        event.note !== undefined ? `(no effect: ${event.note})` : undefined,
        event.routeTable !== undefined
          ? `${event.routeTable} ${event.destination} pointed outside the pair`
          : undefined,
      ].filter((x) => x !== undefined);
      return entry(event.t, 'FAULT', [`${event.target} ${event.fault}`, ...extra].join(' '));
    }
    case 'command':
      return entry(event.t, 'OPERATOR', commandText(event));
    case 'refused':
      return entry(
        event.t,
        'REFUSED',
        `${event.command}${event.pair ? ` ${event.pair}` : ''}: ${event.reason}`,
      );
    case 'failover':
      return entry(
        event.t,
        event.kind === 'failback' ? 'FAILBACK' : 'FAILOVER',
        `${event.pair} ${event.from} -> ${event.to} (${event.trigger}): ${event.reason}`,
      );
    case 'would-failover':
      return entry(
        event.t,
        event.kind === 'failback' ? 'WOULD FAIL BACK' : 'WOULD FAIL OVER',
        `${event.pair} ${event.from} -> ${event.to} (${event.trigger}; dry run, nothing written): ${event.reason}`,
      );
    case 'repair':
      return entry(event.t, 'REPAIR', `${event.pair} routes back onto ${event.to}: ${event.reason}`);
    case 'would-repair':
      return entry(
        event.t,
        'WOULD REPAIR',
        `${event.pair} routes back onto ${event.to} (dry run, nothing written): ${event.reason}`,
      );
    case 'route-change':
      return undefined;
    case 'alarm':
      return entry(event.t, 'ALARM', `${event.pair} ${event.alarm}: ${event.detail}`);
    case 'alarm-cleared':
      return entry(event.t, 'CLEARED', `${event.pair} ${event.alarm}`);
    case 'state-change':
      return entry(event.t, 'EC2', `${event.target} ${event.from} -> ${event.to}`);
    case 'elastic-ip':
      return entry(event.t, 'EIP', `${event.pair} Elastic IP -> ${event.to}`);
    case 'instance-type':
      return entry(event.t, 'EC2', `${event.target} type ${event.from} -> ${event.to}`);
    case 'start-failed':
      return entry(event.t, 'EC2', `${event.target} start failed: ${event.reason}`);
    case 'resize-stage':
      return entry(
        event.t,
        'RESIZE',
        `${event.pair} ${event.stage}${event.detail ? `: ${event.detail}` : ''}`,
      );
    case 'decision':
      return entry(
        event.t,
        'DECIDE',
        `${event.pair} ${event.plan} (${event.trigger}): ${event.reasons.join('; ')}`,
      );
    case 'controller-crash':
      return entry(
        event.t,
        'CRASH',
        event.reason === 'timeout'
          ? 'the controller invocation hit its Lambda timeout'
          : `the controller invocation died after ${count(event.routeWrites ?? 0, 'route write')} (simulated crash)`,
      );
    case 'event-dropped':
      return entry(
        event.t,
        'DROPPED',
        `${event.trigger} event ${event.ageSeconds} s old (maximum event age)`,
      );
    case 'error':
      return entry(event.t, 'ERROR', `${event.pair ? `${event.pair}: ` : ''}${event.message}`);
  }
}

type RouteChange = Extract<SimEvent, { type: 'route-change' }>;

/** The four octets and the prefix length of an IPv4 CIDR, to sort 9.0.0.0/8 before 10.0.0.0/8. */
const ipv4Numbers = (cidr: string): number[] | undefined => {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  return match ? match.slice(1).map(Number) : undefined;
};

/** IPv4 destinations in address order, then IPv6 and prefix lists in text order. */
export function byDestination(a: string, b: string): number {
  const x = ipv4Numbers(a);
  const y = ipv4Numbers(b);
  if (x === undefined || y === undefined) return x ? -1 : y ? 1 : a.localeCompare(b);
  const differing = x.findIndex((n, i) => n !== y[i]);
  return differing === -1 ? 0 : (x[differing] as number) - (y[differing] as number);
}

const byRoute = (
  a: { routeTable: string; destination: string },
  b: { routeTable: string; destination: string },
): number => a.routeTable.localeCompare(b.routeTable) || byDestination(a.destination, b.destination);

/** The pairs of the final state in name order. */
const pairsByName = (output: SimulateOutput) =>
  Object.entries(output.final.pairs).sort(([a], [b]) => a.localeCompare(b));

/** Route changes of one pair to one member close together, as one entry, routes sorted. */
function routeEntry(group: readonly RouteChange[]): Entry {
  const first = group[0] as RouteChange;
  const routes = [...group]
    .sort(byRoute)
    .map((r) => `${r.routeTable} ${r.destination}${r.action === 'created' ? ' (created)' : ''}`);
  return entry(
    first.t,
    'ROUTES',
    `${first.pair} ${count(group.length, 'route')} -> ${first.to}: ${routes.join(', ')}`,
  );
}

/** Route changes within this many seconds of each other are one line. */
const ROUTE_GROUP_SECONDS = 5;

/** The timeline of an event log, from the start, in time order, wrapped to `width` columns. */
export function timelineLines(events: readonly SimEvent[], width = DEFAULT_WIDTH): string[] {
  const entries: (Entry | undefined)[] = [
    entry(0, 'START', 'every pair on its primary, both members healthy'),
  ];
  // A group of route changes takes the place of its first change: the line sits right after the decision
  // that caused it, and the events of the few seconds the writes take come after it, still in time order.
  let group: RouteChange[] = [];
  let slot = 0;
  const flush = () => {
    if (group.length > 0) entries[slot] = routeEntry(group);
    group = [];
  };
  for (const event of events) {
    if (event.type === 'route-change') {
      const first = group[0];
      if (
        first &&
        (first.pair !== event.pair || first.to !== event.to || event.t - first.t > ROUTE_GROUP_SECONDS)
      )
        flush();
      if (group.length === 0) {
        slot = entries.length;
        entries.push(undefined);
      }
      group.push(event);
      continue;
    }
    const described = describe(event);
    if (described !== undefined) entries.push(described);
  }
  flush();
  // A stable sort: entries of one instant keep the order the simulator recorded them in.
  const shown = entries.filter((e) => e !== undefined).sort((a, b) => a.t - b.t);
  const labelWidth = Math.max(LABEL_WIDTH, ...shown.map((e) => e.label.length));
  return shown.flatMap((e) => wrap(`  ${clockTime(e.t)}  ${e.label.padEnd(labelWidth)} `, e.text, width));
}

/** The final state of every pair, routes sorted. */
export function finalLines(output: SimulateOutput): string[] {
  const lines: string[] = [];
  for (const [name, pair] of pairsByName(output)) {
    const blackholed = pair.routes.filter((r) => r.state === 'blackhole').length;
    const where =
      pair.active === 'split'
        ? 'routes SPLIT between members (or pointing elsewhere)'
        : blackholed > 0
          ? `routes on ${pair.active}`
          : `traffic on ${pair.active}`;
    lines.push(`  ${name}: ${where}${blackholed > 0 ? `, ${count(blackholed, 'route')} BLACKHOLED` : ''}`);
    for (const route of [...pair.routes].sort(byRoute)) {
      lines.push(
        `    ${route.routeTable}  ${route.destination.padEnd(20)} -> ${route.to.padEnd(7)}  ${route.state}`,
      );
    }
    for (const role of ['primary', 'standby'] as const) {
      const member = pair.members[role];
      lines.push(`    ${role.padEnd(7)}  ${member.state.padEnd(13)} ${member.instanceType}`);
    }
    if (pair.elasticIp !== undefined) lines.push(`    Elastic IP on ${pair.elasticIp}`);
  }
  return lines;
}

/**
 * The summary: each move (and, in a dry run, each would-be move) with its detection and failover time, the
 * counts of what was done, and how long each pair's traffic was blackholed.
 */
export function summaryLines(output: SimulateOutput, width = DEFAULT_WIDTH): string[] {
  const report = reportOf(output);
  // Each line starts at its cause (else its decision): lines are in the order of those times.
  const line = (move: WouldMoveReport, text: string) => {
    const at = move.causeAt ?? move.decidedAt;
    const cause = move.cause !== undefined && move.causeAt !== undefined;
    return {
      at,
      decidedAt: move.decidedAt,
      prefix: `  ${clockTime(at)} `,
      text: cause
        ? `${move.cause}: ${text.replace('{decided}', ` decided after ${seconds(move.decidedAt - at)}`)}`
        : text.replace('{decided}', ''),
    };
  };
  const done = report.moves.map((move) => {
    const what = `${move.kind} ${move.pair} ${move.from} -> ${move.to} (${move.trigger})`;
    // Timings count from the cause when there is one, else from the decision.
    const origin = move.causeAt ?? move.decidedAt;
    const routes =
      move.routesMovedAt === undefined
        ? 'no route moved'
        : `${count(move.routesMoved, 'route')} on ${move.to} after ${seconds(move.routesMovedAt - origin)}`;
    return line(move, `${what}{decided}, ${routes}`);
  });
  const notDone = report.wouldMoves.map((move) => {
    const what = `would ${move.kind === 'failback' ? 'fail back' : 'fail over'} ${move.pair} ${move.from} -> ${move.to} (${move.trigger})`;
    return line(move, `${what}{decided}; dry run, nothing written`);
  });
  const lines = [...done, ...notDone]
    .sort((a, b) => a.at - b.at || a.decidedAt - b.decidedAt)
    .flatMap((l) => wrap(l.prefix, l.text, width));
  if (report.moves.length === 0) lines.push('  no traffic moved');
  const wouldFailovers = report.wouldMoves.filter((m) => m.kind === 'failover').length;
  const wouldFailbacks = report.wouldMoves.length - wouldFailovers;
  const counts = [
    count(report.failovers, 'failover'),
    count(report.failbacks, 'failback'),
    count(report.routesMoved, 'route change'),
    ...(wouldFailovers > 0 ? [count(wouldFailovers, 'would-be failover')] : []),
    ...(wouldFailbacks > 0 ? [count(wouldFailbacks, 'would-be failback')] : []),
    ...(report.errors > 0 ? [count(report.errors, 'error')] : []),
  ];
  lines.push(...wrap('  ', counts.join(', '), width));
  for (const [name, pair] of pairsByName(output)) {
    lines.push(
      ...wrap(
        '  ',
        pair.blackholeSeconds > 0
          ? `${name}: traffic blackholed for ${seconds(pair.blackholeSeconds)} (a route blackholed or on a member not running)`
          : `${name}: no route blackholed`,
        width,
      ),
    );
  }
  return lines;
}

/** The whole readable report of a run, wrapped to `width` columns (the terminal's by default). */
export function renderRun(scenario: Scenario, output: SimulateOutput, width = terminalWidth()): string {
  const { config } = scenario;
  const shape = config.pairs
    .map(
      (p) =>
        `${p.name} (${count(p.routeTables.length, 'route table')} x ${count(p.destinations.length, 'destination')})`,
    )
    .join(', ');
  const mode = config.controller.fastMode.enabled
    ? `fast mode every ${config.controller.fastMode.interval} s`
    : 'no fast mode';
  const dryPairs = config.pairs.filter((p) => p.dryRun ?? config.dryRun).map((p) => p.name);
  const dry =
    dryPairs.length === 0
      ? ''
      : dryPairs.length === config.pairs.length
        ? ', DRY RUN (nothing is written)'
        : `, DRY RUN for ${dryPairs.join(', ')} (nothing is written for them)`;
  const header = [
    `Scenario: ${output.scenario}`,
    ...wrap('  ', `${shape}; schedule every ${config.controller.schedule} s, ${mode}${dry}`, width),
    `  ${clockTime(output.duration)} of virtual time, seed ${output.seed}`,
    '',
  ];
  return [
    ...header,
    ...timelineLines(output.events, width),
    '',
    'Final state',
    ...finalLines(output),
    '',
    'Summary',
    ...summaryLines(output, width),
    '',
  ].join('\n');
}
