import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { AwsError } from '../../shared/aws/errors.ts';
import { describeExecution, readExecutionHistory, startExecution } from '../../shared/aws/sfn.ts';
import { ThrottledError } from '../../shared/errors.ts';

const sfnMock = mockClient(SFNClient);
// The stub replaces the client class's send for the whole worker: give it back for the next file.
afterAll(() => sfnMock.restore());
const sfn = new SFNClient({ maxAttempts: 1 });
const ARN = 'arn:aws:states:eu-west-1:123456789012:execution:Resize:resize-branch-a-20260101T000000Z';

beforeEach(() => {
  sfnMock.reset();
});

const event = (id: number, type: string, details: Partial<HistoryEvent> = {}): HistoryEvent => ({
  id,
  type: type as HistoryEvent['type'],
  timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, id)),
  ...details,
});

describe('starting an execution', () => {
  it('sends the input as JSON under the given name', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .resolves({ executionArn: ARN, startDate: new Date(Date.UTC(2026, 0, 1)) });

    const started = await startExecution(sfn, {
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Resize',
      name: 'resize-branch-a-20260101T000000Z',
      input: { pair: 'branch-a', instanceType: 'c6in.xlarge' },
    });

    expect(started).toEqual({ executionArn: ARN, startedAt: Date.UTC(2026, 0, 1) });
    expect(sfnMock).toHaveReceivedCommandWith(StartExecutionCommand, {
      name: 'resize-branch-a-20260101T000000Z',
      input: '{"pair":"branch-a","instanceType":"c6in.xlarge"}',
    });
  });

  it('reports a name already used as AwsError with the code ExecutionAlreadyExists', async () => {
    sfnMock
      .on(StartExecutionCommand)
      .rejects(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }));

    const error = await startExecution(sfn, { stateMachineArn: 'arn', name: 'n', input: {} }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(AwsError);
    expect((error as AwsError).code).toBe('ExecutionAlreadyExists');
  });
});

describe('describing an execution', () => {
  it('parses the output document and keeps the error and cause of a failed one', async () => {
    sfnMock.on(DescribeExecutionCommand).resolves({
      executionArn: ARN,
      status: 'FAILED',
      startDate: new Date(1000),
      stopDate: new Date(5000),
      error: 'ResizeRolledBack',
      cause: 'rolled back after SoakFailedError',
      stateMachineArn: 'arn',
    });

    expect(await describeExecution(sfn, ARN)).toEqual({
      executionArn: ARN,
      status: 'FAILED',
      startedAt: 1000,
      stoppedAt: 5000,
      error: 'ResizeRolledBack',
      cause: 'rolled back after SoakFailedError',
    });
  });

  it('turns throttling into ThrottledError', async () => {
    sfnMock
      .on(DescribeExecutionCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));

    await expect(describeExecution(sfn, ARN)).rejects.toThrow(ThrottledError);
  });
});

describe('reading the history of an execution', () => {
  it('returns only the events after the last one seen, oldest first, reading newest first', async () => {
    sfnMock.on(GetExecutionHistoryCommand).resolves({
      events: [
        event(5, 'LambdaFunctionFailed', {
          lambdaFunctionFailedEventDetails: { error: 'ThrottledError', cause: '{}' },
        }),
        event(4, 'TaskStateEntered', { stateEnteredEventDetails: { name: 'Resize first member: stop' } }),
        event(3, 'TaskStateExited', { stateExitedEventDetails: { name: 'Preflight', output: '{"ctx":{}}' } }),
      ],
      nextToken: 'more',
    });

    const events = await readExecutionHistory(sfn, ARN, 3);

    expect(events.map((e) => [e.id, e.type, e.state, e.error])).toEqual([
      [4, 'TaskStateEntered', 'Resize first member: stop', undefined],
      [5, 'LambdaFunctionFailed', undefined, 'ThrottledError'],
    ]);
    expect(sfnMock).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 1);
    expect(sfnMock).toHaveReceivedCommandWith(GetExecutionHistoryCommand, { reverseOrder: true });
  });

  it('follows the pages until the first known event', async () => {
    sfnMock
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: [event(2, 'PassStateExited')], nextToken: 'page-2' })
      .resolvesOnce({ events: [event(1, 'ExecutionStarted')] });

    expect((await readExecutionHistory(sfn, ARN)).map((e) => e.id)).toEqual([1, 2]);
    expect(sfnMock).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 2);
  });
});
