import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Fakes, type Run, runWithFakesAsync, sequence, swanctl } from './stubs.ts';

/**
 * The member agent's TunnelUp publication (instance/vpn-failover-agent.sh): a datapoint every METRIC_INTERVAL,
 * each with its own timestamp; while the tunnel stays up and the reports reach the table, five to one
 * PutMetricData; a datapoint that is 0 or changed goes at once with those held.
 */

const script = readFileSync(new URL('../../instance/vpn-failover-agent.sh', import.meta.url), 'utf8');
const INSTANCE_ID = 'i-0123456789abcdef0';
const BATCH = 5;

/** curl: IMDSv2's token and the instance's identity, as the agent asks for them at start. */
const IMDS = `meta='X-aws-ec2-metadata-token: token-123 http://169.254.169.254/latest'
case "$*" in
  *"-X PUT http://169.254.169.254/latest/api/token"*) printf token-123 ;;
  *"$meta/meta-data/services/partition") printf aws ;;
  *"$meta/meta-data/services/domain") printf amazonaws.com ;;
  *"$meta/meta-data/instance-id") printf ${INSTANCE_ID} ;;
  *"$meta/dynamic/instance-identity/document") printf '{"accountId" : "123456789012", "region" : "eu-west-1"}' ;;
  *) exit 22 ;;
esac`;

/**
 * The AWS CLI: each put-metric-data behaves as `putMetricData` says in turn (default: succeeds) and its
 * --metric-data is kept, one call a line, in $FAKES_DIR/sent (the failed ones in $FAKES_DIR/refused); each
 * put-item succeeds and its item goes to $FAKES_DIR/items.
 */
const aws = (putMetricData: readonly string[] = ['']) => `data='' item='' prev=''
for a in "$@"; do
  [ "$prev" = --metric-data ] && data=$a
  [ "$prev" = --item ] && item=$a
  prev=$a
done
case "$1 $2" in
  "cloudwatch put-metric-data")
    printf '%s\\n' "$data" >> "$FAKES_DIR/refused"
${sequence('put-metric-data', putMetricData)}
    sed -i '$d' "$FAKES_DIR/refused"
    printf '%s\\n' "$data" >> "$FAKES_DIR/sent"
  ;;
  "dynamodb put-item") printf '%s\\n' "$item" >> "$FAKES_DIR/items" ;;
esac`;

const THROTTLED =
  "echo 'An error occurred (Throttling) when calling the PutMetricData operation: Rate exceeded' >&2; exit 254";
const CHARON_DOWN = `echo "connecting to 'unix:///var/run/charon.vici' failed" >&2; exit 1`;

interface Datum {
  MetricName: string;
  Dimensions: { Name: string; Value: string }[];
  Timestamp: string;
  Value: number;
  Unit: string;
  StorageResolution: number;
}

const lines = (file: string | undefined) => (file ?? '').split('\n').filter(Boolean);
/** The datapoints of each PutMetricData that succeeded, in order. */
const sent = (run: Run): Datum[][] => lines(run.files.sent).map((line) => JSON.parse(line) as Datum[]);
const reports = (run: Run) =>
  lines(run.files.items).map((line) => JSON.parse(line) as Record<string, { S?: string; N?: string }>);

const runAgent = (checks: number, fakes: Fakes, env: Record<string, string> = {}) =>
  runWithFakesAsync(
    'bash',
    script,
    { curl: IMDS, aws: aws(), swanctl: swanctl(1), 'vpn-failover-check': checkScript(), ...fakes },
    {
      CHECK_INTERVAL: '0.1',
      METRIC_INTERVAL: '0.2',
      HEARTBEAT: '60',
      REPORT_TABLE: 'vpn-failover-agent',
      REPORT_WITH: 'cli',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AGENT_MAX_CHECKS: String(checks),
      ...env,
    },
  );

/** The daemon check installed beside the agent: the shipped script itself. */
const checkScript = () =>
  `exec sh '${new URL('../../instance/vpn-failover-check.sh', import.meta.url).pathname}'`;

const ms = (datum: Datum | undefined) => Date.parse(datum?.Timestamp ?? '');

describe.concurrent('member agent: TunnelUp batches', () => {
  it('sends the first datapoint at once, then an up tunnel’s next five in one request, each with its own timestamp', async () => {
    const run = await runAgent(14, {});
    expect(run.status).toBe(0);

    const [first, batch, ...more] = sent(run);
    expect(first).toEqual([
      {
        MetricName: 'TunnelUp',
        Dimensions: [{ Name: 'InstanceId', Value: INSTANCE_ID }],
        Timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        Value: 1,
        Unit: 'Count',
        StorageResolution: 60,
      },
    ]);
    expect(batch?.map((d) => d.Value)).toEqual(Array(BATCH).fill(1));
    // each datapoint keeps the time it was taken, not that of the request that carried it: they rise, on the
    // METRIC_INTERVAL (0.2 s) grid (a late loop on a busy machine takes one late and the next on time, so the
    // grid shows in the batch's span, at least its four intervals less one)
    const times = (batch ?? []).map(ms);
    expect(times.slice(1).every((t, i) => t > (times[i] ?? Number.POSITIVE_INFINITY))).toBe(true);
    expect((times.at(-1) ?? 0) - (times[0] ?? 0)).toBeGreaterThanOrEqual(3 * 200);
    expect(ms(batch?.[0]) - ms(first?.[0])).toBeGreaterThanOrEqual(150);
    expect(more).toEqual([]);
  });

  it('sends a down datapoint at once, with the up ones it held', async () => {
    const run = await runAgent(10, {
      swanctl: sequence('swanctl', [...Array(6).fill(swanctl(1)), CHARON_DOWN]),
    });

    const requests = sent(run);
    const down = requests.find((request) => request.some((d) => d.Value === 0));
    expect(down?.at(-1)?.Value).toBe(0);
    expect(down?.slice(0, -1).every((d) => d.Value === 1)).toBe(true);
    // every datapoint taken went out, none twice
    const all = requests.flat().map((d) => d.Timestamp);
    expect(new Set(all).size).toBe(all.length);
  });

  it('sends every datapoint at once when no report reaches the table: the controller then reads the metric', async () => {
    const run = await runAgent(14, {}, { REPORT_TABLE: '' });

    const requests = sent(run);
    expect(requests.length).toBeGreaterThanOrEqual(4);
    expect(requests.every((request) => request.length === 1)).toBe(true);
  });

  it('keeps the datapoints of a refused request and sends them with the next', async () => {
    const run = await runAgent(8, { aws: aws([THROTTLED, '']) });

    const refused = lines(run.files.refused).map((line) => JSON.parse(line) as Datum[]);
    expect(refused).toHaveLength(1);
    const [retried] = sent(run);
    expect(retried?.[0]).toEqual(refused[0]?.[0]);
  });

  it('rewrites its report at once when TunnelUp changes while the verdict holds (PING_TARGET stops answering)', async () => {
    const run = await runAgent(
      8,
      { ping: sequence('ping', ['exit 0', 'exit 1']) },
      { PING_TARGET: '10.50.0.1' },
    );

    const written = reports(run).map((item) => [item.kind?.S, item.verdict?.S, item.tunnelUp?.N]);
    expect(written).toEqual([
      ['change', 'healthy', '1'],
      ['heartbeat', 'healthy', '0'],
    ]);
  });
});
