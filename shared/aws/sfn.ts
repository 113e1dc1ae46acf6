import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  type SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { toControllerError } from './errors.ts';

/**
 * The Step Functions gateway for starting and following an execution
 * (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html), in plain shapes. Failures throw typed errors: ThrottledError after the SDK's retries,
 * otherwise AwsError carrying the code (ExecutionAlreadyExists, ExecutionDoesNotExist, StateMachineDoesNotExist...).
 */

/** Execution statuses DescribeExecution reports. */
export type ExecutionStatus =
  | 'RUNNING'
  | 'SUCCEEDED'
  | 'FAILED'
  | 'TIMED_OUT'
  | 'ABORTED'
  | 'PENDING_REDRIVE';

/** A started execution. */
export interface StartedExecution {
  readonly executionArn: string;
  /** epoch ms */
  readonly startedAt: number;
}

/** An execution as DescribeExecution shows it (eventually consistent). */
export interface ExecutionDescription {
  readonly executionArn: string;
  readonly name?: string;
  readonly status: ExecutionStatus;
  /** epoch ms */
  readonly startedAt?: number;
  readonly stoppedAt?: number;
  /** the output document, parsed; absent until it succeeds */
  readonly output?: unknown;
  readonly error?: string;
  readonly cause?: string;
}

/** One history event, flattened to what a follower shows. */
export interface ExecutionEvent {
  readonly id: number;
  /** epoch ms */
  readonly at: number;
  /** HistoryEventType: TaskStateEntered, WaitStateExited, TaskFailed, ExecutionSucceeded... */
  readonly type: string;
  /** the state a *StateEntered / *StateExited event is about */
  readonly state?: string;
  /** the JSON text of the state's output, a task's result or the execution's output */
  readonly output?: string;
  readonly error?: string;
  readonly cause?: string;
}

/**
 * Start an execution. For a Standard state machine the same name with the same input while it runs returns the
 * original execution (idempotent); a different input, or a name used in the last 90 days, is
 * ExecutionAlreadyExists (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
 */
export async function startExecution(
  sfn: SFNClient,
  request: { readonly stateMachineArn: string; readonly name: string; readonly input: unknown },
): Promise<StartedExecution> {
  try {
    const result = await sfn.send(
      new StartExecutionCommand({
        stateMachineArn: request.stateMachineArn,
        name: request.name,
        input: JSON.stringify(request.input),
      }),
    );
    return { executionArn: result.executionArn ?? '', startedAt: result.startDate?.getTime() ?? 0 };
  } catch (error) {
    throw toControllerError(error, `StartExecution ${request.name}`);
  }
}

const parsed = (text: string | undefined): unknown => {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
};

/** Where an execution is now. */
export async function describeExecution(sfn: SFNClient, executionArn: string): Promise<ExecutionDescription> {
  try {
    const result = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    return {
      executionArn,
      ...(result.name ? { name: result.name } : {}),
      status: (result.status ?? 'RUNNING') as ExecutionStatus,
      ...(result.startDate ? { startedAt: result.startDate.getTime() } : {}),
      ...(result.stopDate ? { stoppedAt: result.stopDate.getTime() } : {}),
      ...(result.output !== undefined ? { output: parsed(result.output) } : {}),
      ...(result.error ? { error: result.error } : {}),
      ...(result.cause ? { cause: result.cause } : {}),
    };
  } catch (error) {
    throw toControllerError(error, `DescribeExecution ${executionArn}`);
  }
}

/** History pages are read newest first, this many events a call (GetExecutionHistory allows up to 1000). */
const HISTORY_PAGE = 200;

/**
 * The execution's history events after event `afterId` (0: all), oldest first. Reads newest first and stops at
 * the first known event, so following a long execution costs one call per poll.
 */
export async function readExecutionHistory(
  sfn: SFNClient,
  executionArn: string,
  afterId = 0,
): Promise<ExecutionEvent[]> {
  const fresh: ExecutionEvent[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          reverseOrder: true,
          maxResults: HISTORY_PAGE,
          nextToken,
        }),
      );
      for (const event of page.events ?? []) {
        if ((event.id ?? 0) <= afterId) return fresh.reverse();
        fresh.push(flatten(event));
      }
      nextToken = page.nextToken;
    } while (nextToken !== undefined);
  } catch (error) {
    throw toControllerError(error, `GetExecutionHistory ${executionArn}`);
  }
  return fresh.reverse();
}

function flatten(event: HistoryEvent): ExecutionEvent {
  const failure =
    event.taskFailedEventDetails ??
    event.lambdaFunctionFailedEventDetails ??
    event.executionFailedEventDetails ??
    event.lambdaFunctionTimedOutEventDetails ??
    event.taskTimedOutEventDetails ??
    event.executionTimedOutEventDetails ??
    event.executionAbortedEventDetails;
  const output =
    event.stateExitedEventDetails?.output ??
    event.taskSucceededEventDetails?.output ??
    event.lambdaFunctionSucceededEventDetails?.output ??
    event.executionSucceededEventDetails?.output;
  const state = event.stateEnteredEventDetails?.name ?? event.stateExitedEventDetails?.name;
  return {
    id: event.id ?? 0,
    at: event.timestamp?.getTime() ?? 0,
    type: event.type ?? 'Unknown',
    ...(state !== undefined ? { state } : {}),
    ...(output !== undefined ? { output } : {}),
    ...(failure?.error !== undefined ? { error: failure.error } : {}),
    ...(failure?.cause !== undefined ? { cause: failure.cause } : {}),
  };
}
