import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type HandlerDeps, handleEvent } from '../../functions/controller/handler.ts';
import { StateStore } from '../../shared/aws/state-store.ts';
import { parseConfig } from '../../shared/config/load.ts';
import type { Config } from '../../shared/config/schema.ts';
import { createMetrics } from '../../shared/controller/metrics.ts';
import { BadEventError } from '../../shared/errors.ts';
import { METRIC } from '../../shared/telemetry-names.ts';
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
const context = { awsRequestId: 'req-0001', getRemainingTimeInMillis: () => 900_000 };
const PRIMARY = 'i-00000000000000001';
const STANDBY = 'i-00000000000000002';
const SCHEDULE = { action: 'schedule' };

let fleet: MockFleet;
let deps: HandlerDeps;

function start(config: Config = fleetConfig(1)) {
  fleet = mockFleet(config, {
    dynamoEndpoint: local.endpoint,
    tableName: local.tableName,
    clock: steppingClock(),
  });
  deps = { ...fleet.deps, metrics: createMetrics() };
}

/** Where each managed route of the pair points now, by member. */
const routeTargets = () =>
  [...fleet.world.routes.values()].flatMap((table) =>
    [...table.values()].map((eni) => (eni === eniId(1) ? 'primary' : eni === eniId(2) ? 'standby' : eni)),
  );

const stateChange = (instanceId: string, state: string) => ({
  version: '0',
  source: 'aws.ec2',
  'detail-type': 'EC2 Instance State-change Notification',
  detail: { 'instance-id': instanceId, state },
});

beforeEach(() => start());
afterEach(() => fleet.restore());

describe('controller handler', () => {
  it('on schedule with a healthy pair plans nothing and, once state is stored, writes nothing', async () => {
    const first = await handleEvent(SCHEDULE, context, deps);
    fleet.reset();
    const second = await handleEvent(SCHEDULE, context, deps);

    expect(first.pairs[0]).toMatchObject({ pair: 'pair-0', plan: 'noop', active: 'primary' });
    expect(second.pairs[0]?.plan).toBe('noop');
    expect(fleet.writes()).toBe(0);
    expect(routeTargets()).toEqual(['primary', 'primary', 'primary', 'primary']);
  });

  it('fails over every route to the standby when an EC2 state-change event reports the primary stopping', async () => {
    await handleEvent(SCHEDULE, context, deps);
    fleet.world.states.set(PRIMARY, 'stopping');

    const summary = await handleEvent(stateChange(PRIMARY, 'stopping'), context, deps);

    expect(summary.trigger).toBe('instance-state-change');
    expect(summary.pairs[0]).toMatchObject({
      plan: 'failover',
      trigger: 'hard-loss',
      from: 'primary',
      to: 'standby',
    });
    expect(summary.pairs[0]?.routesChanged).toHaveLength(4);
    expect(routeTargets()).toEqual(['standby', 'standby', 'standby', 'standby']);
    const history = await new StateStore({ dynamo: local.dynamo, tableName: local.tableName }).listHistory(
      'pair-0',
    );
    expect(history.map((h) => h.record.plan ?? h.record.event)).toEqual(['alarm', 'failover']);
    expect(history[1]?.record).toMatchObject({ plan: 'failover', from: 'primary', to: 'standby' });
  });

  it('on one primary stopping, looks at every pair and moves each whose primary is down in the same run', async () => {
    // Prepare: three pairs stored; the primaries of pairs 0 and 2 stop (a zone or host lost); the first event
    // to arrive names pair 0's primary.
    fleet.restore();
    start(fleetConfig(3));
    await handleEvent(SCHEDULE, context, deps);
    fleet.world.states.set(instanceId(1), 'stopping');
    fleet.world.states.set(instanceId(5), 'stopping');

    // Act
    const summary = await handleEvent(stateChange(instanceId(1), 'stopping'), context, deps);

    // Assess
    expect(summary.pairs.map((p) => [p.pair, p.plan])).toEqual([
      ['pair-0', 'failover'],
      ['pair-1', 'noop'],
      ['pair-2', 'failover'],
    ]);
  });

  it('leaves the pairs of an event that arrives while another run writes to that run, without looking', async () => {
    // Prepare: three pairs stored; another invocation holds the writer lease; a primary stops.
    fleet.restore();
    start(fleetConfig(3));
    await handleEvent(SCHEDULE, context, deps);
    const store = new StateStore({ dynamo: local.dynamo, tableName: local.tableName });
    const now = deps.clock.now();
    await store.takeWriterLease('other-invocation', now + 60_000, now);
    fleet.world.states.set(instanceId(1), 'stopping');
    fleet.reset();

    // Act
    const summary = await handleEvent(stateChange(instanceId(1), 'stopping'), context, deps);

    // Assess: nothing observed or written here; the writer is asked to look at every pair.
    expect(summary).toMatchObject({ pairs: [], deferred: ['pair-0', 'pair-1', 'pair-2'] });
    expect(fleet.calls()).toMatchObject({ ec2: 0, ssm: 0, cloudwatch: 0 });
    expect(routeTargets().slice(0, 4)).toEqual(['primary', 'primary', 'primary', 'primary']);
    expect(await store.takeMarkedPairs('other-invocation')).toEqual(['pair-0', 'pair-1', 'pair-2']);
  });

  it('on a primary starting, looks only at its own pair', async () => {
    fleet.restore();
    start(fleetConfig(2));
    const summary = await handleEvent(stateChange(PRIMARY, 'running'), context, deps);
    expect(summary.pairs.map((p) => p.pair)).toEqual(['pair-0']);
  });

  it('uses fresh state, not the event: a stale "stopped" event for a running primary moves nothing', async () => {
    await handleEvent(SCHEDULE, context, deps);
    const store = new StateStore({ dynamo: local.dynamo, tableName: local.tableName });
    const before = await store.loadPair('pair-0');

    const summary = await handleEvent(stateChange(PRIMARY, 'stopped'), context, deps);

    // Assess: no route written and the pair's state untouched (only the writer lease was taken and let go).
    expect(summary.pairs[0]?.plan).toBe('noop');
    expect(routeTargets()).toEqual(['primary', 'primary', 'primary', 'primary']);
    expect(await store.loadPair('pair-0')).toEqual(before);
  });

  it('ignores a state change of an instance it does not manage, without any AWS call', async () => {
    const summary = await handleEvent(stateChange('i-0abcdefabcdefabcd', 'stopped'), context, deps);

    expect(summary.pairs).toEqual([]);
    expect(fleet.calls().total).toBe(0);
  });

  it('looks at the pair an alarm state change names', async () => {
    const event = {
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
      detail: { alarmName: 'VpnFailover.pair.pair-0.degraded', state: { value: 'ALARM' } },
    };
    const summary = await handleEvent(event, context, deps);

    expect(summary.trigger).toBe('alarm');
    expect(summary.pairs.map((p) => p.pair)).toEqual(['pair-0']);
  });

  it('reconciles one named pair on an operator command', async () => {
    const summary = await handleEvent({ action: 'reconcile', pair: 'pair-0' }, context, deps);
    expect(summary.pairs.map((p) => p.pair)).toEqual(['pair-0']);
  });

  it('rejects a reconcile of an unknown pair before any AWS call', async () => {
    await expect(handleEvent({ action: 'reconcile', pair: 'nope' }, context, deps)).rejects.toThrow(
      BadEventError,
    );
    expect(fleet.calls().total).toBe(0);
  });

  it('rejects a malformed event with a clear error and no AWS call', async () => {
    await expect(handleEvent({ action: 'failover', pair: 'pair-0' }, context, deps)).rejects.toThrow(
      /malformed failover command: to/,
    );
    await expect(handleEvent({ hello: 'world' }, context, deps)).rejects.toThrow(/unrecognised event/);
    expect(fleet.calls().total).toBe(0);
  });

  it('moves traffic on a manual failover to a healthy standby, and a second run writes nothing', async () => {
    await handleEvent(SCHEDULE, context, deps);

    const summary = await handleEvent({ action: 'failover', pair: 'pair-0', to: 'standby' }, context, deps);
    fleet.reset();
    const after = await handleEvent(SCHEDULE, context, deps);

    expect(summary.pairs[0]).toMatchObject({
      plan: 'failover',
      trigger: 'manual',
      to: 'standby',
      active: 'standby',
    });
    expect(routeTargets()).toEqual(['standby', 'standby', 'standby', 'standby']);
    expect(after.pairs[0]).toMatchObject({ plan: 'noop', active: 'standby' });
    expect(fleet.writes()).toBe(0);
  });

  it('refuses a manual failover to an unhealthy member and touches nothing, unless forced', async () => {
    await handleEvent(SCHEDULE, context, deps);
    fleet.world.probeExit.set(STANDBY, 1);
    fleet.reset();
    const runErrors: number[] = [];
    const add = deps.metrics.addMetric.bind(deps.metrics);
    vi.spyOn(deps.metrics, 'addMetric').mockImplementation((name, unit, value) => {
      if (name === METRIC.runErrors) runErrors.push(value);
      return add(name, unit, value);
    });

    // The refusal is the command's answer, not a Lambda error: the invocation succeeds and no run error counts.
    const refused = await handleEvent({ action: 'failover', pair: 'pair-0', to: 'standby' }, context, deps);
    expect(refused.refused).toMatch(/^refused failover of pair-0 to standby: standby i-0+2 is unhealthy/);
    expect(refused.pairs[0]).toMatchObject({ plan: 'alarm', active: 'primary', routesChanged: [] });
    expect(runErrors).toEqual([0]);
    expect(fleet.writes()).toBe(0);
    expect(routeTargets()).toEqual(['primary', 'primary', 'primary', 'primary']);

    const forced = await handleEvent(
      { action: 'failover', pair: 'pair-0', to: 'standby', force: true },
      context,
      deps,
    );
    expect(forced.pairs[0]).toMatchObject({ plan: 'failover', to: 'standby' });
    expect(routeTargets()).toEqual(['standby', 'standby', 'standby', 'standby']);
  });

  it('finishes on the next run a failover that stopped half way, then writes nothing', async () => {
    // Prepare: the primary's daemon fails; the invocation that sees it re-checks, fails over on the second
    // failing evaluation, but only 2 of 4 writes land.
    await handleEvent(SCHEDULE, context, deps);
    fleet.world.probeExit.set(PRIMARY, 1);
    fleet.world.failRouteWritesAfter = 2;
    const interrupted = await handleEvent(SCHEDULE, context, deps);
    expect(interrupted.pairs[0]).toMatchObject({
      plan: 'failover',
      trigger: 'soft-failure',
      active: 'standby',
    });
    expect(interrupted.pairs[0]?.error).toMatch(/^2 writes failed, the next run repairs them/);
    expect(routeTargets().filter((t) => t === 'standby')).toHaveLength(2);

    // Act: the next scheduled run.
    fleet.world.failRouteWritesAfter = undefined;
    const repaired = await handleEvent(SCHEDULE, context, deps);
    fleet.reset();
    const settled = await handleEvent(SCHEDULE, context, deps);

    // Assess
    expect(repaired.pairs[0]).toMatchObject({ plan: 'repair-routes', to: 'standby' });
    expect(repaired.pairs[0]?.routesChanged).toHaveLength(2);
    expect(routeTargets()).toEqual(['standby', 'standby', 'standby', 'standby']);
    expect(settled.pairs[0]?.plan).toBe('noop');
    expect(fleet.writes()).toBe(0);
  });

  it('stops writing in time to return before the Lambda deadline, and the next run moves the rest', async () => {
    // Prepare: 30 pairs stored, then every primary stops: 120 routes to move, more than EC2's burst of 50.
    fleet.restore();
    start(fleetConfig(30));
    await handleEvent(SCHEDULE, context, deps);
    for (let i = 0; i < 30; i++) fleet.world.states.set(instanceId(2 * i + 1), 'stopped');
    const onStandby = () =>
      [...fleet.world.routes.values()]
        .flatMap((t) => [...t.values()])
        .filter((eni) => {
          const n = Number.parseInt(eni.split('-')[1] as string, 16);
          return n % 2 === 0;
        }).length;
    const startedAt = deps.clock.now();
    const shortLived = { awsRequestId: 'req-0002', getRemainingTimeInMillis: () => 20_000 };

    // Act
    const cut = await handleEvent(SCHEDULE, shortLived, deps);
    const movedFirst = onStandby();
    const elapsed = deps.clock.now() - startedAt;
    const next = await handleEvent(SCHEDULE, context, deps);

    // Assess
    expect(elapsed).toBeLessThanOrEqual(20_000);
    expect(movedFirst).toBeGreaterThanOrEqual(50);
    expect(movedFirst).toBeLessThan(120);
    expect(cut.pairs.some((p) => /not written before the invocation's deadline/.test(p.error ?? ''))).toBe(
      true,
    );
    expect(next.pairs.every((p) => p.active === 'standby')).toBe(true);
    expect(onStandby()).toBe(120);
  });

  it('in dry run reports the failover it would make and writes no route', async () => {
    fleet.restore();
    start(parseConfig({ ...structuredClone(fleetConfig(1)), dryRun: true }));
    await handleEvent(SCHEDULE, context, deps);
    fleet.world.states.set(PRIMARY, 'stopped');

    const summary = await handleEvent(SCHEDULE, context, deps);

    expect(summary.pairs[0]).toMatchObject({
      plan: 'failover',
      dryRun: true,
      active: 'primary',
      routesChanged: [],
    });
    expect(routeTargets()).toEqual(['primary', 'primary', 'primary', 'primary']);
  });

  it('in fast mode evaluates every 10 s for a minute and publishes each evaluation’s metrics as it finishes', async () => {
    // Prepare: fast mode; note when each heartbeat (one per evaluation) is published.
    fleet.restore();
    start(
      parseConfig({
        ...structuredClone(fleetConfig(1)),
        controller: { schedule: '1m', fastMode: { enabled: true, interval: '10s' } },
      }),
    );
    const published: number[] = [];
    const add = deps.metrics.addMetric.bind(deps.metrics);
    vi.spyOn(deps.metrics, 'addMetric').mockImplementation((name, unit, value) => {
      if (name === METRIC.heartbeat) published.push(deps.clock.now());
      return add(name, unit, value);
    });
    const startedAt = deps.clock.now();
    const oneMinuteAndAHalf = { awsRequestId: 'req-0003', getRemainingTimeInMillis: () => 120_000 };

    // Act
    const summary = await handleEvent(SCHEDULE, oneMinuteAndAHalf, deps);

    // Assess: six evaluations, 10 s apart, each heartbeat out as its evaluation ends (not all at the end).
    expect(summary.runs).toBe(6);
    expect(published.map((at) => Math.floor((at - startedAt) / 10_000))).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
