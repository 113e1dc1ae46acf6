import { readFileSync } from 'node:fs';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { publishRunMetrics } from '../../shared/controller/metrics.ts';
import type { PairSummary, RunSummary } from '../../shared/controller/types.ts';
import { ALARM_KINDS } from '../../shared/domain/plan.ts';
import { silentLogger } from '../../shared/logger.ts';
import { TUNNEL_UP_BATCH } from '../../sim/tunnel-publisher.ts';

/** docs/cost.md, tied to the code where the code decides a figure, and its arithmetic checked. */

const doc = readFileSync(new URL('../../docs/cost.md', import.meta.url), 'utf8');
const agentScript = readFileSync(new URL('../../instance/vpn-failover-agent.sh', import.meta.url), 'utf8');

interface Row {
  readonly item: string;
  readonly arithmetic: string;
  readonly dollars: number;
}

/** The rows of the cost table under a `## heading`, bold totals included. */
function table(heading: string): Row[] {
  const section = doc.split(/^## /m).find((s) => s.startsWith(`${heading}\n`)) ?? '';
  return section
    .split('\n')
    .filter((line) => /^\|.*\|\s*\**\d+\.\d\d\**\s*\|$/.test(line))
    .map((line) => {
      const [item = '', arithmetic = '', amount = ''] = line
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      return { item: item.replace(/\*/g, ''), arithmetic, dollars: Number(amount.replace(/\*/g, '')) };
    });
}

const cents = (n: number) => Math.round(n * 100);
const sum = (rows: readonly Row[]) => rows.reduce((total, row) => total + cents(row.dollars), 0);
const row = (rows: readonly Row[], item: string) => rows.find((r) => r.item.startsWith(item));

/** The distinct custom metric series (name and dimensions) the controller emits for a run over these pairs. */
function metricSeries(pairs: readonly string[]): Set<string> {
  const series = new Set<string>();
  let dimensions: Record<string, string> = {};
  let names: string[] = [];
  const metrics = {
    addDimension: (name: string, value: string) => {
      dimensions[name] = value;
    },
    addDimensions: (more: Record<string, string>) => {
      dimensions = { ...dimensions, ...more };
    },
    addMetric: (name: string) => {
      names.push(name);
    },
    publishStoredMetrics: () => {
      for (const name of names) series.add(`${name} ${JSON.stringify(dimensions)}`);
      dimensions = {};
      names = [];
    },
  } as unknown as Metrics;
  const summary = (pair: string): PairSummary => ({
    pair,
    plan: 'noop',
    active: 'primary',
    reasons: [],
    alarms: [],
    routesChanged: [],
    elasticIpMoved: false,
    dryRun: false,
    members: {
      primary: {
        health: 'healthy',
        reason: '',
        signals: { instance: 'healthy', daemon: 'healthy', tunnel: 'healthy' },
      },
      standby: {
        health: 'healthy',
        reason: '',
        signals: { instance: 'healthy', daemon: 'healthy', tunnel: 'healthy' },
      },
    },
  });
  const run: RunSummary = {
    trigger: 'schedule',
    startedAt: '2026-12-01T00:00:00.000Z',
    durationMs: 2500,
    pairs: pairs.map(summary),
  };
  publishRunMetrics(metrics, run, silentLogger);
  return series;
}

describe('docs/cost.md', () => {
  const onePair = table('One pair');
  const further = table('Each further pair');

  it('states as many controller custom metrics as the controller emits, and none more for a further pair', () => {
    const one = metricSeries(['branch-a']);
    const two = metricSeries(['branch-a', 'branch-b']);

    expect(two.size - one.size).toBe(0);
    expect(row(onePair, 'Custom metrics')?.arithmetic).toMatch(
      new RegExp(`^${two.size} metrics × \\$0\\.30`),
    );
    expect(row(onePair, 'Custom metrics')?.arithmetic).toContain(`${ALARM_KINDS.length} × AlarmRaised`);
    expect(cents(row(onePair, 'Custom metrics')?.dollars ?? 0)).toBe(two.size * 30);
    expect(row(further, 'Controller custom metrics')?.arithmetic).toMatch(/^0 metrics/);
  });

  it("states the alarms the deployment creates: one per alarm kind and the controller's four", () => {
    expect(row(onePair, 'Alarms')?.arithmetic).toMatch(
      new RegExp(`^${ALARM_KINDS.length + 4} standard-resolution`),
    );
  });

  it('divides the agent’s datapoints by the batch the agent and the simulated agent send', () => {
    expect(agentScript).toMatch(new RegExp(`^readonly METRIC_BATCH=${TUNNEL_UP_BATCH}$`, 'm'));
    expect(row(further, "The member agent's PutMetricData")?.arithmetic).toContain(
      `43,200 ÷ ${TUNNEL_UP_BATCH}`,
    );
    expect(row(onePair, "The member agent's PutMetricData")?.arithmetic).toContain(
      `43,200 datapoints ÷ ${TUNNEL_UP_BATCH} per request`,
    );
  });

  it('adds up: the totals are the sums of their rows, and each further pair costs at most $1.00', () => {
    const controller = onePair.slice(
      0,
      onePair.findIndex((r) => r.item === 'Controller, total'),
    );
    const agent = onePair.filter((r) => r.item.startsWith("The member agent's"));
    expect(cents(row(onePair, 'Controller, total')?.dollars ?? 0)).toBe(sum(controller));
    expect(cents(row(onePair, 'With the member agent')?.dollars ?? 0)).toBe(sum(controller) + sum(agent));

    const items = further.filter((r) => r.item !== 'Each further pair');
    const total = cents(row(further, 'Each further pair')?.dollars ?? Infinity);
    expect(total).toBe(sum(items));
    expect(total).toBeLessThanOrEqual(100);

    const fast = table('Fast mode');
    expect(cents(row(fast, 'Controller')?.dollars ?? 0)).toBe(
      sum(fast.filter((r) => r.item !== 'Controller')),
    );
    const fixed = ['Custom metrics', 'Alarms', 'Dashboard', 'KMS key'].map((item) => row(onePair, item));
    expect(cents(row(fast, 'Everything else')?.dollars ?? 0)).toBe(sum(fixed.filter((r) => r !== undefined)));
  });
});
