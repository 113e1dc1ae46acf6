import type { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { publishRunMetrics } from '../../shared/controller/metrics.ts';
import type { PairSummary, RunSummary } from '../../shared/controller/types.ts';
import { ALARM_KINDS } from '../../shared/domain/plan.ts';
import { type Log, silentLogger } from '../../shared/logger.ts';
import { PAIR_STATE } from '../../shared/telemetry-names.ts';

/** Records each info line the controller logs: its fields and message. */
function lines() {
  const logged: Array<{ fields: Record<string, unknown>; message?: string }> = [];
  const log: Log = {
    ...silentLogger,
    info: (fields: object, message?: string) => {
      logged.push({ fields: fields as Record<string, unknown>, message });
    },
  };
  return { log, logged };
}

/** Records each published metric set: its dimensions and values. */
function recorder() {
  const published: Array<{ dimensions: Record<string, string>; values: Record<string, number> }> = [];
  let dimensions: Record<string, string> = {};
  let values: Record<string, number> = {};
  const metrics = {
    addDimension: (name: string, value: string) => {
      dimensions[name] = value;
    },
    addDimensions: (more: Record<string, string>) => {
      dimensions = { ...dimensions, ...more };
    },
    addMetric: (name: string, _unit: string, value: number) => {
      values[name] = value;
    },
    publishStoredMetrics: () => {
      published.push({ dimensions, values });
      dimensions = {};
      values = {};
    },
  };
  return { metrics: metrics as unknown as Metrics, published };
}

const pair = (patch: Partial<PairSummary>): PairSummary => ({
  pair: 'branch-a',
  plan: 'noop',
  active: 'primary',
  reasons: [],
  alarms: [],
  routesChanged: [],
  elasticIpMoved: false,
  dryRun: false,
  members: {
    primary: { health: 'healthy', reason: '', signals: { instance: 'healthy', daemon: 'healthy' } },
    standby: { health: 'healthy', reason: '', signals: { instance: 'healthy', daemon: 'unknown' } },
  },
  ...patch,
});

const run = (pairs: PairSummary[]): RunSummary => ({
  trigger: 'schedule',
  startedAt: '2026-11-30T00:00:00.000Z',
  durationMs: 10,
  pairs,
});

const deploymentWide = (published: ReturnType<typeof recorder>['published']) =>
  published.find((p) => p.values.ControllerHeartbeat !== undefined);
const raisedByKind = (published: ReturnType<typeof recorder>['published']) =>
  published
    .filter((p) => p.values.AlarmRaised !== undefined)
    .map((p) => [p.dimensions.Kind, p.values.AlarmRaised]);

describe('controller metrics', () => {
  it('publish the heartbeat with the run errors and moves of the whole deployment, and no metric per pair', () => {
    const { metrics, published } = recorder();
    publishRunMetrics(metrics, run([pair({ pair: 'a' }), pair({ pair: 'b' })]), silentLogger);

    expect(published[0]).toEqual({
      dimensions: {},
      values: { ControllerHeartbeat: 1, RunErrors: 0, Failover: 0 },
    });
    // every other set is one alarm kind's count: nothing carries a pair
    expect(published.slice(1).map((p) => Object.keys(p.dimensions))).toEqual(ALARM_KINDS.map(() => ['Kind']));
  });

  it('log one pair-state line per pair per evaluation with the active member, each signal and whether traffic moved', () => {
    const { log, logged } = lines();
    publishRunMetrics(
      recorder().metrics,
      run([
        pair({ pair: 'a' }),
        pair({
          pair: 'b',
          plan: 'failover',
          active: 'standby',
          moveStarted: true,
          members: {
            primary: {
              health: 'unhealthy',
              reason: '',
              signals: { instance: 'healthy', daemon: 'unhealthy', tunnel: 'unknown' },
            },
            standby: { health: 'healthy', reason: '', signals: { instance: 'healthy', daemon: 'healthy' } },
          },
        }),
      ]),
      log,
    );

    expect(logged.filter((l) => l.message === PAIR_STATE.message).map((l) => l.fields)).toEqual([
      {
        pair: 'a',
        active: 'primary',
        activeMember: 0,
        moved: 0,
        signals: { primary: { instance: 1, daemon: 1 }, standby: { instance: 1, daemon: -1 } },
      },
      {
        pair: 'b',
        active: 'standby',
        activeMember: 1,
        moved: 1,
        signals: { primary: { instance: 1, daemon: 0, tunnel: -1 }, standby: { instance: 1, daemon: 1 } },
      },
    ]);
  });

  it('count, for every alarm kind on every run, how many pairs raise it (0 included) so each alarm can clear', () => {
    const { metrics, published } = recorder();
    publishRunMetrics(
      metrics,
      run([
        pair({ pair: 'a', alarms: [{ kind: 'standby-unhealthy', detail: '' }] }),
        pair({
          pair: 'b',
          alarms: [
            { kind: 'standby-unhealthy', detail: '' },
            { kind: 'signal-unknown', detail: '' },
          ],
        }),
        pair({ pair: 'c' }),
      ]),
      silentLogger,
    );

    expect(raisedByKind(published)).toEqual(
      ALARM_KINDS.map((kind) => [kind, kind === 'standby-unhealthy' ? 2 : kind === 'signal-unknown' ? 1 : 0]),
    );
  });

  it('a run that failed for some pairs still beats the heartbeat and says how many pairs failed', () => {
    const { metrics, published } = recorder();
    publishRunMetrics(
      metrics,
      run([pair({ pair: 'a', error: 'AccessDenied' }), pair({ pair: 'b', error: 'conflict' }), pair({})]),
      silentLogger,
    );

    expect(deploymentWide(published)?.values).toMatchObject({ ControllerHeartbeat: 1, RunErrors: 2 });
  });

  it('count every move whose writes began, even when some writes failed, and no dry run or refused move', () => {
    const { metrics, published } = recorder();
    const { log, logged } = lines();
    publishRunMetrics(
      metrics,
      run([
        pair({ pair: 'moved', plan: 'failover', active: 'standby', moveStarted: true }),
        pair({ pair: 'partly', plan: 'failover', active: 'standby', moveStarted: true, error: 'throttled' }),
        pair({ pair: 'dry', plan: 'failover', dryRun: true }),
        pair({ pair: 'not-started', plan: 'failback', error: 'conflict' }),
      ]),
      log,
    );

    expect(deploymentWide(published)?.values.Failover).toBe(2);
    const moved = Object.fromEntries(
      logged.filter((l) => l.message === PAIR_STATE.message).map((l) => [l.fields.pair, l.fields.moved]),
    );
    expect(moved).toEqual({ moved: 1, partly: 1, dry: 0, 'not-started': 0 });
  });
});
