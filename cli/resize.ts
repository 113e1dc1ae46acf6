import type { Command } from 'commander';
import { type AwsClients, createClients } from '../shared/aws/clients.ts';
import { describeInstanceTypes } from '../shared/aws/ec2-resize.ts';
import { InvalidInstanceTypeError } from '../shared/aws/errors.ts';
import {
  describeExecution,
  type ExecutionDescription,
  type ExecutionEvent,
  readExecutionHistory,
  startExecution,
} from '../shared/aws/sfn.ts';
import { type Clock, systemClock } from '../shared/clock.ts';
import { loadConfigFile } from '../shared/config/file.ts';
import { DEFAULT_CONFIG_PATH } from '../shared/config/load.ts';
import type { Config } from '../shared/config/schema.ts';
import { formatSeconds } from '../shared/duration.ts';
import { InputError, NamedError, ThrottledError } from '../shared/errors.ts';
import { silentLogger } from '../shared/logger.ts';
import { RESIZE_ROLLED_BACK } from '../shared/resize/errors.ts';
import { causeMessage } from '../shared/resize/outcome.ts';
import { describeResizePlan } from '../shared/resize/plan.ts';
import { resizeContext } from '../shared/resize/preflight.ts';
import { END_STATES, progressStep, RESIZE_STATES, type StageRoles } from '../shared/resize/states.ts';
import { dryRunPreflight } from '../shared/resize/step-preflight.ts';
import { executionName, parseResizeRequest, type ResizeRequest } from '../shared/resize/types.ts';
import { interruptOnSigint, sleepUnless } from './operator.ts';
import type { CliIo } from './simulate.ts';

/**
 * `vpn-failover resize PAIR --to TYPE`: start the resize workflow (a Step Functions execution) and follow it
 * until it ends, with a live step list. Exit status: 0 succeeded; 1 failed, rolled back or refused; 2 invalid
 * input (nothing started); 130 when Ctrl-C stopped following (the workflow goes on).
 */

/** Exit statuses. */
export const RESIZE_EXIT = { succeeded: 0, failed: 1, invalid: 2, detached: 130 } as const;

/** Environment variables the command reads. */
export const RESIZE_ENV = {
  stateMachineArn: 'VPN_FAILOVER_STATE_MACHINE_ARN',
  tableName: 'VPN_FAILOVER_TABLE',
  probeDocument: 'VPN_FAILOVER_PROBE_DOCUMENT',
} as const;

/** What the command runs with; everything has a production default, tests inject the simulator's. */
export interface ResizeCliDeps {
  /** @default createClients() with the caller's credentials and Region */
  readonly clients?: () => AwsClients;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** draw a spinner (terminal) or plain lines. @default process.stdout.isTTY */
  readonly isTTY?: boolean;
  /** aborted when the user asks to stop following. @default Ctrl-C (SIGINT) while following */
  readonly interrupt?: AbortSignal;
  /** between two looks at the execution. @default 2000 (1000 on a terminal) */
  readonly pollMs?: number;
}

/** The command's options as commander parses them. */
export interface ResizeOptions {
  readonly to?: string;
  readonly failback: boolean;
  readonly soak: string;
  readonly dryRun?: boolean;
  readonly json?: boolean;
  readonly config: string;
  readonly stateMachineArn?: string;
  readonly follow?: string;
  readonly table?: string;
  readonly probeDocument?: string;
}

/** A failure the user must fix before anything starts. */
export class UsageError extends NamedError {
  static override readonly NAME = 'UsageError';
}

/** Run the command; resolves to the exit status. */
export async function runResize(
  pair: string | undefined,
  options: ResizeOptions,
  io: CliIo,
  deps: ResizeCliDeps = {},
): Promise<number> {
  const env = deps.env ?? process.env;
  const clock = deps.clock ?? systemClock;
  const getClients = lazy(deps.clients ?? (() => createClients()));
  try {
    if (options.follow !== undefined) {
      return await follow(options.follow, {
        io,
        deps,
        clock,
        clients: getClients(),
        json: options.json === true,
      });
    }
    const { config, request } = validate(pair, options);
    await checkTypeExists(getClients(), request.instanceType, io);
    if (options.dryRun) {
      return await dryRun(request, config, options, { io, clock, clients: getClients(), env });
    }
    const stateMachineArn = options.stateMachineArn ?? env[RESIZE_ENV.stateMachineArn];
    if (!stateMachineArn) {
      throw new UsageError(
        `no state machine: pass --state-machine-arn or set ${RESIZE_ENV.stateMachineArn} (the stack output ResizeStateMachineArn)`,
      );
    }
    const input = {
      pair: request.pair,
      instanceType: request.instanceType,
      failback: request.failback,
      soak: request.soak,
    };
    const name = executionName(request.pair, clock.now());
    const started = await startExecution(getClients().sfn, { stateMachineArn, name, input });
    if (options.json) {
      io.stdout(
        `${JSON.stringify({ event: 'started', execution: name, executionArn: started.executionArn, input })}\n`,
      );
    } else {
      io.stdout(
        `Resizing ${request.pair} to ${request.instanceType}: execution ${name}\n  ${started.executionArn}\n`,
      );
    }
    return await follow(started.executionArn, {
      io,
      deps,
      clock,
      clients: getClients(),
      json: options.json === true,
    });
  } catch (error) {
    if (error instanceof UsageError || error instanceof InputError) {
      io.stderr(`vpn-failover resize: ${error.message}\n`);
      return RESIZE_EXIT.invalid;
    }
    throw error;
  }
}

function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= make();
    return value;
  };
}

/** Every check that needs no AWS call: the configuration, the pair, the request's fields. */
function validate(
  pair: string | undefined,
  options: ResizeOptions,
): { config: Config; request: ResizeRequest } {
  if (pair === undefined) throw new UsageError('which pair? usage: vpn-failover resize PAIR --to TYPE');
  if (options.to === undefined)
    throw new UsageError('which instance type? pass --to TYPE (e.g. --to c6in.xlarge)');
  const config = loadConfigFile(options.config);
  if (!config.pairs.some((p) => p.name === pair)) {
    throw new UsageError(
      `unknown pair "${pair}" in ${options.config} (configured: ${config.pairs.map((p) => p.name).join(', ')})`,
    );
  }
  const request = parseResizeRequest({
    pair,
    instanceType: options.to,
    failback: options.failback,
    soak: options.soak,
  });
  return { config, request };
}

/**
 * Ask EC2 whether the type exists before starting anything. Only "EC2 does not know it" stops here; any other
 * failure (no permission for DescribeInstanceTypes...) is reported and left to the workflow's preflight.
 */
async function checkTypeExists(clients: AwsClients, instanceType: string, io: CliIo): Promise<void> {
  try {
    const found = await describeInstanceTypes(clients.ec2, [instanceType]);
    if (found.length === 0) throw new UsageError(`EC2 does not know instance type ${instanceType}`);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    if (error instanceof InvalidInstanceTypeError)
      throw new UsageError(`EC2 does not know instance type ${instanceType}`, { cause: error });
    io.stderr(
      `note: could not check instance type ${instanceType} (${(error as Error).message}); the preflight will\n`,
    );
  }
}

/** --dry-run: the preflight's checks, read-only (no lease), and the plan; nothing is started. */
async function dryRun(
  request: ResizeRequest,
  config: Config,
  options: ResizeOptions,
  context: {
    io: CliIo;
    clock: Clock;
    clients: AwsClients;
    env: Readonly<Record<string, string | undefined>>;
  },
): Promise<number> {
  const { io, env } = context;
  const tableName = options.table ?? env[RESIZE_ENV.tableName];
  const probeDocument = options.probeDocument ?? env[RESIZE_ENV.probeDocument];
  if (!tableName || !probeDocument) {
    throw new UsageError(
      `--dry-run reads the pair's state and probes its members: pass --table and --probe-document, or set ${RESIZE_ENV.tableName} and ${RESIZE_ENV.probeDocument} (the stack outputs)`,
    );
  }
  const deps = {
    clients: context.clients,
    config,
    tableName,
    probeDocument,
    clock: context.clock,
    log: silentLogger,
  };
  const { pair, facts, result } = await dryRunPreflight(deps, request);
  const plan = result.ok ? describeResizePlan(pair, resizeContext(facts, result, '(dry run)')) : [];
  if (options.json) {
    io.stdout(
      `${JSON.stringify({ dryRun: true, pair: pair.name, instanceType: request.instanceType, failback: request.failback, soakSeconds: request.soak, preflight: result, plan }, null, 2)}\n`,
    );
  } else {
    io.stdout(`Dry run: resize ${pair.name} to ${request.instanceType} (nothing is started)\n\nPreflight:\n`);
    for (const check of result.checks)
      io.stdout(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name}: ${check.detail}\n`);
    if (result.ok) {
      io.stdout('\nPlan:\n');
      plan.forEach((stage, i) => {
        io.stdout(`  ${i + 1}. ${stage.title}: ${stage.detail}\n`);
      });
    } else {
      io.stdout('\nThe workflow would refuse this resize; nothing would be stopped.\n');
    }
  }
  return result.ok ? RESIZE_EXIT.succeeded : RESIZE_EXIT.failed;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** Consecutive failed looks at the execution tolerated while following (throttling, eventual consistency). */
const FOLLOW_ERRORS = 5;

interface FollowContext {
  readonly io: CliIo;
  readonly deps: ResizeCliDeps;
  readonly clock: Clock;
  readonly clients: AwsClients;
  readonly json: boolean;
}

/** The step list as it is drawn. */
interface Progress {
  roles: StageRoles;
  group?: string;
  label?: string;
  stepStartedAt?: number;
  startedAt?: number;
  lastId: number;
  frame: number;
  /** how the execution ended, from the end state it entered */
  result?: 'succeeded' | 'refused' | 'rolled-back' | 'failed';
}

/**
 * Follow an execution until it ends or the user stops following: each new step on its own line (with a
 * spinner on the current one on a terminal), step failures as they happen, then how it ended.
 */
async function follow(executionArn: string, context: FollowContext): Promise<number> {
  const { io, deps, clock, clients, json } = context;
  const tty = !json && (deps.isTTY ?? process.stdout.isTTY === true);
  const pollMs = deps.pollMs ?? (tty ? 1000 : 2000);
  const stop = deps.interrupt ? { signal: deps.interrupt, release: () => {} } : interruptOnSigint();
  const progress: Progress = { roles: {}, lastId: 0, frame: 0 };
  let failures = 0;
  try {
    for (;;) {
      if (stop.signal.aborted) return detached(executionArn, context, tty);
      let description: ExecutionDescription | undefined;
      try {
        const events = await readExecutionHistory(clients.sfn, executionArn, progress.lastId);
        for (const event of events) show(event, progress, context, tty);
        description = await describeExecution(clients.sfn, executionArn);
        failures = 0;
      } catch (error) {
        failures += 1;
        const transient =
          error instanceof ThrottledError || /ExecutionDoesNotExist/.test(String((error as Error).message));
        if (!transient || failures >= FOLLOW_ERRORS) {
          if (tty) io.stdout('\n');
          io.stderr(`vpn-failover resize: cannot follow ${executionArn}: ${(error as Error).message}\n`);
          return RESIZE_EXIT.failed;
        }
      }
      if (description !== undefined && description.status !== 'RUNNING') {
        const rest = await readExecutionHistory(clients.sfn, executionArn, progress.lastId);
        for (const event of rest) show(event, progress, context, tty);
        return finished(description, progress, context, tty);
      }
      if (tty && progress.label !== undefined) spin(progress, io, clock);
      await sleepUnless(clock, pollMs, stop.signal);
    }
  } finally {
    stop.release();
  }
}

const elapsed = (from: number | undefined, to: number): string =>
  from === undefined ? '' : formatSeconds(Math.max(0, (to - from) / 1000));

/** One history event: a new step, a step failure, or the roles once the preflight has said. */
function show(event: ExecutionEvent, progress: Progress, context: FollowContext, tty: boolean): void {
  const { io, json } = context;
  progress.lastId = Math.max(progress.lastId, event.id);
  progress.startedAt ??= event.at;
  const t = Math.round((event.at - progress.startedAt) / 100) / 10;
  if (
    event.type === 'TaskStateExited' &&
    event.state === RESIZE_STATES.preflight &&
    event.output !== undefined
  ) {
    const ctx = (JSON.parse(event.output) as { ctx?: StageRoles }).ctx;
    if (ctx?.first) progress.roles = { first: ctx.first, ...(ctx.second ? { second: ctx.second } : {}) };
  }
  if ((event.type === 'LambdaFunctionFailed' || event.type === 'TaskFailed') && event.error !== undefined) {
    const message = causeMessage({
      Error: event.error,
      ...(event.cause !== undefined ? { Cause: event.cause } : {}),
    });
    if (json) {
      io.stdout(
        `${JSON.stringify({ event: 'error', t, step: progress.label, error: event.error, message })}\n`,
      );
    } else {
      if (tty) io.stdout('\r\x1b[2K');
      io.stdout(`${tty ? '  ' : `[${clockText(t)}]   `}! ${event.error}: ${firstLine(message)}\n`);
    }
    return;
  }
  if (event.state === undefined || !event.type.endsWith('StateEntered')) return;
  const ended = END_STATES[event.state];
  if (ended !== undefined) {
    progress.result = ended;
    return;
  }
  const step = progressStep(event.state, progress.roles);
  if (step === undefined || step.group === progress.group) return;
  if (json) {
    io.stdout(`${JSON.stringify({ event: 'step', t, step: step.label })}\n`);
  } else if (tty) {
    if (progress.label !== undefined) {
      io.stdout(`\r\x1b[2K✓ ${progress.label} ${elapsed(progress.stepStartedAt, event.at)}\n`);
    }
  } else {
    io.stdout(`[${clockText(t)}] ${step.label}\n`);
  }
  progress.group = step.group;
  progress.label = step.label;
  progress.stepStartedAt = event.at;
}

const clockText = (seconds: number): string => {
  const whole = Math.floor(seconds);
  return `${String(Math.floor(whole / 60)).padStart(3, ' ')}:${String(whole % 60).padStart(2, '0')}`;
};

const firstLine = (text: string): string => text.split('\n')[0] ?? text;

function spin(progress: Progress, io: CliIo, clock: Clock): void {
  progress.frame = (progress.frame + 1) % SPINNER.length;
  io.stdout(
    `\r\x1b[2K${SPINNER[progress.frame]} ${progress.label} ${elapsed(progress.stepStartedAt, clock.now())}`,
  );
}

/** How the execution ended, from its end state (the outcome's own words) or its status. */
function finished(
  description: ExecutionDescription,
  progress: Progress,
  context: FollowContext,
  tty: boolean,
): number {
  const { io, json } = context;
  const output = description.output as { outcome?: { status?: string; message?: string } } | undefined;
  const result =
    output?.outcome?.status ??
    progress.result ??
    (description.status === 'SUCCEEDED'
      ? 'succeeded'
      : description.error === RESIZE_ROLLED_BACK
        ? 'rolled-back'
        : 'failed');
  const message = output?.outcome?.message ?? description.cause ?? description.error ?? description.status;
  const code =
    description.status === 'SUCCEEDED' && result === 'succeeded' ? RESIZE_EXIT.succeeded : RESIZE_EXIT.failed;
  const took =
    description.startedAt !== undefined && description.stoppedAt !== undefined
      ? formatSeconds((description.stoppedAt - description.startedAt) / 1000)
      : undefined;
  if (json) {
    io.stdout(
      `${JSON.stringify({
        event: 'finished',
        executionArn: description.executionArn,
        status: description.status,
        result,
        ...(description.error ? { error: description.error } : {}),
        ...(took
          ? { durationSeconds: ((description.stoppedAt ?? 0) - (description.startedAt ?? 0)) / 1000 }
          : {}),
        message,
      })}\n`,
    );
    return code;
  }
  if (tty && progress.label !== undefined) {
    io.stdout(
      `\r\x1b[2K${code === 0 ? '✓' : '✗'} ${progress.label} ${elapsed(progress.stepStartedAt, description.stoppedAt ?? 0)}\n`,
    );
  }
  const headline =
    {
      succeeded: 'Resize succeeded',
      'rolled-back': 'Resize rolled back',
      refused: `Resize refused${description.error ? ` (${description.error})` : ''}`,
      failed: `Resize failed${description.error ? ` (${description.error})` : ''}`,
    }[result as 'succeeded' | 'rolled-back' | 'refused' | 'failed'] ?? `Resize ${result}`;
  io.stdout(`\n${headline}${took ? ` after ${took}` : ''}.\n${message}\n`);
  return code;
}

function detached(executionArn: string, context: FollowContext, tty: boolean): number {
  const { io, json } = context;
  if (json) {
    io.stdout(`${JSON.stringify({ event: 'detached', executionArn })}\n`);
  } else {
    if (tty) io.stdout('\n');
    io.stdout(
      `Stopped following. The resize goes on in Step Functions:\n  ${executionArn}\nFollow it again: vpn-failover resize --follow ${executionArn}\n`,
    );
  }
  return RESIZE_EXIT.detached;
}

/** Add the resize subcommand to the program. */
export function registerResizeCommand(program: Command, io: CliIo, deps: ResizeCliDeps = {}): Command {
  return program
    .command('resize')
    .description(
      'resize both members of a pair without downtime (standby first, fail over, old primary, fail back)',
    )
    .argument('[pair]', 'the pair to resize (a name from the configuration)')
    .option('--to <type>', 'the new instance type, e.g. c6in.xlarge')
    .option(
      '--no-failback',
      'leave traffic on the member resized first instead of failing back to the primary',
    )
    .option(
      '--soak <duration>',
      'how long the resized member carries traffic before the other is touched',
      '2m',
    )
    .option('--dry-run', 'print the plan and the preflight checks without starting anything')
    .option('--json', 'print one JSON object per line (NDJSON) instead of the step list')
    .option('--config <file>', 'the configuration file', DEFAULT_CONFIG_PATH)
    .option('--state-machine-arn <arn>', `the resize state machine (default: $${RESIZE_ENV.stateMachineArn})`)
    .option('--follow <executionArn>', 'follow a resize already started (after Ctrl-C)')
    .option('--table <name>', `--dry-run: the state table (default: $${RESIZE_ENV.tableName})`)
    .option(
      '--probe-document <name>',
      `--dry-run: the probe document (default: $${RESIZE_ENV.probeDocument})`,
    )
    .action(async (pair: string | undefined, options: ResizeOptions) => {
      io.setExitCode(await runResize(pair, options, io, deps));
    });
}
