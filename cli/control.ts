import type { Command } from 'commander';
import type { OperatorClients } from '../shared/aws/clients.ts';
import { invokeFunction } from '../shared/aws/lambda.ts';
import { callerIdentity } from '../shared/aws/sts.ts';
import type { PairSummary, RunSummary } from '../shared/controller/types.ts';
import { parseDurationSeconds } from '../shared/duration.ts';
import { countOf } from '../shared/plural.ts';
import {
  CliError,
  clientsFor,
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
 * The commands that ask the deployed controller to do something, by invoking it synchronously with an operator
 * command and printing its answer:
 * - `vpn-failover failover PAIR --to primary|standby [--force]`
 * - `vpn-failover pause PAIR --for 2h --reason "..."` and `vpn-failover resume PAIR`
 * A refusal is the controller's answer (`refused`, one line): exit 3. A Lambda error (FunctionError, e.g. a
 * malformed command) is a failure: exit 1 with the Lambda's errorMessage. The same payloads work with
 * `aws lambda invoke` when this command line is not at hand.
 */

/** The options commander parses for failover. */
export interface FailoverOptions extends OperatorOptions {
  readonly to?: string;
  readonly force?: boolean;
}

/** The options commander parses for pause. */
export interface PauseOptions extends OperatorOptions {
  readonly for?: string;
  readonly reason?: string;
}

/** What the controller answered to an operator command, as printed with --json. */
export interface CommandOutcome {
  readonly command: 'failover' | 'pause' | 'resume';
  readonly pair: string;
  /** done: carried out (or nothing to do); refused: the controller said no; failed: it went wrong part way */
  readonly outcome: 'done' | 'refused' | 'failed';
  /** the controller's one line when it refused, or the failure */
  readonly reason?: string;
  /** the controller's summary of the pair's run */
  readonly summary?: PairSummary;
}

/** The controller's answer to one operator command: its run summary, or its refusal. */
type Answer = { readonly summary: RunSummary; readonly pair?: PairSummary };

/**
 * Send an operator command to the deployment's controller and wait for its answer. A Lambda error becomes a
 * CliError with the Lambda's own message on one line.
 */
async function sendCommand(
  clients: OperatorClients,
  options: OperatorOptions,
  deps: OperatorDeps,
  pair: string,
  payload: Record<string, unknown>,
): Promise<Answer> {
  const deployment = await requireDeployment(clients, stackNameOf(options, deps.env ?? process.env));
  const result = await invokeFunction(clients.lambda, deployment.functionName, payload);
  if (!result.ok) {
    const { errorType, errorMessage } = result.failure;
    const message = (errorMessage.split('\n')[0] ?? errorMessage).trim();
    throw new CliError(`the controller failed${errorType ? ` (${errorType})` : ''}: ${message}`);
  }
  const summary = result.payload as RunSummary;
  if (summary === null || typeof summary !== 'object' || !Array.isArray(summary.pairs)) {
    throw new CliError(
      `the controller answered something other than a run summary: ${JSON.stringify(result.payload)}`,
    );
  }
  const found = summary.pairs.find((p) => p.pair === pair);
  return { summary, ...(found ? { pair: found } : {}) };
}

/** The refusal in an answer, if it is one (the run's, or the pair's). */
const refusalOf = (answer: Answer): string | undefined =>
  (answer.summary as { refused?: string }).refused ??
  (answer.pair as { refused?: string } | undefined)?.refused;

/**
 * Who is asking, for the pause's record: the caller's ARN (GetCallerIdentity needs no permission), or $USER when
 * STS cannot be reached.
 */
async function whoAmI(clients: OperatorClients, deps: OperatorDeps): Promise<string | undefined> {
  try {
    return (await callerIdentity(clients.sts)).arn;
  } catch {
    return (deps.env ?? process.env).USER;
  }
}

/** Print the outcome (text or JSON) and return the exit status. */
function report(io: CliIo, json: boolean, outcome: CommandOutcome, text: string): number {
  const code =
    outcome.outcome === 'refused'
      ? OPERATOR_EXIT.refused
      : outcome.outcome === 'failed'
        ? OPERATOR_EXIT.failed
        : OPERATOR_EXIT.ok;
  if (json) {
    io.stdout(`${JSON.stringify(outcome, null, 2)}\n`);
  } else if (outcome.outcome === 'refused') {
    io.stderr(`vpn-failover ${outcome.command}: refused: ${outcome.reason}\n`);
  } else {
    io.stdout(text);
  }
  return code;
}

/** A failure the controller reported for the pair (a route write that failed, state it could not store). */
function failed(
  command: CommandOutcome['command'],
  pair: string,
  answer: Answer,
): CommandOutcome | undefined {
  if (answer.pair === undefined) {
    return {
      command,
      pair,
      outcome: 'failed',
      reason: `the controller's answer does not mention pair ${pair}`,
    };
  }
  if (answer.pair.error === undefined) return undefined;
  return { command, pair, outcome: 'failed', reason: answer.pair.error, summary: answer.pair };
}

/** What a failover did, in words. */
function describeMove(summary: PairSummary): string {
  const routes = summary.routesChanged;
  const lines: string[] = [];
  if (summary.dryRun && summary.from !== undefined && summary.to !== undefined) {
    lines.push(
      `${summary.pair}: dry run: would move traffic ${summary.from} -> ${summary.to}; nothing written`,
    );
  } else if (summary.moveStarted) {
    const extra = [
      `${countOf(routes.length, 'route')} changed`,
      ...(summary.elasticIpMoved ? ['Elastic IP moved'] : []),
    ];
    lines.push(`${summary.pair}: traffic moved ${summary.from} -> ${summary.to} (${extra.join(', ')})`);
  } else if (summary.plan === 'repair-routes') {
    lines.push(
      `${summary.pair}: traffic already on ${summary.active}; ${countOf(routes.length, 'route')} repaired`,
    );
  } else {
    lines.push(`${summary.pair}: traffic already on ${summary.active}: nothing moved`);
  }
  const sorted = [...routes].sort(
    (a, b) => a.routeTableId.localeCompare(b.routeTableId) || a.destination.localeCompare(b.destination),
  );
  for (const route of sorted) {
    lines.push(`  ${route.routeTableId} ${route.destination} ${route.action} -> ${route.to}`);
  }
  for (const reason of summary.reasons) lines.push(`  why: ${reason}`);
  return `${lines.join('\n')}\n`;
}

const ROLES_GIVEN = ['primary', 'standby'];

/** `failover PAIR --to primary|standby [--force]`; resolves to the exit status. */
export async function runFailover(
  pair: string,
  options: FailoverOptions,
  io: CliIo,
  deps: OperatorDeps = {},
): Promise<number> {
  return runOperator(io, 'failover', async () => {
    if (options.to === undefined || !ROLES_GIVEN.includes(options.to)) {
      throw new CliError(
        `which member? pass --to primary or --to standby${options.to !== undefined ? ` (got ${JSON.stringify(options.to)})` : ''}`,
        OPERATOR_EXIT.invalid,
      );
    }
    const clients = clientsFor(options, deps);
    const answer = await sendCommand(clients, options, deps, pair, {
      action: 'failover',
      pair,
      to: options.to,
      force: options.force === true,
    });
    const refused = refusalOf(answer);
    if (refused !== undefined) {
      return report(
        io,
        options.json === true,
        { command: 'failover', pair, outcome: 'refused', reason: refused },
        '',
      );
    }
    const failure = failed('failover', pair, answer);
    if (failure !== undefined) {
      if (!options.json && answer.pair) io.stdout(describeMove(answer.pair));
      if (!options.json) io.stderr(`vpn-failover failover: incomplete: ${failure.reason}\n`);
      return report(io, options.json === true, failure, '');
    }
    const summary = answer.pair as PairSummary;
    return report(
      io,
      options.json === true,
      { command: 'failover', pair, outcome: 'done', summary },
      describeMove(summary),
    );
  });
}

/** `pause PAIR --for DURATION --reason TEXT`; resolves to the exit status. */
export async function runPause(
  pair: string,
  options: PauseOptions,
  io: CliIo,
  deps: OperatorDeps = {},
): Promise<number> {
  return runOperator(io, 'pause', async () => {
    if (options.for === undefined || parseDurationSeconds(options.for) === undefined) {
      throw new CliError(
        `how long? pass --for DURATION, e.g. --for 2h${options.for !== undefined ? ` (got ${JSON.stringify(options.for)})` : ''}`,
        OPERATOR_EXIT.invalid,
      );
    }
    if (options.reason === undefined || options.reason.trim() === '') {
      throw new CliError(
        'why? pass --reason "..." (it is shown in status and history)',
        OPERATOR_EXIT.invalid,
      );
    }
    const clients = clientsFor(options, deps);
    const by = await whoAmI(clients, deps);
    const answer = await sendCommand(clients, options, deps, pair, {
      action: 'pause',
      pair,
      for: options.for,
      reason: options.reason,
      ...(by !== undefined ? { by } : {}),
    });
    return answered('pause', pair, answer, options, io, (summary) => {
      const { pause } = summary;
      return pause === undefined
        ? `${pair}: paused\n`
        : `${pair}: paused until ${new Date(pause.until).toISOString()}${pause.by ? ` by ${pause.by}` : ''}: ${pause.reason}\n  no automatic move until then (vpn-failover resume ${pair} ends it sooner); failover still works\n`;
    });
  });
}

/** `resume PAIR`; resolves to the exit status. */
export async function runResume(
  pair: string,
  options: OperatorOptions,
  io: CliIo,
  deps: OperatorDeps = {},
): Promise<number> {
  return runOperator(io, 'resume', async () => {
    const clients = clientsFor(options, deps);
    const by = await whoAmI(clients, deps);
    const answer = await sendCommand(clients, options, deps, pair, {
      action: 'resume',
      pair,
      ...(by !== undefined ? { by } : {}),
    });
    return answered(
      'resume',
      pair,
      answer,
      options,
      io,
      () => `${pair}: resumed: automatic moves are back on\n`,
    );
  });
}

/** Report a pause's or resume's answer: refused, failed, or done in the words `text` gives. */
function answered(
  command: 'pause' | 'resume',
  pair: string,
  answer: Answer,
  options: OperatorOptions,
  io: CliIo,
  text: (summary: PairSummary) => string,
): number {
  const refused = refusalOf(answer);
  if (refused !== undefined) {
    return report(io, options.json === true, { command, pair, outcome: 'refused', reason: refused }, '');
  }
  const failure = failed(command, pair, answer);
  if (failure !== undefined) {
    if (!options.json) io.stderr(`vpn-failover ${command}: incomplete: ${failure.reason}\n`);
    return report(io, options.json === true, failure, '');
  }
  const summary = answer.pair as PairSummary;
  return report(io, options.json === true, { command, pair, outcome: 'done', summary }, text(summary));
}

/** Add failover, pause and resume to the program. */
export function addControlCommands(program: Command, io: CliIo, deps: OperatorDeps = {}): void {
  withOperatorOptions(
    program
      .command('failover')
      .description('move a pair’s traffic to a member now (the controller checks it is healthy first)')
      .argument('<pair>', 'the pair')
      .option('--to <member>', 'primary or standby')
      .option('--force', 'move even if the target member is not healthy'),
  ).action(async (pair: string, options: FailoverOptions) => {
    io.setExitCode(await runFailover(pair, options, io, deps));
  });
  withOperatorOptions(
    program
      .command('pause')
      .description('hold a pair’s automatic moves for a while (operator failover still works)')
      .argument('<pair>', 'the pair')
      .option('--for <duration>', 'how long, e.g. 30m or 2h (at most 7d)')
      .option('--reason <text>', 'why (shown in status and history)'),
  ).action(async (pair: string, options: PauseOptions) => {
    io.setExitCode(await runPause(pair, options, io, deps));
  });
  withOperatorOptions(
    program.command('resume').description('end a pair’s pause now').argument('<pair>', 'the pair'),
  ).action(async (pair: string, options: OperatorOptions) => {
    io.setExitCode(await runResume(pair, options, io, deps));
  });
}
