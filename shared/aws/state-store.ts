/**
 * The DynamoDB state store: the controller's memory of each pair on the pair's item, under a version number for
 * optimistic locking
 * (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html), and
 * the pair's history items, which expire through TTL. The item layout is in ./state-item.ts; the maintenance and
 * writer leases, on the same items, in ./lease-store.ts. Every write to the pair item bumps `version`, so a
 * version names one snapshot of memory and lease. The controller writes memory (savePair) and never the lease;
 * the resize workflow writes the lease and never memory.
 */

import { randomInt } from 'node:crypto';
import { BatchGetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../clock.ts';
import { chunk, mapLimit } from '../concurrency.ts';
import type { PairMemory, StoredPair } from '../domain/types.ts';
import { ConflictError, ControllerError, ThrottledError } from '../errors.ts';
import { LeaseStore, type LeaseStoreOptions } from './lease-store.ts';
import {
  HISTORY_PREFIX,
  historyItemSchema,
  isConditionFailure,
  type LoadedPair,
  loaded,
  neverWritten,
  PAIR_PREFIX,
  type PendingHistory,
  PK,
  pairKey,
  SK,
  TTL,
  toStoredPair,
  translated,
  UNRECORDED,
} from './state-item.ts';

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
const DAY_SECONDS = 86_400;

/** One history record of a pair, as listed. */
export interface HistoryEntry {
  /** epoch ms */
  readonly at: number;
  readonly record: Record<string, unknown>;
}

/** What a StateStore needs. */
export interface StateStoreOptions extends LeaseStoreOptions {
  /** how long history items live before TTL removes them. @default 90 */
  readonly historyRetentionDays?: number;
  /** paces the retries of unprocessed BatchGetItem keys. @default systemClock */
  readonly clock?: Clock;
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
 * Pair state and history in one DynamoDB table, with the leases of LeaseStore. All reads of the pair item are
 * strongly consistent: a decision must see the latest version, or its conditional write fails anyway.
 */
export class StateStore extends LeaseStore {
  readonly #retentionSeconds: number;
  readonly #clock: Clock;

  constructor(options: StateStoreOptions) {
    super(options);
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
      const result = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.tableName,
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
        await this.dynamo.send(
          new UpdateCommand({
            TableName: this.tableName,
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
    await this.dynamo.send(
      new PutCommand({
        TableName: this.tableName,
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
      const page = await this.dynamo
        .send(
          new QueryCommand({
            TableName: this.tableName,
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
      const result = await this.dynamo
        .send(
          new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }),
        )
        .catch((error: unknown) => {
          throw translated(error, 'loading pairs');
        });
      items.push(...(result.Responses?.[this.tableName] ?? []));
      keys = result.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
    }
    return items;
  }
}
