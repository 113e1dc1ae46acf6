import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { StateStore } from '../../shared/aws/state-store.ts';
import { initialMemory, type PairMemory } from '../../shared/domain/types.ts';
import { TABLE_KEYS } from '../../shared/telemetry-names.ts';
import { useLocalStateTable } from '../support/dynamo.ts';

const local = useLocalStateTable();
const store = () => new StateStore({ dynamo: local.dynamo, tableName: local.tableName });

const T0 = Date.parse('2026-09-01T12:00:00.000Z');

/** A pair on the standby after its primary failed twice, with damped unknown alarms in flight. */
const damped: PairMemory = {
  ...initialMemory(),
  active: 'standby',
  healthyStreak: { primary: 4, standby: 0 },
  unknownStreak: 3,
  unknownAlarms: {
    'signal-unknown': { raised: true, streak: 2 },
    'routes-unreadable': { raised: false, streak: 1 },
  },
  lastFailoverAt: T0,
  primaryFailures: { count: 2, lastAt: T0 },
  enis: { 'i-0123456789abcdef0': 'eni-0a1b2c3d4e5f60001', 'i-0fedcba9876543210': 'eni-0f1e2d3c4b5a60002' },
};

describe('the memory that damps alarms and failback, and the ENIs per instance id, in the state store', () => {
  it('loads back exactly the damping state and instance-keyed ENIs it saved', async () => {
    const saved = await store().savePair('branch-a', 0, damped);

    expect(saved.memory).toEqual(damped);
    expect((await store().loadPair('branch-a')).memory).toEqual(damped);
  });

  it("loads back the alarm kinds raised and the members' health it saved, and drops the kinds once none is raised", async () => {
    const states = store();
    const alarmed: PairMemory = {
      ...damped,
      alarms: ['standby-unhealthy', 'signal-unknown'],
      verdicts: {
        primary: {
          health: 'unknown',
          signals: { instance: 'healthy', daemon: 'healthy', tunnel: 'unknown' },
        },
        standby: { health: 'unhealthy', signals: { instance: 'healthy', daemon: 'unhealthy' } },
      },
    };

    await states.savePair('branch-a', 0, alarmed);
    const loaded = (await states.loadPair('branch-a')).memory;
    const { alarms: _kinds, ...cleared } = alarmed;
    await states.savePair('branch-a', 1, cleared);

    expect(loaded).toEqual(alarmed);
    expect((await states.loadPair('branch-a')).memory).toEqual(cleared);
  });

  it('removes the damping state from the item once a save no longer has it', async () => {
    const states = store();
    await states.savePair('branch-a', 0, damped);
    const { unknownAlarms: _alarms, primaryFailures: _failures, ...calm } = damped;

    await states.savePair('branch-a', 1, calm);
    const memory = (await states.loadPair('branch-a')).memory;

    expect(memory).toEqual(calm);
    expect(memory).not.toHaveProperty('unknownAlarms');
    expect(memory).not.toHaveProperty('primaryFailures');
  });

  it('reads an item written before the damping fields existed, with ENIs keyed by role, without error', async () => {
    const old = {
      ...initialMemory(),
      enis: { primary: 'eni-0a1b2c3d4e5f60001', standby: 'eni-0f1e2d3c4b5a60002' },
    };
    await local.dynamo.send(
      new PutCommand({
        TableName: local.tableName,
        Item: {
          [TABLE_KEYS.partitionKey]: 'pair#branch-a',
          [TABLE_KEYS.sortKey]: 'state',
          version: 3,
          ...old,
        },
      }),
    );

    const loaded = await store().loadPair('branch-a');

    expect(loaded).toEqual({ pair: 'branch-a', version: 3, memory: old });
    expect(loaded.memory).not.toHaveProperty('unknownAlarms');
  });

  it('refuses a stored damping state that is malformed, naming the pair', async () => {
    await local.dynamo.send(
      new PutCommand({
        TableName: local.tableName,
        Item: {
          [TABLE_KEYS.partitionKey]: 'pair#branch-a',
          [TABLE_KEYS.sortKey]: 'state',
          version: 1,
          ...initialMemory(),
          primaryFailures: { count: 0, lastAt: T0 },
        },
      }),
    );

    await expect(store().loadPair('branch-a')).rejects.toThrow(/stored state of pair branch-a is malformed/);
  });
});
