import { afterEach, describe, expect, it } from 'vitest';
import { StateStore } from '../../shared/aws/state-store.ts';
import { runController } from '../../shared/controller/run.ts';
import { useLocalStateTable } from '../support/dynamo.ts';
import { fleetConfig, instanceId, type MockFleet, mockFleet, steppingClock } from '../support/mock-fleet.ts';

const local = useLocalStateTable();
let fleet: MockFleet | undefined;
afterEach(() => fleet?.restore());

describe('a steady tick', () => {
  it('for 200 healthy, converged pairs makes at most 30 AWS calls and writes nothing', async () => {
    // Prepare: a first run learns ENIs and stores each pair's state; then one ordinary tick.
    fleet = mockFleet(fleetConfig(200), {
      dynamoEndpoint: local.endpoint,
      tableName: local.tableName,
      clock: steppingClock(),
    });
    await runController(fleet.deps, { kind: 'schedule' });
    await runController(fleet.deps, { kind: 'schedule' });
    fleet.reset();

    // Act
    const summary = await runController(fleet.deps, { kind: 'schedule' });

    // Assess: 4 DescribeInstanceStatus + 4 DescribeRouteTables + 8 SendCommand + 8 ListCommandInvocations
    // + 1 GetMetricData + 2 BatchGetItem, and no write of any kind.
    const calls = fleet.calls();
    expect(summary.pairs).toHaveLength(200);
    expect(summary.pairs.every((p) => p.plan === 'noop' && p.routesChanged.length === 0)).toBe(true);
    expect(calls).toEqual({ ec2: 8, ssm: 16, cloudwatch: 1, dynamodb: 2, total: 27 });
    expect(calls.total).toBeLessThanOrEqual(30);
  });

  it('for pairs steadily alarmed (their standby daemon down) writes nothing, and the alarm is recorded once', async () => {
    // Prepare: every standby's daemon fails from the start; runs until its count reaches the threshold.
    fleet = mockFleet(fleetConfig(20), {
      dynamoEndpoint: local.endpoint,
      tableName: local.tableName,
      clock: steppingClock(),
    });
    for (let i = 0; i < 20; i++) fleet.world.probeExit.set(instanceId(2 * i + 2), 1);
    const threshold = fleet.deps.config.pairs[0]?.unhealthyThreshold ?? 0;
    for (let run = 0; run <= threshold; run++) await runController(fleet.deps, { kind: 'schedule' });
    fleet.reset();

    // Act
    const summary = await runController(fleet.deps, { kind: 'schedule' });

    // Assess: still alarmed, nothing written, one alarm record per pair since the start.
    expect(summary.pairs.every((p) => p.alarms.some((a) => a.kind === 'standby-unhealthy'))).toBe(true);
    expect(fleet.writes()).toBe(0);
    const history = await new StateStore({ dynamo: local.dynamo, tableName: local.tableName }).listHistory(
      'pair-7',
    );
    expect(history.map((h) => h.record)).toEqual([
      {
        event: 'alarm',
        raised: [{ kind: 'standby-unhealthy', detail: expect.stringContaining(instanceId(16)) }],
        cleared: [],
      },
    ]);
  });
});
