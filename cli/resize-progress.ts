import type { AwsClients } from '../shared/aws/clients.ts';
import {
  describeExecution,
  type ExecutionDescription,
  type ExecutionEvent,
  readExecutionHistory,
} from '../shared/aws/sfn.ts';
import type { Clock } from '../shared/clock.ts';
import { formatSeconds } from '../shared/duration.ts';
import { ThrottledError } from '../shared/errors.ts';
import { RESIZE_ROLLED_BACK } from '../shared/resize/errors.ts';
import { causeMessage } from '../shared/resize/outcome.ts';
import { END_STATES, progressStep, RESIZE_STATES, type StageRoles } from '../shared/resize/states.ts';
import { interruptOnSigint, sleepUnless } from './operator.ts';
import type { CliIo } from './simulate.ts';

/**
 * Following a resize execution (`vpn-failover resize`, `--follow`): its history read as it grows and drawn as
 * a step list, a spinner on the current step on a terminal, plain timed lines otherwise, or NDJSON events.
 */

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** Consecutive failed looks at the execution tolerated while following (throttling, eventual consistency). */
const FOLLOW_ERRORS = 5;

/** How following looks and when it stops. */
export interface FollowDeps {
  /** draw a spinner (terminal) or plain lines. @default process.stdout.isTTY */
  readonly isTTY?: boolean;
  /** aborted when the user asks to stop following. @default Ctrl-C (SIGINT) while following */
  readonly interrupt?: AbortSignal;
  /** between two looks at the execution. @default 2000 (1000 on a terminal) */
  readonly pollMs?: number;
}

/** What following an execution needs. */
export interface FollowContext {
  readonly io: CliIo;
  readonly deps: FollowDeps;
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

/** How following ended: the resize succeeded, it failed (or could not be followed), or the user stopped following. */
export type FollowEnd = 'succeeded' | 'failed' | 'detached';

/**
 * Follow an execution until it ends or the user stops following: each new step on its own line (with a
 * spinner on the current one on a terminal), step failures as they happen, then how it ended.
 */
export async function follow(executionArn: string, context: FollowContext): Promise<FollowEnd> {
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
          return 'failed';
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
): FollowEnd {
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
  const code = description.status === 'SUCCEEDED' && result === 'succeeded' ? 'succeeded' : 'failed';
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
      `\r\x1b[2K${code === 'succeeded' ? '✓' : '✗'} ${progress.label} ${elapsed(progress.stepStartedAt, description.stoppedAt ?? 0)}\n`,
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

function detached(executionArn: string, context: FollowContext, tty: boolean): FollowEnd {
  const { io, json } = context;
  if (json) {
    io.stdout(`${JSON.stringify({ event: 'detached', executionArn })}\n`);
  } else {
    if (tty) io.stdout('\n');
    io.stdout(
      `Stopped following. The resize goes on in Step Functions:\n  ${executionArn}\nFollow it again: vpn-failover resize --follow ${executionArn}\n`,
    );
  }
  return 'detached';
}
