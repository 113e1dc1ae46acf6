import type { SimEvent, SimulateOutput } from './output.ts';
import type { Scenario } from './scenario.ts';

/**
 * The readable form of a scenario run: a timeline a person can follow (what happened, what the controller
 * decided and why, which routes moved), the final state, and a summary of each traffic move with the time it
 * took from its cause.
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

/** What the summary says about a run. */
export interface RunReport {
  readonly moves: readonly MoveReport[];
  readonly failovers: number;
  readonly failbacks: number;
  readonly routesMoved: number;
  readonly errors: number;
}

/** Faults that end a problem rather than start one: never the cause of a move. */
const RECOVERIES = new Set([
  'daemon-up',
  'tunnel-up',
  'status-ok',
  'ssm-agent-online',
  'start',
  'insufficient-capacity',
]);

/** The moves of a run, each with its cause (the latest fault on that pair, or the operator command) and timings. */
export function reportOf(output: SimulateOutput): RunReport {
  const events = output.events;
  const moves: MoveReport[] = [];
  events.forEach((event, index) => {
    if (event.type !== 'failover' || event.dryRun) return;
    let routesMoved = 0;
    let routesMovedAt: number | undefined;
    for (const later of events.slice(index + 1)) {
      if (later.type === 'failover' && later.pair === event.pair) break;
      if (later.type === 'route-change' && later.pair === event.pair && later.to === event.to) {
        routesMoved++;
        routesMovedAt = later.t;
      }
    }
    const cause = events
      .slice(0, index)
      .reverse()
      .find(
        (e) =>
          (event.trigger === 'manual'
            ? e.type === 'command' && e.pair === event.pair
            : e.type === 'fault' &&
              !RECOVERIES.has(e.fault) &&
              (e.target === '*' || e.target.startsWith(`${event.pair}/`))) ||
          (e.type === 'failover' && e.pair === event.pair),
      );
    const described =
      cause?.type === 'fault'
        ? { cause: `${cause.target} ${cause.fault}`, causeAt: cause.t }
        : cause?.type === 'command'
          ? { cause: `operator ${cause.command}${cause.to ? ` to ${cause.to}` : ''}`, causeAt: cause.t }
          : {};
    moves.push({
      pair: event.pair,
      from: event.from,
      to: event.to,
      kind: event.kind,
      trigger: event.trigger,
      ...described,
      decidedAt: event.t,
      ...(routesMovedAt !== undefined ? { routesMovedAt } : {}),
      routesMoved,
    });
  });
  return {
    moves,
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

/** One line of at most `max` characters. */
function clip(text: string, max = 150): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

const LABEL_WIDTH = 9;
const line = (t: number, label: string, text: string): string =>
  `  ${clockTime(t)}  ${label.padEnd(LABEL_WIDTH)} ${text}`;

/** One event as a timeline line, or undefined for events folded into others. */
function describe(event: SimEvent): string | undefined {
  switch (event.type) {
    case 'fault': {
      const extra = [
        event.rate !== undefined ? `${Math.round(event.rate * 100)} % of calls` : undefined,
        event.for !== undefined ? `for ${event.for} s` : undefined,
        event.note !== undefined ? `(no effect: ${event.note})` : undefined,
      ].filter((x) => x !== undefined);
      return line(event.t, 'FAULT', [`${event.target} ${event.fault}`, ...extra].join(' '));
    }
    case 'command':
      return line(
        event.t,
        'OPERATOR',
        `${event.command} ${event.pair}${event.to ? ` to ${event.to}` : ''}${event.instanceType ? ` to ${event.instanceType}` : ''}`,
      );
    case 'failover':
      return line(
        event.t,
        event.kind === 'failback' ? 'FAILBACK' : 'FAILOVER',
        `${event.pair} ${event.from} -> ${event.to} (${event.trigger}${event.dryRun ? ', dry run: nothing written' : ''}): ${clip(event.reason)}`,
      );
    case 'repair':
      return line(event.t, 'REPAIR', `${event.pair} routes back onto ${event.to}: ${clip(event.reason)}`);
    case 'route-change':
      return undefined;
    case 'alarm':
      return line(event.t, 'ALARM', `${event.pair} ${event.alarm}: ${clip(event.detail, 120)}`);
    case 'alarm-cleared':
      return line(event.t, 'CLEARED', `${event.pair} ${event.alarm}`);
    case 'state-change':
      return line(event.t, 'EC2', `${event.target} ${event.from} -> ${event.to}`);
    case 'elastic-ip':
      return line(event.t, 'EIP', `${event.pair} Elastic IP -> ${event.to}`);
    case 'instance-type':
      return line(event.t, 'EC2', `${event.target} type ${event.from} -> ${event.to}`);
    case 'start-failed':
      return line(event.t, 'EC2', `${event.target} start failed: ${event.reason}`);
    case 'resize-stage':
      return line(
        event.t,
        'RESIZE',
        `${event.pair} ${event.stage}${event.detail ? `: ${clip(event.detail)}` : ''}`,
      );
    case 'decision':
      return line(
        event.t,
        'DECIDE',
        `${event.pair} ${event.plan} (${event.trigger}): ${clip(event.reasons.join('; '))}`,
      );
    case 'controller-crash':
      return line(
        event.t,
        'CRASH',
        event.reason === 'timeout'
          ? 'the controller invocation hit its Lambda timeout'
          : `the controller invocation died after ${event.routeWrites ?? 0} route write(s) (simulated crash)`,
      );
    case 'event-dropped':
      return line(event.t, 'DROPPED', `${event.trigger} event ${event.ageSeconds} s old (maximum event age)`);
    case 'error':
      return line(event.t, 'ERROR', `${event.pair ? `${event.pair}: ` : ''}${clip(event.message, 200)}`);
  }
}

/** Route changes of one pair to one member close together, as one line. */
function routeLine(group: readonly Extract<SimEvent, { type: 'route-change' }>[]): string {
  const first = group[0] as (typeof group)[number];
  const routes = group.map(
    (r) => `${r.routeTable} ${r.destination}${r.action === 'created' ? ' (created)' : ''}`,
  );
  return line(
    first.t,
    'ROUTES',
    `${first.pair} ${group.length} route${group.length === 1 ? '' : 's'} -> ${first.to}: ${clip(routes.join(', '), 160)}`,
  );
}

/** Route changes within this many seconds of each other are one line. */
const ROUTE_GROUP_SECONDS = 5;

/** The timeline lines of an event log. */
export function timelineLines(events: readonly SimEvent[]): string[] {
  const lines: string[] = [];
  let group: Extract<SimEvent, { type: 'route-change' }>[] = [];
  const flush = () => {
    if (group.length > 0) lines.push(routeLine(group));
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
      group.push(event);
      continue;
    }
    const text = describe(event);
    if (text === undefined) continue;
    // Keep a move's route line right after its decision; other events in between come after it.
    if (group.length > 0 && event.t - (group[0]?.t ?? 0) > ROUTE_GROUP_SECONDS) flush();
    lines.push(text);
  }
  flush();
  return lines;
}

/** The final state of every pair. */
export function finalLines(output: SimulateOutput): string[] {
  const lines: string[] = [];
  for (const [name, pair] of Object.entries(output.final.pairs)) {
    lines.push(
      `  ${name}: ${pair.active === 'split' ? 'routes SPLIT between members (or pointing elsewhere)' : `traffic on ${pair.active}`}`,
    );
    for (const route of pair.routes) {
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

/** The summary of moves: detection and failover time per move, counts. */
export function summaryLines(output: SimulateOutput): string[] {
  const report = reportOf(output);
  const lines = report.moves.map((move) => {
    const what = `${move.kind} ${move.pair} ${move.from} -> ${move.to} (${move.trigger})`;
    // Timings count from the cause when there is one, else from the decision.
    const origin = move.causeAt ?? move.decidedAt;
    const routes =
      move.routesMovedAt === undefined
        ? 'no route moved'
        : `${move.routesMoved} route${move.routesMoved === 1 ? '' : 's'} on ${move.to} after ${seconds(move.routesMovedAt - origin)}`;
    return move.cause !== undefined && move.causeAt !== undefined
      ? `  ${clockTime(move.causeAt)} ${move.cause}: ${what} decided after ${seconds(move.decidedAt - move.causeAt)}, ${routes}`
      : `  ${clockTime(move.decidedAt)} ${what}, ${routes}`;
  });
  if (lines.length === 0) lines.push('  no traffic moved');
  lines.push(
    `  ${report.failovers} failover${report.failovers === 1 ? '' : 's'}, ${report.failbacks} failback${report.failbacks === 1 ? '' : 's'}, ${report.routesMoved} route change${report.routesMoved === 1 ? '' : 's'}${report.errors > 0 ? `, ${report.errors} error${report.errors === 1 ? '' : 's'}` : ''}`,
  );
  return lines;
}

/** The whole readable report of a run. */
export function renderRun(scenario: Scenario, output: SimulateOutput): string {
  const { config } = scenario;
  const shape = config.pairs
    .map(
      (p) =>
        `${p.name} (${p.routeTables.length} route table${p.routeTables.length === 1 ? '' : 's'} x ${p.destinations.length} destination${p.destinations.length === 1 ? '' : 's'})`,
    )
    .join(', ');
  const mode = config.controller.fastMode.enabled
    ? `fast mode every ${config.controller.fastMode.interval} s`
    : 'no fast mode';
  const header = [
    `Scenario: ${output.scenario}`,
    `  ${shape}; schedule every ${config.controller.schedule} s, ${mode}${config.dryRun ? ', DRY RUN' : ''}`,
    `  ${clockTime(output.duration)} of virtual time, seed ${output.seed}`,
    '',
    '  00:00  START     every pair on its primary, both members healthy',
  ];
  return [
    ...header,
    ...timelineLines(output.events),
    '',
    'Final state',
    ...finalLines(output),
    '',
    'Summary',
    ...summaryLines(output),
    '',
  ].join('\n');
}
