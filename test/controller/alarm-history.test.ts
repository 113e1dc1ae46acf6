import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { StateStore } from '../../shared/aws/state-store.ts';
import { runController } from '../../shared/controller/run.ts';
import { useLocalStateTable } from '../support/dynamo.ts';
import { fleetConfig, instanceId, type MockFleet, mockFleet, steppingClock } from '../support/mock-fleet.ts';

/** The pair's history records alarms as they are raised and cleared, once each, dry run or not. */

const local = useLocalStateTable();
let fleet: MockFleet | undefined;
afterEach(() => {
  vi.restoreAllMocks();
  fleet?.restore();
  fleet = undefined;
});

const SCHEDULE = { kind: 'schedule' } as const;
const awsError = (name: string, message: string) =>
  Object.assign(new Error(message), { name, $metadata: {} });
const STANDBY = instanceId(2);

function start(options: { readonly dryRun?: boolean } = {}): MockFleet {
  const config = fleetConfig(1);
  fleet = mockFleet(options.dryRun ? { ...config, dryRun: true } : config, {
    dynamoEndpoint: local.endpoint,
    tableName: local.tableName,
    clock: steppingClock(),
  });
  return fleet;
}

/** pair-0's history records, oldest first. */
const history = async () =>
  (await new StateStore({ dynamo: local.dynamo, tableName: local.tableName }).listHistory('pair-0'))
    .map((h) => h.record)
    .reverse();

describe('alarms in the history', () => {
  it('records the standby going unhealthy when it is first seen, with why, and its recovery when it clears', async () => {
    const f = start();
    await runController(f.deps, SCHEDULE);
    f.world.probeExit.set(STANDBY, 1);

    for (let run = 0; run < 4; run++) await runController(f.deps, SCHEDULE);
    const whileDown = await history();
    f.world.probeExit.delete(STANDBY);
    await runController(f.deps, SCHEDULE);
    await runController(f.deps, SCHEDULE);

    expect(whileDown).toEqual([
      {
        event: 'alarm',
        raised: [
          {
            kind: 'standby-unhealthy',
            detail: expect.stringMatching(
              /^standby i-0+2, the member not carrying traffic, is unhealthy \(.+\)/,
            ),
          },
        ],
        cleared: [],
      },
    ]);
    expect(await history()).toEqual([
      ...whileDown,
      { event: 'alarm', raised: [], cleared: ['standby-unhealthy'] },
    ]);
  });

  it('records the alarms of a dry run, marked as such, while it moves nothing', async () => {
    const f = start({ dryRun: true });
    await runController(f.deps, SCHEDULE);
    f.world.states.set(instanceId(1), 'stopped');

    const summary = await runController(f.deps, SCHEDULE);
    await runController(f.deps, SCHEDULE);

    expect(summary.pairs[0]).toMatchObject({ plan: 'failover', dryRun: true, routesChanged: [] });
    const records = await history();
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      event: 'alarm',
      dryRun: true,
      raised: expect.arrayContaining([
        { kind: 'traffic-blackholed', detail: expect.stringMatching(/a dry run moves nothing/) },
      ]),
    });
  });

  it('an alarm record whose copy failed is copied by the next run, once', async () => {
    const f = start();
    await runController(f.deps, SCHEDULE);
    const dynamo = f.deps.clients.dynamo;
    const send = dynamo.send.bind(dynamo);
    let failed = 0;
    vi.spyOn(dynamo, 'send').mockImplementation((async (command: unknown) => {
      const item = command instanceof PutCommand ? command.input.Item : undefined;
      if (item?.record?.event === 'alarm' && failed === 0) {
        failed += 1;
        throw awsError('InternalServerError', 'Internal server error');
      }
      return send(command as never);
    }) as never);
    f.world.probeExit.set(STANDBY, 1);

    const raised = await runController(f.deps, SCHEDULE);
    const before = await history();
    await runController(f.deps, SCHEDULE);
    await runController(f.deps, SCHEDULE);

    expect(failed).toBe(1);
    expect(raised.pairs[0]?.error).toMatch(/1 history record not copied.*Internal server error/);
    expect(before).toEqual([]);
    expect((await history()).map((r) => [r.event, r.raised])).toEqual([
      ['alarm', [expect.objectContaining({ kind: 'standby-unhealthy' })]],
    ]);
  });
});
