import { readFileSync } from 'node:fs';
import {
  CloudWatchClient,
  GetMetricDataCommand,
  type GetMetricDataCommandOutput,
} from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { type MetricQuery, readTunnelMetrics } from '../../shared/aws/cloudwatch.ts';

/** A recorded response; ISO timestamps become Dates as the SDK would deliver them. */
function fixture<T>(name: string): T {
  const text = readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8');
  return JSON.parse(text, (_key, value) =>
    typeof value === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z$/.test(value)
      ? new Date(value)
      : value,
  );
}

const NOW = Date.parse('2026-11-30T05:00:00.000Z');

const tunnelQuery = (key: string, instanceId: string, period = 60): MetricQuery => ({
  key,
  namespace: 'VpnFailover',
  metricName: 'TunnelUp',
  dimensions: { InstanceId: instanceId },
  statistic: 'Minimum',
  period,
});

/** The values of one series as read, newest first (undefined when the series was not read). */
const valuesOf = (result: { values: Map<string, readonly { value: number }[]> }, key: string) =>
  result.values.get(key)?.map((point) => point.value);

const cloudwatchMock = mockClient(CloudWatchClient);
// The stub replaces the client class's send for the whole worker: give it back for the next file.
afterAll(() => cloudwatchMock.restore());
const cloudwatch = new CloudWatchClient({ maxAttempts: 1 });

beforeEach(() => {
  cloudwatchMock.reset();
});

describe('readTunnelMetrics', () => {
  it('returns the newest datapoints first with the start of their period, at most as many as asked, and [] for a series with no data yet', async () => {
    // Prepare
    cloudwatchMock
      .on(GetMetricDataCommand)
      .resolves(fixture<GetMetricDataCommandOutput>('get-metric-data.json'));

    // Act
    const result = await readTunnelMetrics(cloudwatch, {
      queries: [
        tunnelQuery('branch-a/primary', 'i-0123456789abcdef0'),
        tunnelQuery('branch-a/standby', 'i-0fedcba9876543210'),
        tunnelQuery('branch-b/primary', 'i-0aaaabbbbccccdddd'),
      ],
      now: NOW,
      datapoints: 3,
    });

    // Assess
    expect(result.errors).toEqual([]);
    expect(result.values.get('branch-a/primary')).toEqual([
      { at: Date.parse('2026-11-30T04:59:00.000Z'), value: 1 },
      { at: Date.parse('2026-11-30T04:58:00.000Z'), value: 1 },
      { at: Date.parse('2026-11-30T04:57:00.000Z'), value: 0 },
    ]);
    expect(valuesOf(result, 'branch-a/standby')).toEqual([0, 0, 1]);
    expect(valuesOf(result, 'branch-b/primary')).toEqual([]);
  });

  it('asks for the metric by namespace, name, dimensions, statistic and period over the last periods', async () => {
    // Prepare
    cloudwatchMock
      .on(GetMetricDataCommand)
      .resolves({ MetricDataResults: [{ Id: 'q0', Timestamps: [], Values: [] }] });

    // Act
    await readTunnelMetrics(cloudwatch, {
      queries: [tunnelQuery('branch-a/primary', 'i-0123456789abcdef0')],
      now: NOW,
      datapoints: 2,
    });

    // Assess
    expect(cloudwatchMock).toHaveReceivedCommandWith(GetMetricDataCommand, {
      MetricDataQueries: [
        {
          Id: 'q0',
          MetricStat: {
            Metric: {
              Namespace: 'VpnFailover',
              MetricName: 'TunnelUp',
              Dimensions: [{ Name: 'InstanceId', Value: 'i-0123456789abcdef0' }],
            },
            Period: 60,
            Stat: 'Minimum',
          },
          ReturnData: true,
        },
      ],
      // two wanted periods plus two of slack for rounding and the period still filling
      StartTime: new Date(NOW - 4 * 60_000),
      EndTime: new Date(NOW),
      ScanBy: 'TimestampDescending',
    });
  });

  it('sends 600 queries as 2 calls of at most 500, with ids q0… that CloudWatch accepts', async () => {
    // Prepare
    const queries = Array.from({ length: 600 }, (_, i) =>
      tunnelQuery(`pair-${i}/primary`, `i-${String(i).padStart(17, '0')}`),
    );
    cloudwatchMock.on(GetMetricDataCommand).callsFake((input) => ({
      MetricDataResults: input.MetricDataQueries.map((q: { Id: string }) => ({
        Id: q.Id,
        Timestamps: [new Date(NOW - 60_000)],
        Values: [Number(q.Id.slice(1))],
        StatusCode: 'Complete',
      })),
    }));

    // Act
    const result = await readTunnelMetrics(cloudwatch, { queries, now: NOW, datapoints: 1 });

    // Assess
    expect(cloudwatchMock).toHaveReceivedCommandTimes(GetMetricDataCommand, 2);
    const calls = cloudwatchMock
      .commandCalls(GetMetricDataCommand)
      .map((c) => c.args[0].input.MetricDataQueries ?? []);
    expect(calls.map((q) => q.length).sort()).toEqual([100, 500]);
    for (const id of calls.flat().map((q) => q.Id)) expect(id).toMatch(/^[a-z][a-zA-Z0-9_]*$/);
    expect(result.values.size).toBe(600);
    expect(valuesOf(result, 'pair-599/primary')).toEqual([599]);
    expect(valuesOf(result, 'pair-0/primary')).toEqual([0]);
  });

  it('joins a series that continues on the next page', async () => {
    // Prepare
    cloudwatchMock
      .on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          { Id: 'q0', Timestamps: [new Date(NOW - 60_000)], Values: [1], StatusCode: 'PartialData' },
        ],
        NextToken: 'page-2',
      })
      .resolvesOnce({
        MetricDataResults: [
          { Id: 'q0', Timestamps: [new Date(NOW - 120_000)], Values: [0], StatusCode: 'Complete' },
        ],
      });

    // Act
    const result = await readTunnelMetrics(cloudwatch, {
      queries: [tunnelQuery('branch-a/primary', 'i-0123456789abcdef0')],
      now: NOW,
      datapoints: 2,
    });

    // Assess
    expect(cloudwatchMock).toHaveReceivedCommandTimes(GetMetricDataCommand, 2);
    expect(valuesOf(result, 'branch-a/primary')).toEqual([1, 0]);
  });

  it('leaves out a series CloudWatch answers Forbidden for, naming it in errors', async () => {
    // Prepare
    cloudwatchMock.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        { Id: 'q0', Timestamps: [new Date(NOW - 60_000)], Values: [1], StatusCode: 'Complete' },
        {
          Id: 'q1',
          Timestamps: [],
          Values: [],
          StatusCode: 'Forbidden',
          Messages: [{ Code: 'Forbidden', Value: 'Not authorized to read cross-account metrics' }],
        },
      ],
    });

    // Act
    const result = await readTunnelMetrics(cloudwatch, {
      queries: [
        tunnelQuery('branch-a/primary', 'i-0123456789abcdef0'),
        tunnelQuery('branch-a/standby', 'i-0fedcba9876543210'),
      ],
      now: NOW,
      datapoints: 1,
    });

    // Assess
    expect(valuesOf(result, 'branch-a/primary')).toEqual([1]);
    expect(result.values.has('branch-a/standby')).toBe(false);
    expect(result.errors).toEqual([
      'branch-a/standby: Forbidden: Not authorized to read cross-account metrics',
    ]);
  });

  it('leaves out every key of a call that fails, without throwing', async () => {
    // Prepare
    cloudwatchMock
      .on(GetMetricDataCommand)
      .rejects(Object.assign(new Error('Rate exceeded'), { name: 'Throttling', $metadata: {} }));

    // Act
    const result = await readTunnelMetrics(cloudwatch, {
      queries: [tunnelQuery('branch-a/primary', 'i-0123456789abcdef0')],
      now: NOW,
      datapoints: 2,
    });

    // Assess
    expect(result.values.size).toBe(0);
    expect(result.errors).toEqual(['GetMetricData branch-a/primary: Throttling: Rate exceeded']);
  });

  it('reads series of different periods in separate calls, each over its own window', async () => {
    // Prepare
    cloudwatchMock.on(GetMetricDataCommand).callsFake((input) => ({
      MetricDataResults: input.MetricDataQueries.map((q: { Id: string }) => ({
        Id: q.Id,
        Timestamps: [],
        Values: [],
      })),
    }));

    // Act
    await readTunnelMetrics(cloudwatch, {
      queries: [
        tunnelQuery('fast/primary', 'i-0123456789abcdef0', 10),
        tunnelQuery('slow/primary', 'i-0fedcba9876543210', 300),
      ],
      now: NOW,
      datapoints: 3,
    });

    // Assess
    expect(cloudwatchMock).toHaveReceivedCommandWith(GetMetricDataCommand, {
      StartTime: new Date(NOW - 5 * 10_000),
    });
    expect(cloudwatchMock).toHaveReceivedCommandWith(GetMetricDataCommand, {
      StartTime: new Date(NOW - 5 * 300_000),
    });
  });
});
