import { describe, expect, it } from 'vitest';
import { parseEvent, SCHEDULE_INPUT } from '../../shared/controller/events.ts';
import { BadEventError } from '../../shared/errors.ts';

describe('controller events', () => {
  it('turns the schedule input into a schedule trigger', () => {
    expect(parseEvent(SCHEDULE_INPUT)).toEqual({ kind: 'schedule' });
  });

  it('accepts a legacy EventBridge scheduled rule event as the schedule', () => {
    expect(parseEvent({ source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} })).toEqual({
      kind: 'schedule',
    });
  });

  it('takes only the instance id and state from an EC2 state-change event', () => {
    const event = {
      version: '0',
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      resources: ['arn:aws:ec2:eu-west-1:123456789012:instance/i-0123456789abcdef0'],
      detail: { 'instance-id': 'i-0123456789abcdef0', state: 'stopping' },
    };
    expect(parseEvent(event)).toEqual({
      kind: 'instance-state-change',
      instanceId: 'i-0123456789abcdef0',
      state: 'stopping',
    });
  });

  it('turns an alarm state change into an alarm trigger', () => {
    const event = {
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      detail: { alarmName: 'VpnFailover.pair.branch-a.degraded', state: { value: 'ALARM' } },
    };
    expect(parseEvent(event)).toEqual({
      kind: 'alarm',
      alarmName: 'VpnFailover.pair.branch-a.degraded',
      state: 'ALARM',
    });
  });

  it('accepts reconcile with or without a pair', () => {
    expect(parseEvent({ action: 'reconcile' })).toEqual({ kind: 'reconcile' });
    expect(parseEvent({ action: 'reconcile', pair: 'branch-a' })).toEqual({
      kind: 'reconcile',
      pair: 'branch-a',
    });
  });

  it('accepts a pause for a duration or a number of seconds, who paused optional, and a resume', () => {
    expect(
      parseEvent({ action: 'pause', pair: 'branch-a', for: '2h', reason: 'upgrade', by: 'alice' }),
    ).toEqual({
      kind: 'pause',
      pair: 'branch-a',
      seconds: 7200,
      reason: 'upgrade',
      by: 'alice',
    });
    expect(parseEvent({ action: 'pause', pair: 'branch-a', for: 60, reason: 'ünïcode ✓' })).toEqual({
      kind: 'pause',
      pair: 'branch-a',
      seconds: 60,
      reason: 'ünïcode ✓',
    });
    expect(parseEvent({ action: 'resume', pair: 'branch-a', by: 'bob' })).toEqual({
      kind: 'resume',
      pair: 'branch-a',
      by: 'bob',
    });
  });

  it.each([
    [
      { action: 'pause', pair: 'a', for: '7d1s', reason: 'x' },
      /for: expected a pause from 1m to 7d \(got "7d1s"\)/,
    ],
    [{ action: 'pause', pair: 'a', for: 'soon', reason: 'x' }, /for: .*\(got "soon"\)/],
    [
      { action: 'pause', pair: 'a', for: '1h', reason: '   ' },
      /reason: expected a reason for the pause, not blank/,
    ],
    [
      { action: 'pause', pair: 'a', for: '1h', reason: 'x'.repeat(201) },
      /reason: expected at most 200 characters \(got 201\)/,
    ],
    [
      { action: 'pause', pair: 'a', for: '1h', reason: 'x', by: 'tab\there' },
      /by: expected printable characters only/,
    ],
    [{ action: 'pause', pair: 'a', for: '1h', reason: 'x', force: true }, /malformed pause command/],
    [{ action: 'resume', pair: 'a', reason: 'x' }, /malformed resume command/],
  ])('rejects the malformed operator command %j naming the problem', (event, message) => {
    expect(() => parseEvent(event)).toThrow(BadEventError);
    expect(() => parseEvent(event)).toThrow(message);
  });

  it('accepts a failover command, force defaulting to false', () => {
    expect(parseEvent({ action: 'failover', pair: 'branch-a', to: 'standby' })).toEqual({
      kind: 'failover',
      pair: 'branch-a',
      to: 'standby',
      force: false,
    });
  });

  it.each([
    [null, /expected an event object/],
    ['reconcile', /expected an event object/],
    [{ action: 'reboot' }, /unknown action "reboot"/],
    [{ action: 'failover', pair: 'branch-a', to: 'sideways' }, /malformed failover command: to/],
    [{ action: 'failover', to: 'standby' }, /malformed failover command: pair/],
    [{ action: 'reconcile', pair: 'a', extra: 1 }, /malformed reconcile command/],
    [
      { source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification', detail: {} },
      /malformed EC2 state-change event/,
    ],
    [{ source: 'aws.s3', 'detail-type': 'Object Created' }, /unrecognised event/],
    [{}, /unrecognised event/],
  ])('rejects %j with a clear error', (event, message) => {
    expect(() => parseEvent(event)).toThrow(BadEventError);
    expect(() => parseEvent(event)).toThrow(message);
  });

  // Names every object inherits must not be taken for one of the commands.
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])(
    'rejects the action %j as an unknown action',
    (action) => {
      const event = JSON.parse(`{"action":${JSON.stringify(action)}}`);
      expect(() => parseEvent(event)).toThrow(BadEventError);
      expect(() => parseEvent(event)).toThrow(
        `unknown action ${JSON.stringify(action)} (expected schedule, reconcile, failover, pause or resume)`,
      );
    },
  );

  describe('the agent table stream', () => {
    const ARN = (id: string) => `arn:aws:ec2:eu-west-1:123456789012:instance/${id}`;
    const record = (key: string, overrides: Record<string, unknown> = {}) => ({
      eventID: '1',
      eventName: 'MODIFY',
      eventSource: 'aws:dynamodb',
      eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/agent/stream/2026-12-01T00:00:00.000',
      dynamodb: {
        Keys: { member: { S: key } },
        NewImage: {
          member: { S: key },
          instanceId: { S: 'i-0ffffffffffffffff' },
          verdict: { S: 'unhealthy' },
          kind: { S: 'change' },
        },
      },
      ...overrides,
    });

    it('names the instances the records are keyed by, not the instance the report body claims', () => {
      const event = {
        Records: [
          record(ARN('i-0123456789abcdef0')),
          record(ARN('i-0123456789abcdef1'), { eventName: 'INSERT' }),
          record(ARN('i-0123456789abcdef0')),
        ],
      };
      expect(parseEvent(event)).toEqual({
        kind: 'agent-report',
        instanceIds: ['i-0123456789abcdef0', 'i-0123456789abcdef1'],
      });
    });

    it('ignores, saying why, a record whose key is no instance ARN and a removed (expired) report', () => {
      const event = {
        Records: [
          record('i-0123456789abcdef0'),
          record(ARN('i-0123456789abcdef1'), { eventName: 'REMOVE' }),
          record(ARN('i-0123456789abcdef2')),
        ],
      };
      expect(parseEvent(event)).toEqual({
        kind: 'agent-report',
        instanceIds: ['i-0123456789abcdef2'],
        ignored: [
          'Records[0]: key "i-0123456789abcdef0" is no instance ARN',
          `Records[1]: the report of ${ARN('i-0123456789abcdef1')} was removed (expired), not written`,
        ],
      });
    });

    it.each([
      [{ Records: [] }, /Records must be a non-empty array/],
      [
        { Records: [record(ARN('i-0123456789abcdef0'), { eventSource: 'aws:sqs' })] },
        /Records\[0\]: eventSource "aws:sqs" is not a DynamoDB stream/,
      ],
      [
        {
          Records: [record(ARN('i-0123456789abcdef0')), { eventSource: 'aws:dynamodb', eventName: 'MODIFY' }],
        },
        /malformed DynamoDB stream record Records\[1\]: dynamodb/,
      ],
    ])('rejects %j with a clear error', (event, message) => {
      expect(() => parseEvent(event)).toThrow(BadEventError);
      expect(() => parseEvent(event)).toThrow(message);
    });
  });
});
