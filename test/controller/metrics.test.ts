import type { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { publishRunMetrics } from '../../shared/controller/metrics.ts';
import type { PairSummary, RunSummary } from '../../shared/controller/types.ts';

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

describe('controller metrics', () => {
  it('publish a heartbeat, then per pair what the alarms and the dashboard read', () => {
    const { metrics, published } = recorder();
    publishRunMetrics(metrics, run([pair({})]));

    expect(published[0]).toEqual({ dimensions: {}, values: { ControllerHeartbeat: 1 } });
    expect(published[1]).toEqual({
      dimensions: { Pair: 'branch-a' },
      values: { Failover: 0, ActiveMember: 0, StandbyHealthy: 1, BothUnhealthy: 0, ForeignRoute: 0 },
    });
    expect(published.slice(2).map((p) => [p.dimensions, p.values.SignalHealth])).toContainEqual([
      { Pair: 'branch-a', Role: 'standby', Signal: 'daemon' },
      -1,
    ]);
  });

  it('report lost redundancy, both members down and a failover exactly as the decision raised them', () => {
    const { metrics, published } = recorder();
    publishRunMetrics(
      metrics,
      run([
        pair({
          plan: 'failover',
          active: 'standby',
          alarms: [
            { kind: 'standby-unhealthy', detail: '' },
            { kind: 'both-unhealthy', detail: '' },
          ],
        }),
      ]),
    );

    expect(published[1]?.values).toMatchObject({
      Failover: 1,
      ActiveMember: 1,
      StandbyHealthy: 0,
      BothUnhealthy: 1,
    });
  });

  it('counts no failover for a dry run or a move that failed', () => {
    const { metrics, published } = recorder();
    publishRunMetrics(
      metrics,
      run([pair({ plan: 'failover', dryRun: true }), pair({ plan: 'failover', error: 'x' })]),
    );

    expect(published.filter((p) => p.values.Failover !== undefined).map((p) => p.values.Failover)).toEqual([
      0, 0,
    ]);
  });
});
