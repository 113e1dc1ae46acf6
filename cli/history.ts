import type { Command } from 'commander';
import { type HistoryEntry, StateStore } from '../shared/aws/state-store.ts';
import { parseDurationSeconds } from '../shared/duration.ts';
import {
  CliError,
  clientsFor,
  clockOf,
  OPERATOR_EXIT,
  type OperatorDeps,
  type OperatorOptions,
  requireDeployment,
  runOperator,
  stackNameOf,
  withOperatorOptions,
} from './operator.ts';
import type { CliIo } from './simulate.ts';

/**
 * `vpn-failover history PAIR [--since 24h]`: every record the controller keeps of a pair in the state table
 * (moves with their reasons and outcome, alarms as they are raised and cleared, pauses and resumes, whatever
 * else it records), oldest first, so the newest is last, next to the prompt.
 */

/** The options commander parses for history. */
export interface HistoryOptions extends OperatorOptions {
  readonly since: string;
}

/** The default window. */
export const DEFAULT_HISTORY_SINCE = '24h';
/** The most records read: the table keeps 90 days; a pair that moves this often has a bigger problem. */
export const HISTORY_LIMIT = 1000;

/** One history record as printed with --json: its time, and the record as the controller stored it. */
export interface HistoryLine {
  readonly at: string;
  readonly record: Readonly<Record<string, unknown>>;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The words for one record: what happened, between which members, why and how it went. */
export function describeRecord(entry: HistoryEntry): string {
  const r = entry.record;
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const what = text(r.plan) ?? text(r.action) ?? text(r.kind) ?? text(r.event) ?? 'record';
  const parts: string[] = [what];
  const from = text(r.from);
  const to = text(r.to);
  if (from !== undefined && to !== undefined) parts.push(`${from} -> ${to}`);
  else if (to !== undefined) parts.push(`to ${to}`);
  const trigger = text(r.trigger);
  if (trigger !== undefined) parts.push(`(${trigger})`);
  const by = text(r.by);
  if (by !== undefined) parts.push(`by ${by}`);
  if (typeof r.until === 'number') parts.push(`until ${iso(r.until)}`);
  const raised = Array.isArray(r.raised) ? r.raised.map(alarmOf) : [];
  const cleared = Array.isArray(r.cleared) ? r.cleared.map(String) : [];
  const alarmChange = [
    ...(raised.length > 0 ? [`raised ${raised.map((a) => a.kind).join(', ')}`] : []),
    ...(cleared.length > 0 ? [`cleared ${cleared.join(', ')}`] : []),
  ];
  if (alarmChange.length > 0) parts.push(alarmChange.join('; '));
  if (r.dryRun === true) parts.push('(dry run)');
  const lines = [`${iso(entry.at)}  ${parts.join(' ')}`];
  for (const alarm of raised) lines.push(`    ${alarm.kind}: ${alarm.detail ?? 'no detail recorded'}`);
  const reason = text(r.reason);
  if (reason !== undefined) lines.push(`    reason: ${reason}`);
  const reasons = Array.isArray(r.reasons) ? r.reasons.map(String) : [];
  for (const line of reasons) lines.push(`    why: ${line}`);
  const changed = Array.isArray(r.routesChanged) ? r.routesChanged.length : undefined;
  if (changed !== undefined || typeof r.routesPlanned === 'number') {
    const outcome = [
      ...(typeof r.routesPlanned === 'number' ? [`${r.routesPlanned} planned`] : []),
      ...(changed !== undefined ? [`${changed} changed`] : ['outcome not recorded yet']),
      ...(r.elasticIpMoved === true ? ['Elastic IP moved'] : []),
      ...(typeof r.unconfirmed === 'number' && r.unconfirmed > 0 ? [`${r.unconfirmed} not confirmed`] : []),
    ];
    lines.push(`    routes: ${outcome.join(', ')}`);
  }
  const failures = Array.isArray(r.failures) ? r.failures.map(String) : [];
  for (const failure of failures) lines.push(`    failed: ${failure}`);
  const alarms = Array.isArray(r.alarms) ? r.alarms.map(alarmOf) : [];
  for (const alarm of alarms)
    lines.push(`    alarm ${alarm.kind}${alarm.detail !== undefined ? `: ${alarm.detail}` : ''}`);
  return lines.join('\n');
}

/** An alarm as a record holds it: its kind, and its detail when there is one. */
function alarmOf(value: unknown): { readonly kind: string; readonly detail?: string } {
  const a = value as { kind?: unknown; detail?: unknown };
  return { kind: String(a.kind), ...(typeof a.detail === 'string' ? { detail: a.detail } : {}) };
}

/** Run the command; resolves to the exit status. */
export async function runHistory(
  pair: string,
  options: HistoryOptions,
  io: CliIo,
  deps: OperatorDeps = {},
): Promise<number> {
  return runOperator(io, 'history', async () => {
    const seconds = parseDurationSeconds(options.since);
    if (seconds === undefined) {
      throw new CliError(
        `invalid --since: expected a duration like 90m, 24h or 7d (got ${JSON.stringify(options.since)})`,
        OPERATOR_EXIT.invalid,
      );
    }
    const clock = clockOf(deps);
    const clients = clientsFor(options, deps);
    const deployment = await requireDeployment(clients, stackNameOf(options, deps.env ?? process.env));
    const store = new StateStore({ dynamo: clients.dynamo, tableName: deployment.tableName, clock });
    const from = clock.now() - seconds * 1000;
    const newestFirst = await store.listHistory(pair, HISTORY_LIMIT);
    const entries = newestFirst.filter((e) => e.at >= from).reverse();
    const truncated = newestFirst.length === HISTORY_LIMIT && entries.length === HISTORY_LIMIT;
    if (options.json) {
      const lines: HistoryLine[] = entries.map((e) => ({ at: iso(e.at), record: e.record }));
      io.stdout(
        `${JSON.stringify({ pair, since: iso(from), ...(truncated ? { truncated: true } : {}), entries: lines }, null, 2)}\n`,
      );
      return OPERATOR_EXIT.ok;
    }
    if (entries.length === 0) {
      io.stdout(`${pair}: nothing recorded since ${iso(from)}\n`);
      return OPERATOR_EXIT.ok;
    }
    if (truncated) io.stdout(`(the newest ${HISTORY_LIMIT} records only)\n`);
    io.stdout(`${entries.map(describeRecord).join('\n')}\n`);
    return OPERATOR_EXIT.ok;
  });
}

/** Add the history subcommand to the program. */
export function addHistoryCommand(program: Command, io: CliIo, deps: OperatorDeps = {}): Command {
  return withOperatorOptions(
    program
      .command('history')
      .description(
        'every move, alarm, pause and resume of a pair with its reasons, from the state table, newest last',
      )
      .argument('<pair>', 'the pair')
      .option('--since <duration>', 'how far back, e.g. 90m, 24h, 7d', DEFAULT_HISTORY_SINCE),
  ).action(async (pair: string, options: HistoryOptions) => {
    io.setExitCode(await runHistory(pair, options, io, deps));
  });
}
