import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { BucketLevel } from '../concurrency.ts';
import { initialMemory, type Lease, type Role, type StoredPair } from '../domain/types.ts';
import { ConflictError, LeaseHeldError } from '../errors.ts';
import {
  isConditionFailure,
  type LoadedPair,
  loaded,
  neverWritten,
  PK,
  pairKey,
  SK,
  toStoredPair,
  translated,
} from './state-item.ts';

/**
 * The leases in the state table (./state-item.ts): a pair's maintenance lease, which the resize workflow holds
 * on the pair item and the controller respects, and the run-wide writer lease, which lets one controller run at
 * a time spend the account's EC2 write budget. A lease write bumps the pair item's version, so a controller that
 * decided without seeing the lease cannot save over it. Lease expiry is enforced in condition expressions, never
 * by TTL, whose deletions lag by days.
 */

/** Attempts at taking a lease while the holder we read back keeps turning out to be free. */
const LEASE_ATTEMPTS = 3;

/** The run-wide writer lease and the pairs marked for its holder (takeWriterLease). */
const WRITER_KEY = { [PK]: 'run#writer', [SK]: 'lease' };

const bucketLevelSchema = z.object({ tokens: z.number(), at: z.number() });

const describeLease = (lease: Lease): string =>
  `${lease.owner} until ${new Date(lease.until).toISOString()}${lease.member ? ` (${lease.member} under maintenance)` : ''}`;

/** What the resize workflow asks for when it takes a pair's maintenance lease. */
export interface LeaseRequest {
  /** who holds it (the Step Functions execution name, an operator...) */
  readonly owner: string;
  /** the member under maintenance, to which the controller must not move traffic */
  readonly member?: Role;
  /** epoch ms after which the lease no longer holds */
  readonly until: number;
}

/** What a LeaseStore needs. */
export interface LeaseStoreOptions {
  readonly dynamo: DynamoDBDocumentClient;
  readonly tableName: string;
}

/**
 * The maintenance and writer leases. Reads of the pair item are strongly consistent: a lease taken must be
 * the latest, or its conditional write fails anyway. The StateStore (./state-store.ts) adds the controller's
 * memory and the history on the same table.
 */
export class LeaseStore {
  protected readonly dynamo: DynamoDBDocumentClient;
  protected readonly tableName: string;

  constructor(options: LeaseStoreOptions) {
    this.dynamo = options.dynamo;
    this.tableName = options.tableName;
  }

  /**
   * Load one pair (consistent read); version 0 with initial memory when never written. The lease methods read
   * the holder back with it when their condition fails.
   */
  async loadPair(pair: string): Promise<LoadedPair> {
    const item = await this.getItem(pair);
    return item ? loaded(pair, item) : neverWritten(pair);
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
        const result = await this.dynamo.send(
          new UpdateCommand({
            TableName: this.tableName,
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
      const result = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.tableName,
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
      const result = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.tableName,
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
      const result = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.tableName,
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
    await this.dynamo
      .send(
        new UpdateCommand({
          TableName: this.tableName,
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
      const result = await this.dynamo.send(
        new UpdateCommand({
          TableName: this.tableName,
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
      await this.dynamo.send(
        new UpdateCommand({
          TableName: this.tableName,
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
      const { Item } = await this.dynamo.send(
        new GetCommand({ TableName: this.tableName, Key: WRITER_KEY, ConsistentRead: true }),
      );
      return Item?.owner !== owner;
    }
  }

  protected async getItem(pair: string): Promise<Record<string, unknown> | undefined> {
    const result = await this.dynamo
      .send(new GetCommand({ TableName: this.tableName, Key: pairKey(pair), ConsistentRead: true }))
      .catch((error: unknown) => {
        throw translated(error, `reading pair ${pair}`);
      });
    return result.Item;
  }
}
