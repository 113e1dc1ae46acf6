import * as z from 'zod';
import { problemsOf } from '../config/load.ts';
import { durationText, shown, toSeconds } from '../config/schema.ts';
import { AGENT_ITEM, instanceIdOfMemberKey } from '../domain/agent.ts';
import { formatSeconds } from '../duration.ts';
import { BadEventError } from '../errors.ts';
import type { Trigger } from './types.ts';

/**
 * The events the controller accepts, each turned into a Trigger (which pairs to look at). Anything else is
 * rejected with an error naming the problem, before any AWS call.
 */

/** The input the product's EventBridge Scheduler schedule sends. */
export const SCHEDULE_INPUT = { action: 'schedule' } as const;

const schedule = z.strictObject({ action: z.literal('schedule') });

/** A legacy EventBridge scheduled rule, accepted so an existing rule can drive the controller too. */
const scheduledRule = z.looseObject({
  source: z.literal('aws.events'),
  'detail-type': z.literal('Scheduled Event'),
});

/** https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ec2.html: EC2 state-change events may be late, duplicated or reordered; only the id is used. */
const instanceStateChange = z.looseObject({
  source: z.literal('aws.ec2'),
  'detail-type': z.literal('EC2 Instance State-change Notification'),
  detail: z.looseObject({ 'instance-id': z.string().regex(/^i-[0-9a-f]+$/), state: z.string() }),
});

const alarmStateChange = z.looseObject({
  source: z.literal('aws.cloudwatch'),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  detail: z.looseObject({ alarmName: z.string().min(1), state: z.looseObject({ value: z.string() }) }),
});

const reconcile = z.strictObject({ action: z.literal('reconcile'), pair: z.string().min(1).optional() });

const failover = z.strictObject({
  action: z.literal('failover'),
  pair: z.string().min(1),
  to: z.enum(['standby', 'primary']),
  force: z.boolean().default(false),
});

/**
 * One record of the agent table's stream (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.Lambda.html).
 * Only the key is read: it names the sender (IAM binds it); the new image is what the sender claims, and the
 * controller reads the table itself anyway.
 */
const streamRecord = z.looseObject({
  eventSource: z.literal('aws:dynamodb'),
  eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
  dynamodb: z.looseObject({
    Keys: z.looseObject({ [AGENT_ITEM.member]: z.looseObject({ S: z.string() }) }),
  }),
});

/**
 * The agent table's stream event: the instances whose agents wrote. A record of another source is not this
 * product's stream (rejected). A record the controller cannot use (an expired report's removal, a key that is
 * no instance ARN) is ignored and said why: failing the whole batch would only make Lambda retry it, holding
 * back the shard's later reports.
 */
function parseStreamEvent(records: unknown): Trigger {
  if (!Array.isArray(records) || records.length === 0) {
    throw new BadEventError('malformed DynamoDB stream event: Records must be a non-empty array');
  }
  const instanceIds = new Set<string>();
  const ignored: string[] = [];
  for (const [i, raw] of records.entries()) {
    const source = (raw as { eventSource?: unknown } | null)?.eventSource;
    if (source !== 'aws:dynamodb') {
      throw new BadEventError(
        `Records[${i}]: eventSource ${JSON.stringify(source) ?? 'missing'} is not a DynamoDB stream (expected "aws:dynamodb")`,
      );
    }
    const parsed = streamRecord.safeParse(raw);
    if (!parsed.success)
      throw new BadEventError(describe(`DynamoDB stream record Records[${i}]`, parsed.error));
    const key = parsed.data.dynamodb.Keys[AGENT_ITEM.member].S;
    if (parsed.data.eventName === 'REMOVE') {
      ignored.push(`Records[${i}]: the report of ${key} was removed (expired), not written`);
      continue;
    }
    const instanceId = instanceIdOfMemberKey(key);
    if (instanceId === undefined) {
      ignored.push(`Records[${i}]: key ${JSON.stringify(key)} is no instance ARN`);
      continue;
    }
    instanceIds.add(instanceId);
  }
  return {
    kind: 'agent-report',
    instanceIds: [...instanceIds],
    ...(ignored.length > 0 ? { ignored } : {}),
  };
}
/** The shortest and longest pause an operator may ask for: a minute, and a week. */
export const PAUSE_MIN_SECONDS = 60;
export const PAUSE_MAX_SECONDS = 7 * 86_400;
/** The longest reason (and name of who paused) a pause stores. */
export const PAUSE_TEXT_MAX = 200;

/** Printable text: no control characters (a reason is shown on one line in status and history). */
const printable = (what: string) =>
  z
    .string({ error: (iss) => `expected ${what} (got ${shown(iss.input)})` })
    .refine((text) => text.trim().length > 0, { error: `expected ${what}, not blank` })
    .refine((text) => [...text].length <= PAUSE_TEXT_MAX, {
      error: (iss) => `expected at most ${PAUSE_TEXT_MAX} characters (got ${[...String(iss.input)].length})`,
    })
    .refine((text) => /^\P{Cc}*$/u.test(text), {
      error: 'expected printable characters only (no tabs, newlines or other control characters)',
    });

/** A pause's length: a duration from PAUSE_MIN_SECONDS to PAUSE_MAX_SECONDS, in seconds (scenario files use it too). */
export const pauseDuration = durationText.transform((written, ctx) => {
  const seconds = toSeconds(written, ctx);
  if (seconds === z.NEVER) return seconds;
  if (seconds < PAUSE_MIN_SECONDS || seconds > PAUSE_MAX_SECONDS) {
    ctx.addIssue({
      code: 'custom',
      message: `expected a pause from ${formatSeconds(PAUSE_MIN_SECONDS)} to 7d (got ${shown(written)})`,
    });
  }
  return seconds;
});

/** A pause's reason: printable, 1 to PAUSE_TEXT_MAX characters (scenario files use it too). */
export const pauseReason = printable('a reason for the pause');

const pause = z.strictObject({
  action: z.literal('pause'),
  pair: z.string().min(1),
  for: pauseDuration,
  reason: pauseReason,
  by: printable('who pauses the pair').optional(),
});

const resume = z.strictObject({
  action: z.literal('resume'),
  pair: z.string().min(1),
  by: printable('who resumes the pair').optional(),
});

/** Turn a Lambda event into a Trigger, or throw BadEventError saying what is wrong. */
export function parseEvent(event: unknown): Trigger {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) {
    throw new BadEventError(`expected an event object (got ${JSON.stringify(event) ?? String(event)})`);
  }
  const record = event as Record<string, unknown>;
  if ('Records' in record) return parseStreamEvent(record.Records);
  if ('action' in record) {
    const parsers = { schedule, reconcile, failover, pause, resume } as const;
    const action = record.action;
    // An own-property test: `in` would also find what every object inherits ("constructor", "__proto__"...).
    if (typeof action !== 'string' || !Object.hasOwn(parsers, action)) {
      throw new BadEventError(
        `unknown action ${JSON.stringify(action)} (expected schedule, reconcile, failover, pause or resume)`,
      );
    }
    const parsed = parsers[action as keyof typeof parsers].safeParse(event);
    if (!parsed.success) throw new BadEventError(describe(`${action} command`, parsed.error));
    const command = parsed.data;
    switch (command.action) {
      case 'schedule':
        return { kind: 'schedule' };
      case 'reconcile':
        return command.pair === undefined ? { kind: 'reconcile' } : { kind: 'reconcile', pair: command.pair };
      case 'failover':
        return { kind: 'failover', pair: command.pair, to: command.to, force: command.force };
      case 'pause':
        return {
          kind: 'pause',
          pair: command.pair,
          seconds: command.for,
          reason: command.reason,
          ...(command.by !== undefined && { by: command.by }),
        };
      case 'resume':
        return { kind: 'resume', pair: command.pair, ...(command.by !== undefined && { by: command.by }) };
    }
  }
  const detailType = record['detail-type'];
  if (detailType === 'EC2 Instance State-change Notification') {
    const parsed = instanceStateChange.safeParse(event);
    if (!parsed.success) throw new BadEventError(describe('EC2 state-change event', parsed.error));
    return {
      kind: 'instance-state-change',
      instanceId: parsed.data.detail['instance-id'],
      state: parsed.data.detail.state,
    };
  }
  if (detailType === 'CloudWatch Alarm State Change') {
    const parsed = alarmStateChange.safeParse(event);
    if (!parsed.success) throw new BadEventError(describe('alarm state-change event', parsed.error));
    return { kind: 'alarm', alarmName: parsed.data.detail.alarmName, state: parsed.data.detail.state.value };
  }
  if (scheduledRule.safeParse(event).success) return { kind: 'schedule' };
  throw new BadEventError(
    `unrecognised event (source ${JSON.stringify(record.source)}, detail-type ${JSON.stringify(detailType)}); ` +
      'expected a schedule, an EC2 state-change or alarm state-change event, the agent table\'s stream, or {"action": "reconcile" | "failover" | "pause" | "resume", ...}',
  );
}

function describe(what: string, error: z.ZodError): string {
  return `malformed ${what}: ${problemsOf(error)
    .map((p) => `${p.path || '(root)'}: ${p.message}`)
    .join('; ')}`;
}
