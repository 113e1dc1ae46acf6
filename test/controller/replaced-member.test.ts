import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../shared/aws/state-store.ts';
import { parseConfig } from '../../shared/config/load.ts';
import { runController } from '../../shared/controller/run.ts';
import { initialMemory } from '../../shared/domain/types.ts';
import { TABLE_KEYS } from '../../shared/telemetry-names.ts';
import { useLocalStateTable } from '../support/dynamo.ts';
import {
  eniId,
  fleetConfig,
  instanceId,
  type MockFleet,
  mockFleet,
  steppingClock,
} from '../support/mock-fleet.ts';

const local = useLocalStateTable();
let fleet: MockFleet | undefined;
afterEach(() => fleet?.restore());

/** The one-pair fleet with its standby replaced by a new instance (instance 99, ENI 99). */
function withNewStandby() {
  const [pair] = fleetConfig(1).pairs;
  if (pair === undefined) throw new Error('no pair');
  return parseConfig({
    pairs: [
      {
        name: pair.name,
        primary: { instanceId: pair.primary.instanceId },
        standby: { instanceId: instanceId(99) },
        routeTables: pair.routeTables,
        destinations: pair.destinations,
        probe: { kind: 'strongswan', minSas: 1 },
        tunnel: {},
      },
    ],
  });
}

const routeTargets = (f: MockFleet) => [...f.world.routes.values()].flatMap((table) => [...table.values()]);

describe('a member replaced by a new instance', () => {
  it('fails over to the new instance’s ENI, not the remembered ENI of the instance it replaced', async () => {
    // Prepare: a first run remembers both members' ENIs; then the standby is replaced in the configuration.
    fleet = mockFleet(fleetConfig(1), {
      dynamoEndpoint: local.endpoint,
      tableName: local.tableName,
      clock: steppingClock(),
    });
    await runController(fleet.deps, { kind: 'schedule' });
    const replaced = { ...fleet.deps, config: withNewStandby() };
    fleet.world.states.set(instanceId(1), 'stopped');

    // Act
    const summary = await runController(replaced, { kind: 'schedule' });

    // Assess
    expect(summary.pairs[0]).toMatchObject({ plan: 'failover' });
    expect(new Set(routeTargets(fleet))).toEqual(new Set([eniId(99)]));
    const stored = await new StateStore({ dynamo: local.dynamo, tableName: local.tableName }).loadPair(
      'pair-0',
    );
    expect(stored.memory.enis).toEqual({ [instanceId(1)]: eniId(1), [instanceId(99)]: eniId(99) });
  });

  it('reads the ENIs afresh when the stored item remembers them by role (written by an older version), and fails over to the one read', async () => {
    fleet = mockFleet(fleetConfig(1), {
      dynamoEndpoint: local.endpoint,
      tableName: local.tableName,
      clock: steppingClock(),
    });
    await local.dynamo.send(
      new PutCommand({
        TableName: local.tableName,
        Item: {
          [TABLE_KEYS.partitionKey]: 'pair#pair-0',
          [TABLE_KEYS.sortKey]: 'state',
          version: 1,
          ...initialMemory(),
          enis: { primary: 'eni-0000000000000dead', standby: 'eni-0000000000000beef' },
        },
      }),
    );

    fleet.world.states.set(instanceId(1), 'stopped');

    const summary = await runController(fleet.deps, { kind: 'schedule' });

    expect(summary.pairs[0]).toMatchObject({ plan: 'failover' });
    expect(new Set(routeTargets(fleet))).toEqual(new Set([eniId(2)]));
    const stored = await new StateStore({ dynamo: local.dynamo, tableName: local.tableName }).loadPair(
      'pair-0',
    );
    expect(stored.memory.enis).toEqual({ [instanceId(1)]: eniId(1), [instanceId(2)]: eniId(2) });
  });
});
