import {
  type CloudWatchClient,
  type MetricDataQuery,
  type MetricDataResult,
  paginateDescribeAlarms,
  paginateGetMetricData,
} from '@aws-sdk/client-cloudwatch';
import { chunk } from '../concurrency.ts';
import type { Datapoint } from '../domain/types.ts';
import { describeAwsError, toControllerError } from './errors.ts';
import { collector, type ReadResult } from './read-result.ts';

/**
 * The tunnel metric reader (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html): recent datapoints of many metrics in as few GetMetricData
 * calls as the API allows. Never throws; a key whose series cannot be read is left out and named in errors.
 */

/** GetMetricData takes at most 500 MetricDataQuery a call (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetMetricData.html). */
const QUERIES_PER_CALL = 500;
/** Periods fetched beyond those wanted: StartTime is rounded and the newest period may still be filling. */
const EXTRA_PERIODS = 2;

/** One metric series to read: a statistic of one metric over fixed periods, named by a caller's key. */
export interface MetricQuery {
  /** the caller's name for the series; keys must be unique within a request */
  readonly key: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Readonly<Record<string, string>>;
  /** Minimum, Maximum, Average, Sum, SampleCount or a percentile like p90 */
  readonly statistic: string;
  /** seconds per datapoint */
  readonly period: number;
}

/** A read of the newest datapoints of several series. */
export interface MetricsRequest {
  readonly queries: readonly MetricQuery[];
  /** epoch ms; the end of the window (exclusive) */
  readonly now: number;
  /** how many recent periods are wanted per series */
  readonly datapoints: number;
}

/**
 * The newest `datapoints` datapoints of each series, newest first, each with the start of its period, keyed by
 * the query's key (the timestamps let the caller tell a fresh datapoint from a stale one). Queries of the same
 * period share calls of at most 500 (so one window fits them all); ids sent to CloudWatch are q0, q1... because
 * they must match ^[a-z][a-zA-Z0-9_]*$. A series with no datapoints yet is present with []; a series that
 * CloudWatch answers Forbidden or InternalError for, or a failed call, leaves its keys out with an error.
 */
export async function readTunnelMetrics(
  cloudwatch: CloudWatchClient,
  request: MetricsRequest,
): Promise<ReadResult<string, Datapoint[]>> {
  const out = collector<string, Datapoint[]>();
  const indexed = request.queries.map((query, index) => ({ id: `q${index}`, query }));
  const byPeriod = new Map<number, typeof indexed>();
  for (const entry of indexed) {
    const group = byPeriod.get(entry.query.period) ?? [];
    group.push(entry);
    byPeriod.set(entry.query.period, group);
  }

  const calls = [...byPeriod].flatMap(([period, entries]) =>
    chunk(entries, QUERIES_PER_CALL).map((part) => ({ period, part })),
  );
  await Promise.all(
    calls.map(async ({ period, part }) => {
      const results = new Map<string, { points: Datapoint[]; failure?: string }>();
      try {
        const pages = paginateGetMetricData(
          { client: cloudwatch },
          {
            MetricDataQueries: part.map(({ id, query }) => metricDataQuery(id, query)),
            StartTime: new Date(request.now - (request.datapoints + EXTRA_PERIODS) * period * 1000),
            EndTime: new Date(request.now),
            ScanBy: 'TimestampDescending',
          },
        );
        for await (const page of pages) {
          for (const result of page.MetricDataResults ?? []) collect(results, result);
        }
      } catch (err) {
        out.errors.push(`GetMetricData ${part.map((e) => e.query.key).join(', ')}: ${describeAwsError(err)}`);
        return;
      }
      for (const { id, query } of part) {
        const result = results.get(id);
        if (result === undefined) {
          out.errors.push(`GetMetricData returned no result for ${query.key}`);
        } else if (result.failure !== undefined) {
          out.errors.push(`${query.key}: ${result.failure}`);
        } else {
          const newestFirst = result.points.sort((a, b) => b.at - a.at);
          out.values.set(query.key, newestFirst.slice(0, request.datapoints));
        }
      }
    }),
  );
  return out;
}

/** One CloudWatch alarm and its state. */
export interface AlarmState {
  readonly name: string;
  /** OK, ALARM or INSUFFICIENT_DATA */
  readonly state: string;
  readonly reason?: string;
  /** epoch ms of the last state change */
  readonly since?: number;
}

/**
 * Every metric alarm whose name starts with `prefix` and its state (DescribeAlarms, every page,
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html). Throws a typed
 * error when the call fails.
 */
export async function readAlarms(cloudwatch: CloudWatchClient, prefix: string): Promise<AlarmState[]> {
  const alarms: AlarmState[] = [];
  try {
    const pages = paginateDescribeAlarms({ client: cloudwatch }, { AlarmNamePrefix: prefix });
    for await (const page of pages) {
      for (const alarm of page.MetricAlarms ?? []) {
        if (alarm.AlarmName === undefined) continue;
        alarms.push({
          name: alarm.AlarmName,
          state: alarm.StateValue ?? 'INSUFFICIENT_DATA',
          ...(alarm.StateReason ? { reason: alarm.StateReason } : {}),
          ...(alarm.StateUpdatedTimestamp ? { since: alarm.StateUpdatedTimestamp.getTime() } : {}),
        });
      }
    }
  } catch (err) {
    throw toControllerError(err, `DescribeAlarms ${prefix}*`);
  }
  return alarms.sort((a, b) => a.name.localeCompare(b.name));
}

function metricDataQuery(id: string, query: MetricQuery): MetricDataQuery {
  return {
    Id: id,
    MetricStat: {
      Metric: {
        Namespace: query.namespace,
        MetricName: query.metricName,
        Dimensions: Object.entries(query.dimensions).map(([Name, Value]) => ({ Name, Value })),
      },
      Period: query.period,
      Stat: query.statistic,
    },
    ReturnData: true,
  };
}

/** Add one page's result for a series; a series continues across pages under the same id. */
function collect(
  results: Map<string, { points: Datapoint[]; failure?: string }>,
  result: MetricDataResult,
): void {
  if (result.Id === undefined) return;
  const entry = results.get(result.Id) ?? { points: [] };
  results.set(result.Id, entry);
  if (result.StatusCode === 'Forbidden' || result.StatusCode === 'InternalError') {
    const messages = (result.Messages ?? []).map((m) => m.Value ?? m.Code).filter((m) => m !== undefined);
    entry.failure = [result.StatusCode, ...messages].join(': ');
    return;
  }
  const timestamps = result.Timestamps ?? [];
  (result.Values ?? []).forEach((value, i) => {
    const timestamp = timestamps[i];
    if (timestamp !== undefined) entry.points.push({ at: timestamp.getTime(), value });
  });
}
