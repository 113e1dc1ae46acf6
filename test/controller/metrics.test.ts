import type { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { publishRunMetrics } from '../../shared/controller/metrics.ts';
import type { PairSummary, RunSummary } from '../../shared/controller/types.ts';
import { ALARM_KINDS } from '../../shared/domain/plan.ts';

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
  it('publish the heartbeat with the run errors and moves of the whole deployment, then per pair what the dashboard reads', () => {
    const { metrics, published } = recorder();
    publishRunMetrics(metrics, run([pair({})]));

    expect(published[0]).toEqual({
      dimensions: {},
      values: { ControllerHeartbeat: 1, RunErrors: 0, Failover: 0 },
    });
    expect(published.find((p) => p.dimensions.Pair === 'branch-a' && !p.dimensions.Signal)).toEqual({
      dimensions: { Pair: 'branch-a' },
      values: { Failover: 0, ActiveMember: 0 },
    });
    expect(published.map((p) => [p.dimensions, p.values.SignalHealth])).toContainEqual([
      { Pair: 'branch-a', Role: 'standby', Signal: 'daemon' },
      -1,
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
    );

    expect(deploymentWide(published)?.values).toMatchObject({ ControllerHeartbeat: 1, RunErrors: 2 });
  });

  it('count every move whose writes began, even when some writes failed, and no dry run or refused move', () => {
    const { metrics, published } = recorder();
    publishRunMetrics(
      metrics,
      run([
        pair({ pair: 'moved', plan: 'failover', active: 'standby', moveStarted: true }),
        pair({ pair: 'partly', plan: 'failover', active: 'standby', moveStarted: true, error: 'throttled' }),
        pair({ pair: 'dry', plan: 'failover', dryRun: true }),
        pair({ pair: 'not-started', plan: 'failback', error: 'conflict' }),
      ]),
    );

    expect(deploymentWide(published)?.values.Failover).toBe(2);
    const perPair = Object.fromEntries(
      published
        .filter((p) => p.dimensions.Pair && p.values.Failover !== undefined)
        .map((p) => [p.dimensions.Pair, p.values.Failover]),
    );
    expect(perPair).toEqual({ moved: 1, partly: 1, dry: 0, 'not-started': 0 });
  });
});
