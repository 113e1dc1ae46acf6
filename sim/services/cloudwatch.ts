import type { GetMetricDataInput, GetMetricDataOutput, MetricDataResult } from '@aws-sdk/client-cloudwatch';
import { serviceFault } from '../faults.ts';
import type { World } from '../world.ts';
import { type Datapoint, metricKey } from '../world-model.ts';
import type { ServiceHandlers } from './common.ts';

/**
 * CloudWatch GetMetricData over the datapoints the simulated instances publish
 * (docs/aws-behaviour.md#cloudwatch-metrics): per-period aggregation with the requested statistic, StartTime
 * rounded to the period, EndTime exclusive, newest first unless ScanBy asks otherwise. A datapoint counts only once
 * it is visible (the publication delay).
 */

const MAX_QUERIES = 500;
const QUERY_ID = /^[a-z][a-zA-Z0-9_]*$/;
const HIGH_RESOLUTION_PERIODS = [1, 5, 10, 20, 30];

function statistic(stat: string, values: readonly number[]): number {
  switch (stat) {
    case 'Minimum':
      return Math.min(...values);
    case 'Maximum':
      return Math.max(...values);
    case 'Sum':
      return values.reduce((a, b) => a + b, 0);
    case 'Average':
      return values.reduce((a, b) => a + b, 0) / values.length;
    case 'SampleCount':
      return values.length;
  }
  const percentile = /^p(\d{1,2}(?:\.\d+)?)$/.exec(stat);
  if (percentile) {
    const sorted = [...values].sort((a, b) => a - b);
    const rank = Math.ceil((Number(percentile[1]) / 100) * sorted.length) - 1;
    return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
  }
  throw serviceFault(
    'InvalidParameterValue',
    `The value ${stat} for parameter MetricStat.Stat is not a valid statistic.`,
  );
}

function validPeriod(period: number): boolean {
  return HIGH_RESOLUTION_PERIODS.includes(period) || (period >= 60 && period % 60 === 0);
}

function getMetricData(world: World, input: GetMetricDataInput): GetMetricDataOutput {
  const queries = input.MetricDataQueries ?? [];
  if (queries.length === 0 || queries.length > MAX_QUERIES) {
    throw serviceFault(
      'ValidationError',
      `MetricDataQueries must hold 1 to ${MAX_QUERIES} queries (got ${queries.length})`,
    );
  }
  if (input.StartTime === undefined || input.EndTime === undefined || input.StartTime >= input.EndTime) {
    throw serviceFault('ValidationError', 'The parameter StartTime must be less than the parameter EndTime.');
  }
  const now = world.clock.now();
  const start = input.StartTime.getTime();
  const end = input.EndTime.getTime();
  const ascending = input.ScanBy === 'TimestampAscending';
  const results: MetricDataResult[] = queries.map((query) => {
    const id = query.Id ?? '';
    if (!QUERY_ID.test(id)) {
      throw serviceFault(
        'ValidationError',
        `The value ${id} for parameter MetricDataQueries.member.Id is not valid: it must match ^[a-z][a-zA-Z0-9_]*$`,
      );
    }
    const stat = query.MetricStat;
    if (stat === undefined) {
      throw serviceFault(
        'ValidationError',
        `Query ${id}: the simulated account evaluates MetricStat queries only, not expressions`,
      );
    }
    const period = stat.Period ?? 60;
    if (!validPeriod(period)) {
      throw serviceFault(
        'ValidationError',
        `The value ${period} for parameter Period is not valid: 1, 5, 10, 20, 30 or a multiple of 60`,
      );
    }
    const metric = stat.Metric ?? {};
    const dimensions = Object.fromEntries(
      (metric.Dimensions ?? []).map((d) => [d.Name ?? '', d.Value ?? '']),
    );
    const series: readonly Datapoint[] =
      world.metrics.get(metricKey(metric.Namespace ?? '', metric.MetricName ?? '', dimensions)) ?? [];
    // StartTime is rounded down to the period (to the minute for periods of a minute or more).
    const step = period * 1000;
    const align = period < 60 ? step : 60_000;
    const first = start - (((start % align) + align) % align);
    const buckets: { at: number; value: number }[] = [];
    for (let at = first; at < end; at += step) {
      const inBucket = series.filter(
        (p) => p.at >= at && p.at < at + step && p.at < end && p.visibleAt <= now,
      );
      if (inBucket.length > 0)
        buckets.push({
          at,
          value: statistic(
            stat.Stat ?? 'Average',
            inBucket.map((p) => p.value),
          ),
        });
    }
    if (!ascending) buckets.reverse();
    return {
      Id: id,
      Label: query.Label ?? metric.MetricName ?? id,
      Timestamps: buckets.map((b) => new Date(b.at)),
      Values: buckets.map((b) => b.value),
      StatusCode: 'Complete',
      Messages: [],
    };
  });
  return { MetricDataResults: results.filter((_, i) => queries[i]?.ReturnData !== false), Messages: [] };
}

/** The simulated CloudWatch actions. */
export function cloudwatchHandlers(world: World): ServiceHandlers {
  return {
    GetMetricData: (input: GetMetricDataInput) => getMetricData(world, input),
  };
}
