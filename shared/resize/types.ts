import * as z from 'zod';
import { problemsOf } from '../config/load.ts';
import { parseDurationSeconds } from '../duration.ts';
import { BadEventError, InputError } from '../errors.ts';
import { DEFAULT_SOAK_SECONDS, MAX_SOAK_SECONDS } from './policy.ts';

/**
 * The resize workflow's vocabulary: the execution input (what an operator asks for), the context the preflight
 * hands to every later step, and the events the one step Lambda accepts.
 */

/**
 * An EC2 instance type name: family, optional generation/attribute suffixes, a dot, a size ("c6in.xlarge",
 * "m7i-flex.large", "u-6tb1.112xlarge"). EC2 itself decides whether it exists (DescribeInstanceTypes).
 */
export const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;

const roleSchema = z.enum(['primary', 'standby']);

/** The execution input, as the console, `aws stepfunctions start-execution` and the CLI send it. */
const requestSchema = z.strictObject({
  pair: z.string({ error: 'expected a pair name' }).min(1, { error: 'expected a pair name' }),
  instanceType: z.string({ error: 'expected an instance type like "c6in.xlarge"' }).regex(INSTANCE_TYPE, {
    error: (iss) => `expected an instance type like "c6in.xlarge" (got ${JSON.stringify(iss.input)})`,
  }),
  /** Fail back to the primary at the end (default), or leave traffic where it is. */
  failback: z.boolean({ error: 'expected true or false' }).default(true),
  /** How long the resized member carries traffic before the other one is touched: "2m", "90s" or seconds. */
  soak: z
    .union([z.string(), z.number()], { error: 'expected a duration like "2m"' })
    .default(DEFAULT_SOAK_SECONDS)
    .transform((value, ctx) => {
      const seconds = parseDurationSeconds(value);
      if (seconds === undefined || seconds > MAX_SOAK_SECONDS) {
        ctx.addIssue({
          code: 'custom',
          message: `expected a duration like "90s", "2m" or "1h", at most 24h (got ${JSON.stringify(value)})`,
        });
        return z.NEVER;
      }
      return Math.round(seconds);
    }),
});

/** A validated resize request (soak in whole seconds). */
export type ResizeRequest = z.output<typeof requestSchema>;

/** The request as written in the execution input. */
export type ResizeRequestInput = z.input<typeof requestSchema>;

/** Validate an execution input; throws InputError listing every problem by its path. */
export function parseResizeRequest(input: unknown): ResizeRequest {
  const parsed = requestSchema.safeParse(input);
  if (!parsed.success) throw new InputError('resize request', problemsOf(parsed.error));
  return parsed.data;
}

/** Which of the two member resizes a step belongs to: the idle member goes first. */
export type Stage = 'first' | 'second';

const contextSchema = z.strictObject({
  pair: z.string().min(1),
  /** the lease owner: the execution name */
  owner: z.string().min(1),
  instanceType: z.string().regex(INSTANCE_TYPE),
  failback: z.boolean(),
  soakSeconds: z.number().int().nonnegative(),
  leaseSeconds: z.number().int().positive(),
  /** the member carrying traffic when the workflow started */
  activeAtStart: roleSchema,
  /** the member resized first (the idle one) and the one resized second */
  first: roleSchema,
  second: roleSchema,
  originalTypes: z.strictObject({ primary: z.string().min(1), standby: z.string().min(1) }),
  /** members already at the requested type: their stage is skipped */
  skip: z.strictObject({ first: z.boolean(), second: z.boolean() }),
});

/** What the preflight hands to every later step (kept small: it travels in the execution's state). */
export type ResizeContext = z.output<typeof contextSchema>;

const pollSchema = z.strictObject({
  attempt: z.number().int().nonnegative(),
  done: z.boolean(),
  /** soak only: epoch ms at which the soak time is over */
  soakUntil: z.number().optional(),
  /** soak only: consecutive soft-unhealthy readings of the resized member */
  unhealthyStreak: z.number().int().nonnegative().optional(),
  /** the last reading, for the execution history */
  detail: z.string().optional(),
});

/** The state of one Wait + Choice polling loop; the step that polls returns the next one. */
export type Poll = z.output<typeof pollSchema>;

/** The first state of every polling loop. */
export const FIRST_POLL: Poll = { attempt: 0, done: false };

/** A caught error as Step Functions hands it to the next state (`{}` when nothing was caught). */
const caughtSchema = z.union([
  z.looseObject({ Error: z.string(), Cause: z.string().optional() }),
  z.strictObject({}),
]);

/** A caught error, or nothing. */
export type Caught = z.output<typeof caughtSchema>;

const stage = z.enum(['first', 'second']);
const withContext = { ctx: contextSchema };

/** The events of the one resize Lambda, discriminated by `step`. */
const stepEventSchema = z.discriminatedUnion('step', [
  z.strictObject({ step: z.literal('preflight'), request: z.unknown(), execution: z.string().min(1) }),
  z.strictObject({ step: z.literal('stop'), ...withContext, stage }),
  z.strictObject({ step: z.literal('checkStopped'), ...withContext, stage, poll: pollSchema }),
  z.strictObject({ step: z.literal('modify'), ...withContext, stage, to: z.enum(['target', 'original']) }),
  z.strictObject({ step: z.literal('start'), ...withContext, stage }),
  z.strictObject({ step: z.literal('checkHealthy'), ...withContext, stage, poll: pollSchema }),
  z.strictObject({ step: z.literal('failover'), ...withContext }),
  z.strictObject({ step: z.literal('soak'), ...withContext, poll: pollSchema }),
  z.strictObject({ step: z.literal('rollback'), ...withContext }),
  z.strictObject({ step: z.literal('inspect'), ...withContext, stage }),
  z.strictObject({ step: z.literal('failback'), ...withContext }),
  z.strictObject({
    step: z.literal('conclude'),
    request: z.unknown(),
    execution: z.string().min(1),
    /** `{}` when the preflight did not get as far as building one */
    ctx: z.union([contextSchema, z.strictObject({})]),
    error: caughtSchema,
    revertError: caughtSchema,
  }),
]);

/** One invocation of the resize Lambda. */
export type StepEvent = z.output<typeof stepEventSchema>;

/** The step names, for the state machine's payloads. */
export type StepName = StepEvent['step'];

/** Validate a step event; throws BadEventError naming every problem (nothing is done). */
export function parseStepEvent(event: unknown): StepEvent {
  const parsed = stepEventSchema.safeParse(event);
  if (!parsed.success) {
    const problems = problemsOf(parsed.error)
      .map((p) => `${p.path || '(root)'}: ${p.message}`)
      .join('; ');
    throw new BadEventError(`malformed resize step event: ${problems}`);
  }
  return parsed.data;
}

/** True when a context is a real one (the conclude step may get `{}`). */
export const isContext = (ctx: ResizeContext | Record<string, never>): ctx is ResizeContext => 'pair' in ctx;

/** True when a caught-error slot holds an error. */
export const isCaught = (caught: Caught): caught is { Error: string; Cause?: string } => 'Error' in caught;

/**
 * The execution name of a resize: `resize-<pair>-<UTC time to the second>`, e.g.
 * `resize-branch-a-20260101T000000Z`. Deterministic for a retry of the same start (StartExecution is idempotent
 * for the same name and input); it is not a lock, the lease is (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
 */
export function executionName(pair: string, now: number): string {
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `resize-${pair}-${stamp}`;
}
