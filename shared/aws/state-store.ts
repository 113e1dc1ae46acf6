/**
 * The DynamoDB state store (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html): one table, one item per pair holding the controller's
 * memory and the maintenance lease under a version number for optimistic locking, plus history items that
 * expire through TTL.
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

import { randomInt } from 'node:crypto';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { type Clock, systemClock } from '../clock.ts';
import { type BucketLevel, chunk, mapLimit } from '../concurrency.ts';
import { ALARM_KINDS } from '../domain/plan.ts';
import { initialMemory, type Lease, type PairMemory, type Role, type StoredPair } from '../domain/types.ts';
import { ConflictError, ControllerError, LeaseHeldError, ThrottledError } from '../errors.ts';
import { TABLE_KEYS } from '../telemetry-names.ts';

const { partitionKey: PK, sortKey: SK, ttlAttribute: TTL } = TABLE_KEYS;
const PAIR_PREFIX = 'pair#';
const STATE_SK = 'state';
const HISTORY_PREFIX = 'history#';

/** BatchGetItem accepts at most 100 keys per call (dynalite enforces the same limit). */
const BATCH_GET_KEYS = 100;
/** Attempts per BatchGetItem chunk while DynamoDB keeps returning UnprocessedKeys. */
const BATCH_GET_ATTEMPTS = 6;
/** Base delay before re-requesting unprocessed keys; doubled on each attempt. */
const BATCH_GET_BACKOFF_MS = 25;
/** BatchGetItem calls in flight at once when loading many pairs. */
const BATCH_GET_PARALLELISM = 4;
/** Attempts at a history sort key before giving up on random-suffix collisions. */
const HISTORY_PUT_ATTEMPTS = 3;
/** Attempts at taking a lease while the holder we read back keeps turning out to be free. */
const LEASE_ATTEMPTS = 3;
const DAY_SECONDS = 86_400;

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

const bucketLevelSchema = z.object({ tokens: z.number(), at: z.number() });

const historyItemSchema = z.object({ at: z.number(), record: z.record(z.string(), z.unknown()) });

/** The pair item's attribute holding history records not yet copied to their own items. */
const UNRECORDED = 'unrecordedHistory';
const unrecordedSchema = z.record(z.string().startsWith(HISTORY_PREFIX), historyItemSchema);

/** What the resize workflow asks for when it takes a pair's maintenance lease. */
export interface LeaseRequest {
  /** who holds it (the Step Functions execution name, an operator...) */
  readonly owner: string;
  /** the member under maintenance, to which the controller must not move traffic */
  readonly member?: Role;
  /** epoch ms after which the lease no longer holds */
  readonly until: number;
}

/** One history record of a pair, as listed. */
export interface HistoryEntry {
  /** epoch ms */
  readonly at: number;
  readonly record: Record<string, unknown>;
}

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

/** What a StateStore needs. */
export interface StateStoreOptions {
  readonly dynamo: DynamoDBDocumentClient;
  readonly tableName: string;
  /** how long history items live before TTL removes them. @default 90 */
  readonly historyRetentionDays?: number;
  /** paces the retries of unprocessed BatchGetItem keys. @default systemClock */
  readonly clock?: Clock;
}

const pairKey = (pair: string) => ({ [PK]: `${PAIR_PREFIX}${pair}`, [SK]: STATE_SK });
/** The run-wide writer lease and the pairs marked for its holder (takeWriterLease). */
const WRITER_KEY = { [PK]: 'run#writer', [SK]: 'lease' };

const errorName = (error: unknown): string | undefined => (error instanceof Error ? error.name : undefined);

const isConditionFailure = (error: unknown): boolean =>
  errorName(error) === 'ConditionalCheckFailedException';

/** Throttling that outlasted the SDK's retries becomes the retryable ThrottledError; anything else passes. */
function translated(error: unknown, what: string): unknown {
  const name = errorName(error);
  if (name !== undefined && THROTTLING_ERRORS.has(name)) {
    return new ThrottledError(`DynamoDB throttled ${what}: ${name}`, { cause: error });
  }
  return error;
}

const describeLease = (lease: Lease): string =>
  `${lease.owner} until ${new Date(lease.until).toISOString()}${lease.member ? ` (${lease.member} under maintenance)` : ''}`;

/** Parse a pair item read from the table; a malformed item is an error, never silently reset. */
function toStoredPair(pair: string, item: Record<string, unknown>): StoredPair {
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

const neverWritten = (pair: string): LoadedPair => ({ pair, version: 0, memory: initialMemory() });

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

function loaded(pair: string, item: Record<string, unknown>): LoadedPair {
  const unrecorded = unrecordedOf(pair, item);
  return { ...toStoredPair(pair, item), ...(unrecorded.length > 0 ? { unrecorded } : {}) };
}

/**
 * A history record to store with an intent (savePair's `unrecorded`) and copy out later (recordHistory). The
 * sort key's random suffix keeps two records of the same millisecond apart.
 */
export function pendingHistory(at: number, record: Record<string, unknown>): PendingHistory {
  return { sk: historyKey(at), at, record };
}

/**
 * Records made together at one time (an evaluation's operator command, move and alarms), listed in the order
 * given: their suffixes are consecutive from a random start, where separate records' are random.
 */
export function pendingHistories(at: number, records: readonly Record<string, unknown>[]): PendingHistory[] {
  const first = randomInt(HISTORY_SUFFIXES - records.length + 1);
  return records.map((record, i) => ({ sk: historyKey(at, first + i), at, record }));
}

/** How many distinct suffixes a history sort key can have (6 digits). */
const HISTORY_SUFFIXES = 1_000_000;

/** A history item's sort key: the time, then a random suffix that keeps two records of one millisecond apart. */
const historyKey = (at: number, suffix = randomInt(HISTORY_SUFFIXES)): string =>
  `${HISTORY_PREFIX}${new Date(at).toISOString()}#${String(suffix).padStart(6, '0')}`;

/**
 * Pair state, history and the maintenance lease in one DynamoDB table. All reads of the pair item are
 * strongly consistent: a decision must see the latest version, or its conditional write fails anyway.
 */
export class StateStore {
  readonly #dynamo: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #retentionSeconds: number;
  readonly #clock: Clock;

  constructor(options: StateStoreOptions) {
    this.#dynamo = options.dynamo;
    this.#tableName = options.tableName;
    this.#retentionSeconds = (options.historyRetentionDays ?? 90) * DAY_SECONDS;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Load pairs by name, in chunks of 100 keys, retrying UnprocessedKeys with backoff. Every requested
   * name is in the result; a pair never written is version 0 with initial memory.
   * @throws ThrottledError when keys stay unprocessed after the bounded retries
   */
  async loadPairs(names: readonly string[]): Promise<Map<string, LoadedPair>> {
    const unique = [...new Set(names)];
    const found = new Map<string, LoadedPair>();
    const chunks = await mapLimit(chunk(unique, BATCH_GET_KEYS), BATCH_GET_PARALLELISM, (batch) =>
      this.#batchGet(batch),
    );
    for (const items of chunks) {
      for (const item of items) {
        const pair = String(item[PK]).slice(PAIR_PREFIX.length);
        found.set(pair, loaded(pair, item));
      }
    }
    return new Map(unique.map((pair) => [pair, found.get(pair) ?? neverWritten(pair)]));
  }

  /** Load one pair (consistent read); version 0 with initial memory when never written. */
  async loadPair(pair: string): Promise<LoadedPair> {
    const item = await this.#getItem(pair);
    return item ? loaded(pair, item) : neverWritten(pair);
  }

  /**
   * Store the controller's memory of a pair if nobody wrote since `expectedVersion` (0: never written).
   * Only memory fields are written; the lease stays as the lease methods left it, whatever `memory.lease`
   * says. Optional fields absent from `memory` are removed from the item.
   * @param options.unrecorded when given, the history records the item holds from now on (replacing those it
   *   held): the records of the move this save claims, plus any earlier ones not yet copied out. The version
   *   condition makes the replacement safe.
   * @returns the stored pair at its new version (expectedVersion + 1), with the lease as stored
   * @throws ConflictError when the stored version is not `expectedVersion`
   */
  async savePair(
    pair: string,
    expectedVersion: number,
    memory: PairMemory,
    options: { readonly unrecorded?: readonly PendingHistory[] } = {},
  ): Promise<StoredPair> {
    const names: Record<string, string> = {
      '#version': 'version',
      '#active': 'active',
      '#unhealthyStreak': 'unhealthyStreak',
      '#healthyStreak': 'healthyStreak',
      '#unknownStreak': 'unknownStreak',
      '#lastFailoverAt': 'lastFailoverAt',
      '#enis': 'enis',
      '#unknownAlarms': 'unknownAlarms',
      '#primaryFailures': 'primaryFailures',
    };
    const values: Record<string, unknown> = {
      ':next': expectedVersion + 1,
      ':active': memory.active,
      ':unhealthyStreak': memory.unhealthyStreak,
      ':healthyStreak': memory.healthyStreak,
      ':unknownStreak': memory.unknownStreak,
    };
    const set = [
      '#version = :next',
      '#active = :active',
      '#unhealthyStreak = :unhealthyStreak',
      '#healthyStreak = :healthyStreak',
      '#unknownStreak = :unknownStreak',
    ];
    const remove: string[] = [];
    if (memory.lastFailoverAt !== undefined) {
      set.push('#lastFailoverAt = :lastFailoverAt');
      values[':lastFailoverAt'] = memory.lastFailoverAt;
    } else remove.push('#lastFailoverAt');
    if (memory.enis !== undefined) {
      set.push('#enis = :enis');
      values[':enis'] = memory.enis;
    } else remove.push('#enis');
    if (memory.unknownAlarms !== undefined) {
      set.push('#unknownAlarms = :unknownAlarms');
      values[':unknownAlarms'] = memory.unknownAlarms;
    } else remove.push('#unknownAlarms');
    if (memory.primaryFailures !== undefined) {
      set.push('#primaryFailures = :primaryFailures');
      values[':primaryFailures'] = memory.primaryFailures;
    } else remove.push('#primaryFailures');
    for (const field of [
      'addresses',
      'peerReached',
      'silenceStreak',
      'agentCounted',
      'runningSince',
      'pause',
      'alarms',
      'verdicts',
    ] as const) {
      names[`#${field}`] = field;
      if (memory[field] !== undefined) {
        set.push(`#${field} = :${field}`);
        values[`:${field}`] = memory[field];
      } else remove.push(`#${field}`);
    }

    if (options.unrecorded !== undefined) {
      set.push('#unrecorded = :unrecorded');
      names['#unrecorded'] = UNRECORDED;
      values[':unrecorded'] = Object.fromEntries(
        options.unrecorded.map((entry) => [entry.sk, { at: entry.at, record: entry.record }]),
      );
    }

    let condition: string;
    if (expectedVersion === 0) {
      condition = 'attribute_not_exists(#pk)';
      names['#pk'] = PK;
    } else {
      condition = '#version = :expected';
      values[':expected'] = expectedVersion;
    }

    try {
      const result = await this.#dynamo.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: pairKey(pair),
          UpdateExpression: `SET ${set.join(', ')}${remove.length > 0 ? ` REMOVE ${remove.join(', ')}` : ''}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toStoredPair(pair, result.Attributes ?? {});
    } catch (error) {
      if (isConditionFailure(error)) {
        throw new ConflictError(
          `pair ${pair} changed since version ${expectedVersion}; reload and decide again`,
          {
            cause: error,
          },
        );
      }
      throw translated(error, `saving pair ${pair}`);
    }
  }

  /**
   * Record something that happened to a pair (a route change, a failover, a resize stage). The item
   * expires after the retention period through the table's TTL.
   * @param at epoch ms of the event; the history is ordered by it
   * @param record plain data (no class instances); undefined values are dropped
   */
  async appendHistory(pair: string, at: number, record: Record<string, unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // The condition catches the one-in-a-million clash of random suffixes instead of overwriting.
      const sk = historyKey(at);
      try {
        await this.#putHistory(pair, sk, at, record, {
          ConditionExpression: 'attribute_not_exists(#pk)',
          ExpressionAttributeNames: { '#pk': PK },
        });
        return;
      } catch (error) {
        if (!isConditionFailure(error)) throw translated(error, `recording history of pair ${pair}`);
        if (attempt >= HISTORY_PUT_ATTEMPTS) {
          throw new ConflictError(`no free history key for pair ${pair} at ${new Date(at).toISOString()}`, {
            cause: error,
          });
        }
      }
    }
  }

  /**
   * Copy history records the pair item holds to their own history items, then drop them from the pair item.
   * Idempotent: a record goes to the sort key it was given when made, so copying it again (a run that failed
   * half way, two runs at once) rewrites the same item. Dropping does not bump the version: the memory and
   * lease are unchanged, and a record that a concurrent save puts back is only copied again.
   * @param entries the records to copy; a record's content may have grown since it was stored (an outcome)
   * @returns the records that could not be copied, with the reason; they stay on the pair item for the next run
   */
  async recordHistory(
    pair: string,
    entries: readonly PendingHistory[],
  ): Promise<{ readonly entry: PendingHistory; readonly error: Error }[]> {
    const failed = await mapLimit(entries, BATCH_GET_PARALLELISM, async (entry) => {
      try {
        await this.#putHistory(pair, entry.sk, entry.at, entry.record);
        await this.#dynamo.send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key: pairKey(pair),
            UpdateExpression: 'REMOVE #unrecorded.#sk',
            ConditionExpression: 'attribute_exists(#unrecorded.#sk)',
            ExpressionAttributeNames: { '#unrecorded': UNRECORDED, '#sk': entry.sk },
          }),
        );
        return undefined;
      } catch (error) {
        if (isConditionFailure(error)) return undefined;
        return { entry, error: translated(error, `recording history of pair ${pair}`) as Error };
      }
    });
    return failed.filter((f) => f !== undefined);
  }

  async #putHistory(
    pair: string,
    sk: string,
    at: number,
    record: Record<string, unknown>,
    condition?: Pick<PutCommand['input'], 'ConditionExpression' | 'ExpressionAttributeNames'>,
  ): Promise<void> {
    await this.#dynamo.send(
      new PutCommand({
        TableName: this.#tableName,
        Item: {
          [PK]: `${PAIR_PREFIX}${pair}`,
          [SK]: sk,
          at,
          record,
          [TTL]: Math.floor(at / 1000) + this.#retentionSeconds,
        },
        ...condition,
      }),
    );
  }

  /** The pair's most recent history records, newest first. */
  async listHistory(pair: string, limit = 50): Promise<HistoryEntry[]> {
    const entries: HistoryEntry[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#dynamo
        .send(
          new QueryCommand({
            TableName: this.#tableName,
            KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
            ExpressionAttributeNames: { '#pk': PK, '#sk': SK },
            ExpressionAttributeValues: { ':pk': `${PAIR_PREFIX}${pair}`, ':prefix': HISTORY_PREFIX },
            ScanIndexForward: false,
            ConsistentRead: true,
            Limit: limit - entries.length,
            ExclusiveStartKey: startKey,
          }),
        )
        .catch((error: unknown) => {
          throw translated(error, `listing history of pair ${pair}`);
        });
      for (const item of page.Items ?? []) {
        const parsed = historyItemSchema.safeParse(item);
        if (!parsed.success) {
          throw new ControllerError(`history item ${String(item[SK])} of pair ${pair} is malformed`, {
            cause: parsed.error,
          });
        }
        entries.push({ at: parsed.data.at, record: parsed.data.record });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined && entries.length < limit);
    return entries;
  }

  /**
   * Take the pair's maintenance lease, or extend it when `request.owner` already holds it. Succeeds when no
   * lease is held, the held one expired before `now`, or it is the owner's own. Creates the pair item (with
   * initial memory) when it was never written, and bumps the version, so a controller that decided
   * without seeing the lease cannot save over it.
   * @param now epoch ms, compared with the held lease's `until`
   * @throws LeaseHeldError naming the current holder and expiry
   */
  async acquireLease(pair: string, request: LeaseRequest, now: number): Promise<StoredPair> {
    const initial = initialMemory();
    const lease: Lease = { owner: request.owner, until: request.until, member: request.member };
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.#dynamo.send(
          new UpdateCommand({
            TableName: this.#tableName,
            Key: pairKey(pair),
            UpdateExpression: [
              'SET #lease = :lease',
              '#version = if_not_exists(#version, :zero) + :one',
              '#active = if_not_exists(#active, :active)',
              '#unhealthyStreak = if_not_exists(#unhealthyStreak, :unhealthyStreak)',
              '#healthyStreak = if_not_exists(#healthyStreak, :healthyStreak)',
              '#unknownStreak = if_not_exists(#unknownStreak, :unknownStreak)',
            ].join(', '),
            ConditionExpression:
              'attribute_not_exists(#lease) OR #lease.#until < :now OR #lease.#owner = :owner',
            ExpressionAttributeNames: {
              '#lease': 'lease',
              '#until': 'until',
              '#owner': 'owner',
              '#version': 'version',
              '#active': 'active',
              '#unhealthyStreak': 'unhealthyStreak',
              '#healthyStreak': 'healthyStreak',
              '#unknownStreak': 'unknownStreak',
            },
            ExpressionAttributeValues: {
              ':lease': lease,
              ':now': now,
              ':owner': request.owner,
              ':zero': 0,
              ':one': 1,
              ':active': initial.active,
              ':unhealthyStreak': initial.unhealthyStreak,
              ':healthyStreak': initial.healthyStreak,
              ':unknownStreak': initial.unknownStreak,
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return toStoredPair(pair, result.Attributes ?? {});
      } catch (error) {
        if (!isConditionFailure(error)) throw translated(error, `taking the lease of pair ${pair}`);
        // dynalite has no ReturnValuesOnConditionCheckFailure, so read the holder back; if it has meanwhile
        // been released or expired, try again rather than report a holder that no longer exists.
        const held = (await this.loadPair(pair)).memory.lease;
        if (held !== undefined && held.until >= now && held.owner !== request.owner) {
          throw new LeaseHeldError(`maintenance lease of pair ${pair} is held by ${describeLease(held)}`, {
            cause: error,
          });
        }
        if (attempt >= LEASE_ATTEMPTS) {
          throw new ConflictError(`maintenance lease of pair ${pair} kept changing while being taken`, {
            cause: error,
          });
        }
      }
    }
  }

  /**
   * Extend a lease the owner still holds. A lease that has expired is not renewed, even if nobody took it
   * over: the controller may have acted on its expiry in the meantime.
   * @throws LeaseHeldError when `owner` does not hold an unexpired lease at `now`
   */
  async renewLease(pair: string, owner: string, until: number, now: number): Promise<StoredPair> {
    try {
      const result = await this.#dynamo.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: pairKey(pair),
          UpdateExpression: 'SET #lease.#until = :until, #version = #version + :one',
          ConditionExpression:
            'attribute_exists(#lease) AND #lease.#owner = :owner AND #lease.#until >= :now',
          ExpressionAttributeNames: {
            '#lease': 'lease',
            '#until': 'until',
            '#owner': 'owner',
            '#version': 'version',
          },
          ExpressionAttributeValues: { ':until': until, ':owner': owner, ':now': now, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toStoredPair(pair, result.Attributes ?? {});
    } catch (error) {
      if (!isConditionFailure(error)) throw translated(error, `renewing the lease of pair ${pair}`);
      const held = (await this.loadPair(pair)).memory.lease;
      const state =
        held === undefined
          ? 'not held by anyone'
          : held.owner === owner
            ? `expired at ${new Date(held.until).toISOString()}`
            : `held by ${describeLease(held)}`;
      throw new LeaseHeldError(`cannot renew ${owner}'s maintenance lease of pair ${pair}: it is ${state}`, {
        cause: error,
      });
    }
  }

  /**
   * Give the lease back. Releasing when no lease is held is a no-op; an expired lease may still be released
   * by its owner.
   * @returns the pair as stored afterwards
   * @throws LeaseHeldError when someone else holds the lease
   */
  async releaseLease(pair: string, owner: string): Promise<StoredPair> {
    try {
      const result = await this.#dynamo.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: pairKey(pair),
          UpdateExpression: 'REMOVE #lease SET #version = #version + :one',
          ConditionExpression: 'attribute_exists(#lease) AND #lease.#owner = :owner',
          ExpressionAttributeNames: { '#lease': 'lease', '#owner': 'owner', '#version': 'version' },
          ExpressionAttributeValues: { ':owner': owner, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toStoredPair(pair, result.Attributes ?? {});
    } catch (error) {
      if (!isConditionFailure(error)) throw translated(error, `releasing the lease of pair ${pair}`);
      const stored = await this.loadPair(pair);
      const held = stored.memory.lease;
      if (held === undefined) return stored;
      throw new LeaseHeldError(
        `${owner} cannot release the maintenance lease of pair ${pair}: held by ${describeLease(held)}`,
        { cause: error },
      );
    }
  }

  /**
   * Take the run-wide writer lease: the right to spend the account's EC2 write budget, held by one controller
   * run at a time so that overlapping invocations do not each spend it. Succeeds when nobody holds it, the
   * holder's lease ran out before `now`, or `owner` holds it already.
   * @param until epoch ms: the holder's own deadline, after which another run may take over
   * @returns undefined when someone else holds the lease; else the write budget's level as the last holder
   *   left it (undefined `level` if none was left)
   */
  async takeWriterLease(
    owner: string,
    until: number,
    now: number,
  ): Promise<{ readonly level?: BucketLevel } | undefined> {
    try {
      const result = await this.#dynamo.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: WRITER_KEY,
          UpdateExpression: 'SET #owner = :owner, #until = :until',
          ConditionExpression: 'attribute_not_exists(#owner) OR #until < :now OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner', '#until': 'until' },
          ExpressionAttributeValues: { ':owner': owner, ':until': until, ':now': now },
          ReturnValues: 'ALL_NEW',
        }),
      );
      const level = bucketLevelSchema.safeParse(result.Attributes?.budget);
      return level.success ? { level: level.data } : {};
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw translated(error, 'taking the writer lease');
    }
  }

  /** Ask the writer lease's holder to look at these pairs before it lets go (another run wanted to move them). */
  async markPairs(pairs: readonly string[]): Promise<void> {
    if (pairs.length === 0) return;
    await this.#dynamo
      .send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: WRITER_KEY,
          UpdateExpression: 'ADD #pending :pairs',
          ExpressionAttributeNames: { '#pending': 'pending' },
          ExpressionAttributeValues: { ':pairs': new Set(pairs) },
        }),
      )
      .catch((error: unknown) => {
        throw translated(error, 'marking pairs for the writer');
      });
  }

  /**
   * For the writer lease's holder: the pairs other runs marked, removed from the lease item in the same write.
   * @returns undefined when `owner` no longer holds the lease
   */
  async takeMarkedPairs(owner: string): Promise<string[] | undefined> {
    try {
      const result = await this.#dynamo.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: WRITER_KEY,
          UpdateExpression: 'REMOVE #pending',
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#pending': 'pending', '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
          ReturnValues: 'UPDATED_OLD',
        }),
      );
      const pending = result.Attributes?.pending;
      return pending instanceof Set ? [...pending].map(String).sort() : [];
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw translated(error, 'taking the marked pairs');
    }
  }

  /**
   * Let go of the writer lease, unless pairs were marked meanwhile (then the holder must look at them first) or
   * someone else holds it.
   * @param level the write budget's level, which the next holder starts from (the account's bucket is shared)
   * @returns true when released (or not held by `owner` any more), false when marks are waiting
   */
  async releaseWriterLease(owner: string, level: BucketLevel): Promise<boolean> {
    try {
      await this.#dynamo.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: WRITER_KEY,
          UpdateExpression: 'REMOVE #owner, #until SET #budget = :budget',
          ConditionExpression: '#owner = :owner AND attribute_not_exists(#pending)',
          ExpressionAttributeNames: {
            '#owner': 'owner',
            '#until': 'until',
            '#pending': 'pending',
            '#budget': 'budget',
          },
          ExpressionAttributeValues: { ':owner': owner, ':budget': { tokens: level.tokens, at: level.at } },
        }),
      );
      return true;
    } catch (error) {
      if (!isConditionFailure(error)) throw translated(error, 'releasing the writer lease');
      const { Item } = await this.#dynamo.send(
        new GetCommand({ TableName: this.#tableName, Key: WRITER_KEY, ConsistentRead: true }),
      );
      return Item?.owner !== owner;
    }
  }

  async #getItem(pair: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.#dynamo
      .send(new GetCommand({ TableName: this.#tableName, Key: pairKey(pair), ConsistentRead: true }))
      .catch((error: unknown) => {
        throw translated(error, `reading pair ${pair}`);
      });
    return result.Item;
  }

  async #batchGet(pairs: readonly string[]): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let keys: Record<string, unknown>[] = pairs.map(pairKey);
    for (let attempt = 1; keys.length > 0; attempt++) {
      if (attempt > BATCH_GET_ATTEMPTS) {
        throw new ThrottledError(
          `DynamoDB left ${keys.length} pair keys unprocessed after ${BATCH_GET_ATTEMPTS} attempts`,
        );
      }
      if (attempt > 1) await this.#clock.sleep(BATCH_GET_BACKOFF_MS * 2 ** (attempt - 2));
      const result = await this.#dynamo
        .send(
          new BatchGetCommand({ RequestItems: { [this.#tableName]: { Keys: keys, ConsistentRead: true } } }),
        )
        .catch((error: unknown) => {
          throw translated(error, 'loading pairs');
        });
      items.push(...(result.Responses?.[this.#tableName] ?? []));
      keys = result.UnprocessedKeys?.[this.#tableName]?.Keys ?? [];
    }
    return items;
  }
}

/**
 * Create the state table as the CDK app does (pk S + sk S, on demand) and wait until it is ACTIVE. For the
 * local table of tests and the simulator; an existing table is accepted. TTL on `expiresAt` is not set here:
 * dynalite has no UpdateTimeToLive, and nothing local needs items to expire.
 * @param options.timeoutMs how long to wait for ACTIVE. @default 10000
 */
export async function createStateTable(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  options: { readonly clock?: Clock; readonly timeoutMs?: number } = {},
): Promise<void> {
  const clock = options.clock ?? systemClock;
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: PK, AttributeType: 'S' },
          { AttributeName: SK, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: PK, KeyType: 'HASH' },
          { AttributeName: SK, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (errorName(error) !== 'ResourceInUseException') throw error;
  }
  const deadline = clock.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (clock.now() >= deadline) {
      throw new ControllerError(`table ${tableName} is still ${Table?.TableStatus ?? 'unknown'}, not ACTIVE`);
    }
    await clock.sleep(50);
  }
}
