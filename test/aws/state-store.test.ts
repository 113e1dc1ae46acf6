import { BatchGetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pendingHistories, pendingHistory, StateStore } from '../../shared/aws/state-store.ts';
import type { Clock } from '../../shared/clock.ts';
import { initialMemory, type PairMemory } from '../../shared/domain/types.ts';
import { ConflictError, LeaseHeldError, ThrottledError } from '../../shared/errors.ts';
import { useLocalStateTable } from '../support/dynamo.ts';

const local = useLocalStateTable();
afterEach(() => {
  vi.restoreAllMocks();
});
const store = (options: { historyRetentionDays?: number; clock?: Clock } = {}) =>
  new StateStore({ dynamo: local.dynamo, tableName: local.tableName, ...options });

const T0 = Date.parse('2026-09-01T12:00:00.000Z');
const MINUTE = 60_000;

const failedOver: PairMemory = {
  active: 'standby',
  unhealthyStreak: { primary: { daemon: 3, tunnel: 1 }, standby: { daemon: 0, tunnel: 0 } },
  healthyStreak: { primary: 0, standby: 7 },
  unknownStreak: 2,
  lastFailoverAt: T0,
  enis: { primary: 'eni-0123456789abcdef0', standby: 'eni-0fedcba9876543210' },
};

/** Fail the next BatchGetItem of `dynamo` half way: only the first `served` keys are answered. */
function leaveKeysUnprocessed(served: (keys: number) => number) {
  const dynamo = local.dynamo;
  const send = dynamo.send.bind(dynamo);
  let batchGets = 0;
  vi.spyOn(dynamo, 'send').mockImplementation((async (command: unknown) => {
    if (!(command instanceof BatchGetCommand)) return send(command as never);
    batchGets++;
    const request = command.input.RequestItems?.[local.tableName];
    const keys = request?.Keys ?? [];
    const count = served(keys.length);
    // DynamoDB rejects an empty key list, so a fully starved call never reaches the server.
    const answered =
      count === 0
        ? { Responses: {} }
        : await send(
            new BatchGetCommand({
              RequestItems: { [local.tableName]: { ...request, Keys: keys.slice(0, count) } },
            }),
          );
    const rest = keys.slice(count);
    return { ...answered, UnprocessedKeys: rest.length > 0 ? { [local.tableName]: { Keys: rest } } : {} };
  }) as never);
  return { batchGets: () => batchGets };
}

const instantClock: Clock = { now: () => T0, sleep: async () => {} };

describe('pair state', () => {
  it('loads a pair that was never written as version 0 with initial memory', async () => {
    const pairs = await store().loadPairs(['branch-a']);

    expect(pairs.get('branch-a')).toEqual({ pair: 'branch-a', version: 0, memory: initialMemory() });
  });

  it('loads back exactly the memory it saved, at the next version', async () => {
    const saved = await store().savePair('branch-a', 0, failedOver);
    const loaded = await store().loadPairs(['branch-a']);

    expect(saved).toEqual({ pair: 'branch-a', version: 1, memory: failedOver });
    expect(loaded.get('branch-a')).toEqual(saved);
  });

  it('leaves optional memory fields absent when a later save no longer has them', async () => {
    const states = store();
    await states.savePair('branch-a', 0, failedOver);
    const { lastFailoverAt: _dropped, enis: _alsoDropped, ...withoutOptional } = failedOver;

    await states.savePair('branch-a', 1, withoutOptional);
    const memory = (await states.loadPairs(['branch-a'])).get('branch-a')?.memory;

    expect(memory).toEqual(withoutOptional);
    expect(memory).not.toHaveProperty('lastFailoverAt');
    expect(memory).not.toHaveProperty('enis');
    expect(memory).not.toHaveProperty('lease');
  });

  it('refuses a write at a stale version with ConflictError and changes nothing', async () => {
    const states = store();
    await states.savePair('branch-a', 0, initialMemory());
    const current = await states.savePair('branch-a', 1, failedOver);

    await expect(states.savePair('branch-a', 1, initialMemory())).rejects.toThrow(ConflictError);
    expect((await states.loadPairs(['branch-a'])).get('branch-a')).toEqual(current);
  });

  it('refuses a first write when someone else already created the pair', async () => {
    const states = store();
    await states.savePair('branch-a', 0, failedOver);

    await expect(states.savePair('branch-a', 0, initialMemory())).rejects.toThrow(ConflictError);
    expect((await states.loadPair('branch-a')).memory).toEqual(failedOver);
  });

  it('loads 250 pairs through BatchGetItem calls of at most 100 keys each', async () => {
    const states = store();
    const names = Array.from({ length: 250 }, (_, i) => `pair-${String(i).padStart(3, '0')}`);
    // Every other pair written; the rest were never written.
    for (const [i, name] of names.entries()) {
      if (i % 2 === 0) await states.savePair(name, 0, { ...initialMemory(), unknownStreak: i });
    }
    const send = vi.spyOn(local.dynamo, 'send');

    const pairs = await states.loadPairs(names);

    const batchGets = send.mock.calls.map(([command]) => command).filter((c) => c instanceof BatchGetCommand);
    // Consistent reads: a decision must see the controller's or the lease's latest write.
    expect(batchGets.every((c) => c.input.RequestItems?.[local.tableName]?.ConsistentRead === true)).toBe(
      true,
    );
    expect(batchGets.map((c) => c.input.RequestItems?.[local.tableName]?.Keys?.length)).toEqual([
      100, 100, 50,
    ]);
    expect(pairs.size).toBe(250);
    for (const [i, name] of names.entries()) {
      const expected =
        i % 2 === 0
          ? { pair: name, version: 1, memory: { ...initialMemory(), unknownStreak: i } }
          : { pair: name, version: 0, memory: initialMemory() };
      expect(pairs.get(name)).toEqual(expected);
    }
  });

  it('asks again for keys DynamoDB left unprocessed until every pair is loaded', async () => {
    const states = store({ clock: instantClock });
    await states.savePair('branch-a', 0, failedOver);
    await states.savePair('branch-b', 0, initialMemory());
    const partial = leaveKeysUnprocessed((keys) => Math.min(keys, 1));

    const pairs = await states.loadPairs(['branch-a', 'branch-b', 'branch-c']);

    expect(partial.batchGets()).toBe(3);
    expect(pairs.get('branch-a')?.memory).toEqual(failedOver);
    expect(pairs.get('branch-b')?.version).toBe(1);
    expect(pairs.get('branch-c')?.version).toBe(0);
  });

  it('gives up with ThrottledError when DynamoDB keeps leaving keys unprocessed', async () => {
    const states = store({ clock: instantClock });
    const starved = leaveKeysUnprocessed(() => 0);

    const loading = states.loadPairs(['branch-a']);

    await expect(loading).rejects.toThrow(ThrottledError);
    expect(starved.batchGets()).toBeGreaterThan(1);
    expect(starved.batchGets()).toBeLessThanOrEqual(10);
  });
});

describe('history', () => {
  it('lists a pair’s history newest first, up to the limit, without other pairs’ records', async () => {
    const states = store();
    await states.appendHistory('branch-a', T0 + 2 * MINUTE, { type: 'failback', to: 'primary' });
    await states.appendHistory('branch-a', T0, {
      type: 'failover',
      to: 'standby',
      routes: ['rtb-1', 'rtb-2'],
    });
    await states.appendHistory('branch-a', T0 + MINUTE, { type: 'route-change', routeTable: 'rtb-1' });
    await states.appendHistory('branch-b', T0 + 3 * MINUTE, { type: 'failover' });
    await states.savePair('branch-a', 0, failedOver);

    const all = await states.listHistory('branch-a');
    const latestTwo = await states.listHistory('branch-a', 2);

    expect(all).toEqual([
      { at: T0 + 2 * MINUTE, record: { type: 'failback', to: 'primary' } },
      { at: T0 + MINUTE, record: { type: 'route-change', routeTable: 'rtb-1' } },
      { at: T0, record: { type: 'failover', to: 'standby', routes: ['rtb-1', 'rtb-2'] } },
    ]);
    expect(latestTwo.map((entry) => entry.at)).toEqual([T0 + 2 * MINUTE, T0 + MINUTE]);
  });

  it('keeps two records of the same millisecond', async () => {
    const states = store();
    await states.appendHistory('branch-a', T0, { n: 1 });
    await states.appendHistory('branch-a', T0, { n: 2 });

    const records = (await states.listHistory('branch-a')).map((entry) => entry.record);

    expect(records).toHaveLength(2);
    expect(records).toEqual(expect.arrayContaining([{ n: 1 }, { n: 2 }]));
  });

  it.each([
    { retention: undefined, days: 90 },
    { retention: 7, days: 7 },
  ])(
    'sets the TTL attribute $days days after the event (retention option $retention)',
    async ({ retention, days }) => {
      const states = store(retention === undefined ? {} : { historyRetentionDays: retention });
      await states.appendHistory('branch-a', T0 + 123, { type: 'failover' });

      const { Items } = await local.dynamo.send(
        new QueryCommand({
          TableName: local.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': 'pair#branch-a' },
        }),
      );

      expect(Items).toHaveLength(1);
      expect(Items?.[0]?.sk).toMatch(/^history#2026-09-01T12:00:00\.123Z#\d{6}$/);
      expect(Items?.[0]?.expiresAt).toBe(T0 / 1000 + days * 86_400);
    },
  );
});

describe('history stored with an intent', () => {
  const failover = { plan: 'failover', from: 'primary', to: 'standby' };

  it('holds a record saved with the intent on the pair item until it is copied to the history', async () => {
    const states = store();
    const record = pendingHistory(T0, failover);

    await states.savePair('branch-a', 0, failedOver, { unrecorded: [record] });
    const held = await states.loadPairs(['branch-a']);
    const listedBefore = await states.listHistory('branch-a');
    const failed = await states.recordHistory('branch-a', [record]);

    expect(held.get('branch-a')?.unrecorded).toEqual([record]);
    expect(listedBefore).toEqual([]);
    expect(failed).toEqual([]);
    expect(await states.listHistory('branch-a')).toEqual([{ at: T0, record: failover }]);
    expect((await states.loadPair('branch-a')).unrecorded).toBeUndefined();
  });

  it('lists records made together at one instant in the order they were made', async () => {
    const states = store();
    const made = pendingHistories(T0, [{ event: 'resume' }, failover, { event: 'alarm' }]);
    await states.savePair('branch-a', 0, failedOver, { unrecorded: made });

    await states.recordHistory('branch-a', made);

    expect((await states.listHistory('branch-a')).map((h) => h.record).reverse()).toEqual([
      { event: 'resume' },
      failover,
      { event: 'alarm' },
    ]);
  });

  it('writes one history item when a record is copied twice, the second time with its outcome', async () => {
    const states = store();
    const record = pendingHistory(T0, failover);
    await states.savePair('branch-a', 0, failedOver, { unrecorded: [record] });

    await states.recordHistory('branch-a', [record]);
    await states.recordHistory('branch-a', [{ ...record, record: { ...failover, routesChanged: 4 } }]);

    expect(await states.listHistory('branch-a')).toEqual([
      { at: T0, record: { ...failover, routesChanged: 4 } },
    ]);
  });

  it('keeps a record whose copy failed on the pair item, for the next run to copy', async () => {
    const states = store();
    const record = pendingHistory(T0, failover);
    await states.savePair('branch-a', 0, failedOver, { unrecorded: [record] });
    const send = local.dynamo.send.bind(local.dynamo);
    vi.spyOn(local.dynamo, 'send').mockImplementationOnce((async (command: unknown) => {
      if (command instanceof PutCommand) {
        throw Object.assign(new Error('Internal server error'), { name: 'InternalServerError' });
      }
      return send(command as never);
    }) as never);

    const failed = await states.recordHistory('branch-a', [record]);
    const kept = (await states.loadPair('branch-a')).unrecorded;
    vi.restoreAllMocks();
    await states.recordHistory('branch-a', kept ?? []);

    expect(failed.map((f) => [f.entry, f.error.message])).toEqual([[record, 'Internal server error']]);
    expect(kept).toEqual([record]);
    expect(await states.listHistory('branch-a')).toEqual([{ at: T0, record: failover }]);
  });

  it('leaves the records it holds alone when memory is saved without records', async () => {
    const states = store();
    const record = pendingHistory(T0, failover);
    await states.savePair('branch-a', 0, failedOver, { unrecorded: [record] });

    await states.savePair('branch-a', 1, { ...failedOver, unknownStreak: 0 });

    expect((await states.loadPair('branch-a')).unrecorded).toEqual([record]);
  });
});

describe('writer lease', () => {
  it('is held by one run at a time, until its holder’s deadline', async () => {
    const states = store();

    const first = await states.takeWriterLease('run-a', T0 + MINUTE, T0);
    const second = await states.takeWriterLease('run-b', T0 + MINUTE, T0 + 1000);
    const again = await states.takeWriterLease('run-a', T0 + 2 * MINUTE, T0 + 1000);
    const afterExpiry = await states.takeWriterLease('run-b', T0 + 5 * MINUTE, T0 + 2 * MINUTE + 1);

    expect([first, second, again, afterExpiry]).toEqual([{}, undefined, {}, {}]);
  });

  it('hands its holder the pairs others marked, once, and is not let go while marks wait', async () => {
    const states = store();
    await states.takeWriterLease('run-a', T0 + MINUTE, T0);
    await states.markPairs(['pair-2', 'pair-1']);
    await states.markPairs(['pair-1']);
    const level = { tokens: 3, at: T0 + 10_000 };

    const refused = await states.releaseWriterLease('run-a', level);
    const marked = await states.takeMarkedPairs('run-a');
    const none = await states.takeMarkedPairs('run-a');
    const notHolder = await states.takeMarkedPairs('run-b');
    const released = await states.releaseWriterLease('run-a', level);
    const next = await states.takeWriterLease('run-b', T0 + 2 * MINUTE, T0 + 20_000);

    expect([refused, marked, none, notHolder, released]).toEqual([
      false,
      ['pair-1', 'pair-2'],
      [],
      undefined,
      true,
    ]);
    expect(next).toEqual({ level });
  });
});

describe('maintenance lease', () => {
  const resize = { owner: 'resize-branch-a-1', member: 'standby' as const, until: T0 + 30 * MINUTE };

  it('takes the lease of a pair never written, which then loads with initial memory and the lease', async () => {
    const states = store();

    const taken = await states.acquireLease('branch-a', resize, T0);

    const expected = { pair: 'branch-a', version: 1, memory: { ...initialMemory(), lease: resize } };
    expect(taken).toEqual(expected);
    expect((await states.loadPairs(['branch-a'])).get('branch-a')).toEqual(expected);
  });

  it('keeps the controller’s memory when the lease is taken', async () => {
    const states = store();
    await states.savePair('branch-a', 0, failedOver);

    const taken = await states.acquireLease('branch-a', resize, T0);

    expect(taken).toEqual({ pair: 'branch-a', version: 2, memory: { ...failedOver, lease: resize } });
  });

  it('refuses a second owner with LeaseHeldError naming the holder and its expiry', async () => {
    const states = store();
    await states.acquireLease('branch-a', resize, T0);

    const second = states.acquireLease(
      'branch-a',
      { owner: 'operator', until: T0 + 60 * MINUTE },
      T0 + MINUTE,
    );

    await expect(second).rejects.toThrow(LeaseHeldError);
    await expect(second).rejects.toThrow(/resize-branch-a-1 until 2026-09-01T12:30:00\.000Z/);
    expect((await states.loadPair('branch-a')).memory.lease).toEqual(resize);
  });

  it('lets the holder take its own lease again, with the new expiry', async () => {
    const states = store();
    await states.acquireLease('branch-a', resize, T0);

    const again = await states.acquireLease('branch-a', { ...resize, until: T0 + 45 * MINUTE }, T0 + MINUTE);

    expect(again.memory.lease).toEqual({ ...resize, until: T0 + 45 * MINUTE });
    expect(again.version).toBe(2);
  });

  it('lets another owner take over a lease that has expired', async () => {
    const states = store();
    await states.acquireLease('branch-a', resize, T0);
    const operator = { owner: 'operator', until: T0 + 90 * MINUTE };

    const taken = await states.acquireLease('branch-a', operator, resize.until + 1);

    expect(taken.memory.lease).toEqual(operator);
  });

  it('still holds the lease at the very millisecond it is due to expire', async () => {
    const states = store();
    await states.acquireLease('branch-a', resize, T0);

    const early = states.acquireLease(
      'branch-a',
      { owner: 'operator', until: T0 + 90 * MINUTE },
      resize.until,
    );

    await expect(early).rejects.toThrow(LeaseHeldError);
  });

  it('renews a lease for its holder only while it holds', async () => {
    const states = store();
    await states.acquireLease('branch-a', resize, T0);

    const renewed = await states.renewLease('branch-a', resize.owner, T0 + 60 * MINUTE, T0 + 20 * MINUTE);

    expect(renewed.memory.lease).toEqual({ ...resize, until: T0 + 60 * MINUTE });
    await expect(
      states.renewLease('branch-a', 'operator', T0 + 90 * MINUTE, T0 + 21 * MINUTE),
    ).rejects.toThrow(LeaseHeldError);
    await expect(
      states.renewLease('branch-a', resize.owner, T0 + 120 * MINUTE, T0 + 61 * MINUTE),
    ).rejects.toThrow(LeaseHeldError);
    expect((await states.loadPair('branch-a')).memory.lease).toEqual({ ...resize, until: T0 + 60 * MINUTE });
  });

  it('refuses to renew a lease nobody holds', async () => {
    await expect(store().renewLease('branch-a', resize.owner, T0 + MINUTE, T0)).rejects.toThrow(
      LeaseHeldError,
    );
  });

  it('releases the lease for its holder and keeps the controller’s memory', async () => {
    const states = store();
    await states.savePair('branch-a', 0, failedOver);
    await states.acquireLease('branch-a', resize, T0);

    const released = await states.releaseLease('branch-a', resize.owner);

    expect(released).toEqual({ pair: 'branch-a', version: 3, memory: failedOver });
    expect((await states.loadPair('branch-a')).memory).not.toHaveProperty('lease');
  });

  it('refuses a release by someone who does not hold the lease, which stays in place', async () => {
    const states = store();
    await states.acquireLease('branch-a', resize, T0);

    await expect(states.releaseLease('branch-a', 'operator')).rejects.toThrow(LeaseHeldError);
    expect((await states.loadPair('branch-a')).memory.lease).toEqual(resize);
  });

  it('treats releasing when no lease is held as done, without creating the pair', async () => {
    const states = store();

    const released = await states.releaseLease('branch-a', resize.owner);

    expect(released).toEqual({ pair: 'branch-a', version: 0, memory: initialMemory() });
    expect((await states.loadPair('branch-a')).version).toBe(0);
  });

  it('keeps the lease when the controller saves its memory after the lease was taken', async () => {
    const states = store();
    await states.savePair('branch-a', 0, initialMemory());
    const leased = await states.acquireLease('branch-a', resize, T0);

    const saved = await states.savePair('branch-a', leased.version, { ...failedOver, lease: undefined });

    expect(saved.memory).toEqual({ ...failedOver, lease: resize });
    expect((await states.loadPair('branch-a')).memory.lease).toEqual(resize);
  });

  it('cannot set or replace a lease through savePair', async () => {
    const states = store();
    const leased = await states.acquireLease('branch-a', resize, T0);

    const saved = await states.savePair('branch-a', leased.version, {
      ...failedOver,
      lease: { owner: 'controller', until: T0 + 999 * MINUTE },
    });

    expect(saved.memory.lease).toEqual(resize);
  });

  it('refuses the controller’s save at the version it read before the lease was taken', async () => {
    const states = store();
    const before = await states.savePair('branch-a', 0, initialMemory());
    await states.acquireLease('branch-a', resize, T0);

    await expect(states.savePair('branch-a', before.version, failedOver)).rejects.toThrow(ConflictError);
    expect((await states.loadPair('branch-a')).memory).toEqual({ ...initialMemory(), lease: resize });
  });

  it('refuses a controller that saw no pair item once the lease has created it', async () => {
    const states = store();
    await states.acquireLease('branch-a', resize, T0);

    await expect(states.savePair('branch-a', 0, failedOver)).rejects.toThrow(ConflictError);
  });
});
