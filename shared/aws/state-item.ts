/**
 * The state table's items, which the state store (./state-store.ts) and the lease store (./lease-store.ts)
 * share: one table, one item per pair holding the controller's memory and the maintenance lease under a
 * version number for optimistic locking
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html), plus
 * history items that expire through TTL.
 *
 * Item layout (keys from TABLE_KEYS):
 * - pair item: pk "pair#<name>", sk "state"; `version` and the PairMemory fields as top-level attributes.
 * - history item: pk "pair#<name>", sk "history#<ISO time>#<6 digits>"; `at` (epoch ms), `record`, and
 *   `expiresAt` (epoch seconds, the table's TTL attribute).
 * - writer lease: pk "run#writer", sk "lease"; `owner`, `until` (epoch ms), `pending` (a string set of pair
 *   names other runs want moved) and `budget` (the write budget's level as the last holder left it): one
 *   controller run at a time spends the account's EC2 write budget.
 * - `unrecordedHistory` on the pair item: history records written together with the intent they describe,
 *   keyed by the sort key of the history item they are copied to (recordHistory), so a route change is on
 *   record from the moment the controller claims the right to make it, whatever fails afterwards.
 *
 * Every write to the pair item bumps `version`, so a version names one snapshot of memory and lease. The
 * controller writes memory (savePair) and never the lease; the resize workflow writes the lease and never
 * memory. Lease expiry is enforced in condition expressions, never by TTL, whose deletions lag by days.
 */

import * as z from 'zod';
import { ALARM_KINDS } from '../domain/plan.ts';
import { initialMemory, type PairMemory, type StoredPair } from '../domain/types.ts';
import { ControllerError, ThrottledError } from '../errors.ts';
import { TABLE_KEYS } from '../telemetry-names.ts';

export const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = TABLE_KEYS;
export const PAIR_PREFIX = 'pair#';
const STATE_SK = 'state';
export const HISTORY_PREFIX = 'history#';

/** The SDK's throttling error codes (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-throttling.html) that can reach us after its own retries. */
const THROTTLING_ERRORS = new Set([
  'ThrottlingException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'TransactionInProgressException',
]);

const roleSchema = z.enum(['primary', 'standby']);
const count = z.number().int().nonnegative();
const softStreaksSchema = z.object({ daemon: count, tunnel: count });
const leaseSchema = z.object({ owner: z.string().min(1), until: z.number(), member: roleSchema.optional() });

const unknownAlarmSchema = z.object({ raised: z.boolean(), streak: count, since: z.number().optional() });
const healthSchema = z.enum(['healthy', 'unhealthy', 'unknown']);
const memberHealthSchema = z.object({
  health: healthSchema,
  signals: z.object({
    instance: healthSchema.optional(),
    daemon: healthSchema.optional(),
    tunnel: healthSchema.optional(),
  }),
});

/** A stored pair item as read back; unknown attributes (the keys) are dropped. */
const pairItemSchema = z.object({
  version: count,
  active: roleSchema,
  unhealthyStreak: z.object({ primary: softStreaksSchema, standby: softStreaksSchema }),
  healthyStreak: z.object({ primary: count, standby: count }),
  unknownStreak: count,
  unknownAlarms: z
    .object({
      'signal-unknown': unknownAlarmSchema.optional(),
      'standby-unknown': unknownAlarmSchema.optional(),
      'routes-unreadable': unknownAlarmSchema.optional(),
    })
    .optional(),
  lastFailoverAt: z.number().optional(),
  primaryFailures: z.object({ count: z.number().int().positive(), lastAt: z.number() }).optional(),
  // Keyed by member instance id. Items written before were keyed by role ("primary", "standby"): those
  // entries match no instance id, so the ENIs are read afresh and the next save drops them.
  enis: z.record(z.string(), z.string()).optional(),
  addresses: z.record(z.string(), z.string()).optional(),
  peerReached: z.array(z.string()).optional(),
  silenceStreak: z.object({ primary: count, standby: count }).optional(),
  agentCounted: z.object({ primary: z.number().optional(), standby: z.number().optional() }).optional(),
  runningSince: z.object({ primary: z.number().optional(), standby: z.number().optional() }).optional(),
  lease: leaseSchema.optional(),
  pause: z
    .object({ until: z.number(), reason: z.string(), by: z.string().optional(), at: z.number() })
    .optional(),
  alarms: z.array(z.enum(ALARM_KINDS)).optional(),
  verdicts: z.object({ primary: memberHealthSchema, standby: memberHealthSchema }).optional(),
});

export const historyItemSchema = z.object({ at: z.number(), record: z.record(z.string(), z.unknown()) });

/** The pair item's attribute holding history records not yet copied to their own items. */
export const UNRECORDED = 'unrecordedHistory';
const unrecordedSchema = z.record(z.string().startsWith(HISTORY_PREFIX), historyItemSchema);

/** A history record that is to be (or is being) copied to its own history item under `sk`. */
export interface PendingHistory {
  /** the history item's sort key, fixed when the record is made, so copying it twice writes one item */
  readonly sk: string;
  /** epoch ms */
  readonly at: number;
  readonly record: Record<string, unknown>;
}

/** A pair as loaded: its state, and the history records its item holds that are not yet copied out (if any). */
export interface LoadedPair extends StoredPair {
  readonly unrecorded?: readonly PendingHistory[];
}

/** The key of a pair's item. */
export const pairKey = (pair: string) => ({ [PK]: `${PAIR_PREFIX}${pair}`, [SK]: STATE_SK });

const errorName = (error: unknown): string | undefined => (error instanceof Error ? error.name : undefined);

export const isConditionFailure = (error: unknown): boolean =>
  errorName(error) === 'ConditionalCheckFailedException';

/** Throttling that outlasted the SDK's retries becomes the retryable ThrottledError; anything else passes. */
export function translated(error: unknown, what: string): unknown {
  const name = errorName(error);
  if (name !== undefined && THROTTLING_ERRORS.has(name)) {
    return new ThrottledError(`DynamoDB throttled ${what}: ${name}`, { cause: error });
  }
  return error;
}

/** Parse a pair item read from the table; a malformed item is an error, never silently reset. */
export function toStoredPair(pair: string, item: Record<string, unknown>): StoredPair {
  const parsed = pairItemSchema.safeParse(item);
  if (!parsed.success) {
    throw new ControllerError(`stored state of pair ${pair} is malformed: ${z.prettifyError(parsed.error)}`, {
      cause: parsed.error,
    });
  }
  const {
    version,
    active,
    unhealthyStreak,
    healthyStreak,
    unknownStreak,
    unknownAlarms,
    lastFailoverAt,
    primaryFailures,
    enis,
    addresses,
    peerReached,
    silenceStreak,
    agentCounted,
    runningSince,
    lease,
    pause,
    alarms,
    verdicts,
  } = parsed.data;
  const memory: PairMemory = {
    active,
    unhealthyStreak,
    healthyStreak,
    unknownStreak,
    ...(unknownAlarms !== undefined ? { unknownAlarms } : {}),
    ...(lastFailoverAt !== undefined ? { lastFailoverAt } : {}),
    ...(primaryFailures !== undefined ? { primaryFailures } : {}),
    ...(enis !== undefined ? { enis } : {}),
    ...(addresses !== undefined ? { addresses } : {}),
    ...(peerReached !== undefined ? { peerReached } : {}),
    ...(silenceStreak !== undefined ? { silenceStreak } : {}),
    ...(agentCounted !== undefined ? { agentCounted } : {}),
    ...(runningSince !== undefined ? { runningSince } : {}),
    ...(lease !== undefined ? { lease } : {}),
    ...(pause !== undefined ? { pause } : {}),
    ...(alarms !== undefined ? { alarms } : {}),
    ...(verdicts !== undefined ? { verdicts } : {}),
  };
  return { pair, version, memory };
}

export const neverWritten = (pair: string): LoadedPair => ({ pair, version: 0, memory: initialMemory() });

/** The history records a pair item holds that are not yet copied to their own items, oldest first. */
function unrecordedOf(pair: string, item: Record<string, unknown>): PendingHistory[] {
  if (item[UNRECORDED] === undefined) return [];
  const parsed = unrecordedSchema.safeParse(item[UNRECORDED]);
  if (!parsed.success) {
    throw new ControllerError(
      `unrecorded history of pair ${pair} is malformed: ${z.prettifyError(parsed.error)}`,
      { cause: parsed.error },
    );
  }
  return Object.entries(parsed.data)
    .map(([sk, entry]) => ({ sk, at: entry.at, record: entry.record }))
    .sort((a, b) => a.sk.localeCompare(b.sk));
}

export function loaded(pair: string, item: Record<string, unknown>): LoadedPair {
  const unrecorded = unrecordedOf(pair, item);
  return { ...toStoredPair(pair, item), ...(unrecorded.length > 0 ? { unrecorded } : {}) };
}
