import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type HandlerDeps, handleEvent } from '../../functions/controller/handler.ts';
import { StateStore } from '../../shared/aws/state-store.ts';
import { createMetrics } from '../../shared/controller/metrics.ts';
import { BadEventError, ConflictError } from '../../shared/errors.ts';
import { METRIC } from '../../shared/telemetry-names.ts';
import { useLocalStateTable } from '../support/dynamo.ts';
import { eniId, fleetConfig, type MockFleet, mockFleet, steppingClock } from '../support/mock-fleet.ts';

const local = useLocalStateTable();
const context = { awsRequestId: 'req-0001', getRemainingTimeInMillis: () => 900_000 };
const PRIMARY = 'i-00000000000000001';
const STANDBY = 'i-00000000000000002';
const SCHEDULE = { action: 'schedule' };
const PAUSE = { action: 'pause', pair: 'pair-0', for: '2h', reason: 'firmware upgrade', by: 'alice' };

let fleet: MockFleet;
let deps: HandlerDeps;
/** RunErrors values published, one per run */
let runErrors: number[];

beforeEach(() => {
  fleet = mockFleet(fleetConfig(1), {
    dynamoEndpoint: local.endpoint,
    tableName: local.tableName,
    clock: steppingClock(),
  });
  deps = { ...fleet.deps, metrics: createMetrics() };
  runErrors = [];
  const add = deps.metrics.addMetric.bind(deps.metrics);
  vi.spyOn(deps.metrics, 'addMetric').mockImplementation((name, unit, value) => {
    if (name === METRIC.runErrors) runErrors.push(value);
    return add(name, unit, value);
  });
});
afterEach(() => fleet.restore());

/** Where each managed route of the pair points now, by member. */
const routeTargets = () =>
  [...fleet.world.routes.values()].flatMap((table) =>
    [...table.values()].map((eni) => (eni === eniId(1) ? 'primary' : eni === eniId(2) ? 'standby' : eni)),
  );
const ALL_PRIMARY = ['primary', 'primary', 'primary', 'primary'];
const ALL_STANDBY = ['standby', 'standby', 'standby', 'standby'];

const store = () => new StateStore({ dynamo: local.dynamo, tableName: local.tableName });
const history = async () => (await store().listHistory('pair-0')).map((h) => h.record).reverse();
const alarmKinds = (summary: { pairs: readonly { alarms: readonly { kind: string }[] }[] }) =>
  summary.pairs[0]?.alarms.map((a) => a.kind) ?? [];
const minutes = (n: number) => deps.clock.sleep(n * 60_000);

describe('operator pause and resume', () => {
  it('holds a paused pair on its dead primary daemon, raising paused on every evaluation, and moves it when resumed', async () => {
    await handleEvent(SCHEDULE, context, deps);
    const paused = await handleEvent(PAUSE, context, deps);
    expect(paused.refused).toBeUndefined();
    expect(paused.pairs[0]?.pause).toMatchObject({ reason: 'firmware upgrade', by: 'alice' });
    expect(alarmKinds(paused)).toContain('paused');

    fleet.world.probeExit.set(PRIMARY, 1);
    for (let run = 0; run < 3; run++) {
      await minutes(1);
      const tick = await handleEvent(SCHEDULE, context, deps);
      expect(tick.pairs[0]).toMatchObject({ plan: 'alarm', active: 'primary' });
      expect(alarmKinds(tick)).toContain('paused');
      expect(tick.pairs[0]?.reasons.join('\n')).toMatch(
        /^would fail over to standby \(soft-failure\), but the pair is paused by alice until .*: firmware upgrade$/m,
      );
    }
    expect(routeTargets()).toEqual(ALL_PRIMARY);

    const resumed = await handleEvent({ action: 'resume', pair: 'pair-0', by: 'bob' }, context, deps);
    expect(resumed.pairs[0]).toMatchObject({ plan: 'failover', trigger: 'soft-failure', to: 'standby' });
    expect(resumed.pairs[0]?.reasons[0]).toMatch(/^operator command: resume by bob \(lifts: paused by alice/);
    expect(alarmKinds(resumed)).not.toContain('paused');
    expect(routeTargets()).toEqual(ALL_STANDBY);
    expect((await store().loadPair('pair-0')).memory.pause).toBeUndefined();

    const records = await history();
    // The resume, the move it let go and the alarms they changed are stored in one write, in that order.
    expect(records.map((r) => r.event ?? r.plan)).toEqual(['pause', 'alarm', 'resume', 'failover', 'alarm']);
    expect(records[0]).toMatchObject({ event: 'pause', reason: 'firmware upgrade', by: 'alice' });
    expect(records[1]).toMatchObject({ raised: [{ kind: 'paused' }], cleared: [] });
    expect(records[2]).toMatchObject({ event: 'resume', by: 'bob', previous: { by: 'alice' } });
    expect(records[3]).toMatchObject({ plan: 'failover', trigger: 'soft-failure', to: 'standby' });
    expect(records[4]).toMatchObject({ raised: [{ kind: 'standby-unhealthy' }], cleared: ['paused'] });
    expect(runErrors.every((n) => n === 0)).toBe(true);
  });

  it('leaves traffic on a stopped primary while paused, with traffic-blackholed saying what it would have done', async () => {
    await handleEvent(SCHEDULE, context, deps);
    await handleEvent(PAUSE, context, deps);
    fleet.world.states.set(PRIMARY, 'stopped');

    const tick = await handleEvent(
      {
        version: '0',
        source: 'aws.ec2',
        'detail-type': 'EC2 Instance State-change Notification',
        detail: { 'instance-id': PRIMARY, state: 'stopped' },
      },
      context,
      deps,
    );

    expect(routeTargets()).toEqual(ALL_PRIMARY);
    const blackholed = tick.pairs[0]?.alarms.find((a) => a.kind === 'traffic-blackholed');
    expect(blackholed?.detail).toMatch(
      /primary i-0+1 carries traffic and is lost .*; it would fail over to standby \(hard-loss\), but the pair is paused by alice until .*: firmware upgrade$/,
    );
    expect(alarmKinds(tick)).toContain('paused');
  });

  it('carries out an operator failover during a pause, and the pause stays', async () => {
    await handleEvent(SCHEDULE, context, deps);
    await handleEvent(PAUSE, context, deps);

    const moved = await handleEvent({ action: 'failover', pair: 'pair-0', to: 'standby' }, context, deps);

    expect(moved.pairs[0]).toMatchObject({ plan: 'failover', trigger: 'manual', to: 'standby' });
    expect(moved.pairs[0]?.reasons.at(-1)).toMatch(/^the pair stays paused by alice until/);
    expect(routeTargets()).toEqual(ALL_STANDBY);
    expect((await store().loadPair('pair-0')).memory.pause?.reason).toBe('firmware upgrade');
    expect(alarmKinds(moved)).toContain('paused');
  });

  it('carries out a forced operator failover to an unhealthy member during a pause', async () => {
    await handleEvent(SCHEDULE, context, deps);
    await handleEvent(PAUSE, context, deps);
    fleet.world.probeExit.set(STANDBY, 1);

    const moved = await handleEvent(
      { action: 'failover', pair: 'pair-0', to: 'standby', force: true },
      context,
      deps,
    );

    expect(moved.pairs[0]).toMatchObject({ plan: 'failover', to: 'standby' });
    expect(routeTargets()).toEqual(ALL_STANDBY);
  });

  it('ends a pause by itself at its end: the next evaluation moves, and that write drops the hold', async () => {
    await handleEvent(SCHEDULE, context, deps);
    await handleEvent({ ...PAUSE, for: '10m' }, context, deps);
    fleet.world.probeExit.set(PRIMARY, 1);
    await minutes(1);
    const held = await handleEvent(SCHEDULE, context, deps);
    expect(held.pairs[0]?.plan).toBe('alarm');

    await minutes(10);
    const after = await handleEvent(SCHEDULE, context, deps);

    expect(after.pairs[0]).toMatchObject({ plan: 'failover', to: 'standby' });
    expect(alarmKinds(after)).not.toContain('paused');
    expect(routeTargets()).toEqual(ALL_STANDBY);
    expect((await store().loadPair('pair-0')).memory.pause).toBeUndefined();
  });

  it('does not repair a deleted route of a paused pair until it is resumed', async () => {
    await handleEvent(SCHEDULE, context, deps);
    await handleEvent(PAUSE, context, deps);
    const [table] = [...fleet.world.routes.values()];
    const [destination] = [...(table?.keys() ?? [])];
    table?.delete(destination as string);

    const held = await handleEvent(SCHEDULE, context, deps);
    expect(held.pairs[0]?.plan).toBe('alarm');
    expect(held.pairs[0]?.reasons.join('\n')).toMatch(
      /^would repair 1 route onto primary, but the pair is paused by alice/m,
    );
    expect(routeTargets()).toHaveLength(3);

    const resumed = await handleEvent({ action: 'resume', pair: 'pair-0' }, context, deps);
    expect(resumed.pairs[0]?.plan).toBe('repair-routes');
    expect(routeTargets()).toEqual(ALL_PRIMARY);
  });

  it('replaces a pause with a new one, recording both', async () => {
    await handleEvent(SCHEDULE, context, deps);
    await handleEvent(PAUSE, context, deps);
    const again = await handleEvent(
      { ...PAUSE, for: '30m', reason: 'longer test', by: 'carol' },
      context,
      deps,
    );

    expect(again.pairs[0]?.reasons[0]).toMatch(
      /^operator command: pause for 30m by carol: longer test \(replaces: paused by alice/,
    );
    expect(again.pairs[0]?.pause).toMatchObject({ reason: 'longer test', by: 'carol' });
    const records = await history();
    // The pair stays paused throughout: its paused alarm is raised once, by the first pause.
    expect(records.map((r) => r.event)).toEqual(['pause', 'alarm', 'pause']);
    expect(records[1]).toMatchObject({ raised: [{ kind: 'paused' }] });
    expect(records[2]).toMatchObject({ by: 'carol', previous: { by: 'alice' } });
  });

  it('answers a resume of a pair that is not paused, writing no history', async () => {
    await handleEvent(SCHEDULE, context, deps);
    const resumed = await handleEvent({ action: 'resume', pair: 'pair-0' }, context, deps);
    expect(resumed.refused).toBeUndefined();
    expect(resumed.pairs[0]?.reasons[0]).toBe(
      'operator command: resume by an operator: the pair was not paused',
    );
    expect(await history()).toEqual([]);
  });
});

describe('an operator command that cannot be stored', () => {
  it('says it was not carried out, with the pause the pair still has (none)', async () => {
    await handleEvent(SCHEDULE, context, deps);
    // Every save loses its conditional write, as when other runs keep storing the pair first.
    vi.spyOn(StateStore.prototype, 'savePair').mockRejectedValue(
      new ConflictError('pair pair-0 changed since version 1; reload and decide again'),
    );

    const summary = await handleEvent(PAUSE, context, deps);

    expect(summary.refused).toBeUndefined();
    expect(summary.pairs[0]?.error).toMatch(/^the pause was not carried out; try again/);
    expect(summary.pairs[0]?.pause).toBeUndefined();
    expect(alarmKinds(summary)).not.toContain('paused');
    expect(await history()).toEqual([]);
  });
});

describe('refused operator commands are answers', () => {
  it.each([
    ['pause', PAUSE],
    ['resume', { action: 'resume', pair: 'nope' }],
    ['failover', { action: 'failover', pair: 'nope', to: 'standby' }],
  ])('answers a %s of an unknown pair with a refusal, no AWS call and no run error', async (_, event) => {
    const summary = await handleEvent({ ...event, pair: 'nope' }, context, deps);
    expect(summary.refused).toMatch(
      /^refused (pause|resume|failover) of unknown pair "nope" \(configured: pair-0\)$/,
    );
    expect(summary.pairs).toEqual([]);
    expect(fleet.calls().total).toBe(0);
    expect(runErrors).toEqual([0]);
  });

  it.each([
    [{ ...PAUSE, for: '30s' }, /malformed pause command: for: expected a pause from 1m to 7d \(got "30s"\)/],
    [{ ...PAUSE, for: '8d' }, /malformed pause command: for: expected a pause from 1m to 7d \(got "8d"\)/],
    [{ ...PAUSE, reason: undefined }, /malformed pause command: reason/],
    [{ ...PAUSE, reason: 'two\nlines' }, /reason: expected printable characters only/],
  ])('rejects malformed pause %j as a bad event, writing nothing', async (event, message) => {
    await expect(handleEvent(event, context, deps)).rejects.toThrow(BadEventError);
    await expect(handleEvent(event, context, deps)).rejects.toThrow(message);
    expect(fleet.calls().total).toBe(0);
  });
});
