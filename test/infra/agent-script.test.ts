import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_ITEM, agentMemberKey, instanceIdOfMemberKey } from '../../shared/domain/agent.ts';
import { TUNNEL_NAMESPACE } from '../../shared/telemetry-names.ts';
import { type Fakes, HANGING, printing, type Run, runWithFakesAsync, sequence, swanctl } from './stubs.ts';
import { configOf, EXAMPLE_PAIR } from './test-app.ts';

/**
 * The member agent (instance/vpn-failover-agent.sh) run for a bounded number of checks under bash, with the
 * shipped daemon check and fake swanctl/systemctl/ipsec, a fake IMDSv2 (curl) and a fake AWS CLI that keeps
 * every report it was given. Intervals are a tenth of a second so each run takes about one.
 */
const instanceFile = (name: string) => new URL(`../../instance/${name}`, import.meta.url);
const script = readFileSync(instanceFile('vpn-failover-agent.sh'), 'utf8');
const service = readFileSync(instanceFile('vpn-failover-agent.service'), 'utf8');
const settingsFile = readFileSync(instanceFile('vpn-failover-agent.env'), 'utf8');
const policy = JSON.parse(readFileSync(instanceFile('agent-policy.json'), 'utf8'));

const INSTANCE_ID = 'i-0123456789abcdef0';
const MEMBER = agentMemberKey('arn:aws:ec2:eu-west-1:123456789012:instance/', INSTANCE_ID);

interface Imds {
  readonly partition?: string;
  readonly region?: string;
  readonly domain?: string;
  /** IMDSv2 refuses a token to this many requests first (it is not up yet) */
  readonly downFor?: number;
  /** the n-th fetch of the role's credentials gets credentialsOf(n), valid for `expiresIn[n - 1]` s (the last from then on) */
  readonly expiresIn?: readonly number[];
}

/** The access key, secret key and session token of the n-th credentials IMDS hands out. */
const credentialsOf = (n: number | '$n') => ({
  key: `ASIAEXAMPLEKEY0000${n}`,
  secret: `wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY${n}`,
  token: `IQoJb3JpZ2luX2VjEXAMPLE${n}/session+token=`,
});

/** IMDSv2 (sh case arms): a token from PUT, then metadata only with that token, as the real service answers. */
const imdsArms = ({
  partition = 'aws',
  region = 'eu-west-1',
  domain = 'amazonaws.com',
  downFor = 0,
  expiresIn = [21_600],
}: Imds) => {
  const meta = 'X-aws-ec2-metadata-token: token-123 http://169.254.169.254/latest';
  // $n: the fetch's number, counted by sequence()
  const { key, secret, token } = credentialsOf('$n');
  const credentials = expiresIn.map(
    (seconds) => `cat <<DOC
{
  "Code" : "Success",
  "LastUpdated" : "2026-12-01T08:00:00Z",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "${key}",
  "SecretAccessKey" : "${secret}",
  "Token" : "${token}",
  "Expiration" : "$(date -u -d @$(( $(date +%s) + ${seconds} )) +%Y-%m-%dT%H:%M:%SZ)"
}
DOC`,
  );
  return `  *"-X PUT http://169.254.169.254/latest/api/token"*)
${sequence('imds-token', [...Array.from({ length: downFor }, () => 'exit 7'), 'printf token-123'])}
  ;;
  *"${meta}/meta-data/services/partition") printf ${partition} ;;
  *"${meta}/meta-data/services/domain") printf ${domain} ;;
  *"${meta}/meta-data/instance-id") printf ${INSTANCE_ID} ;;
  *"${meta}/meta-data/iam/security-credentials/") printf 'vpn-member-role\n' ;;
  *"${meta}/meta-data/iam/security-credentials/vpn-member-role")
${sequence('credentials', credentials)}
  ;;
  *"${meta}/dynamic/instance-identity/document") cat <<'DOC'
{
  "accountId" : "123456789012",
  "architecture" : "x86_64",
  "availabilityZone" : "${region}a",
  "billingProducts" : null,
  "imageId" : "ami-0abcdef1234567890",
  "instanceId" : "${INSTANCE_ID}",
  "instanceType" : "t3.micro",
  "pendingTime" : "2026-11-30T08:12:45Z",
  "privateIp" : "10.0.1.10",
  "region" : "${region}",
  "version" : "2017-09-30"
}
DOC
  ;;`;
};

/** What DynamoDB answers a PutItem (sh setting `status` and `answer`). */
const ANSWER_OK = `status=200; answer='{}'`;
const dynamodbError = (status: number, type: string, message: string) =>
  `status=${status}; answer='{"__type":"${type}","message":"${message}"}'`;
const HTTP_THROTTLED = dynamodbError(
  400,
  'com.amazonaws.dynamodb.v20120810#ThrottlingException',
  'Rate of requests exceeds the allowed throughput.',
);
const HTTP_EXPIRED = dynamodbError(
  400,
  'com.amazon.coral.service#ExpiredTokenException',
  'The security token included in the request is expired',
);

const HELP_SIGV4 =
  '     --aws-sigv4 <provider1[:provider2[:region[:service]]]> Use AWS V4 signature authentication';
const HELP_OLD = '     --anyauth       Pick any authentication method';

/**
 * curl: IMDSv2 as `imds` says; `--help all` lists --aws-sigv4 unless `sigv4` is false; a DynamoDB PutItem
 * (the X-Amz-Target header) keeps its body in $FAKES_DIR/requests, its stdin (curl's config) in
 * $FAKES_DIR/configs, answers as `putItem` says in turn (HTTP 200 by default) the way `-w '\n%{http_code}'`
 * prints it, and keeps the body of each one answered 200 in $FAKES_DIR/bodies.
 */
const curl = ({
  imds = {},
  putItem = [ANSWER_OK],
  sigv4 = true,
}: {
  imds?: Imds;
  putItem?: readonly string[];
  sigv4?: boolean;
} = {}) => `case "$*" in
  "--help all") printf '%s\n' '${sigv4 ? HELP_SIGV4 : HELP_OLD}' ;;
  *"X-Amz-Target: DynamoDB_20120810.PutItem"*)
    cat >> "$FAKES_DIR/configs"
    body=''
    prev=''
    for a in "$@"; do
      [ "$prev" = --data-binary ] && body=$a
      prev=$a
    done
    printf '%s\n' "$body" >> "$FAKES_DIR/requests"
${sequence('put-item', putItem)}
    [ "$status" = 200 ] && printf '%s\n' "$body" >> "$FAKES_DIR/bodies"
    printf '%s\n%s' "$answer" "$status"
  ;;
${imdsArms(imds)}
  *) exit 22 ;;
esac`;

const IMDS_ONLY = curl();

/**
 * The AWS CLI: put-item calls behave as `putItem` says in turn (sh; the default succeeds) and the item of
 * each one that succeeds is kept, one JSON document a line, in $FAKES_DIR/items; put-metric-data calls
 * behave as `putMetricData` says in turn.
 */
const aws = (putItem: readonly string[] = [''], putMetricData: readonly string[] = ['']) => `item=''
prev=''
for a in "$@"; do
  [ "$prev" = --item ] && item=$a
  prev=$a
done
case "$1 $2" in
  "cloudwatch put-metric-data")
${sequence('put-metric-data', putMetricData)}
  ;;
  "dynamodb put-item")
${sequence('aws-put-item', putItem)}
printf '%s\n' "$item" >> "$FAKES_DIR/items"
  ;;
esac`;

const THROTTLED =
  "echo 'An error occurred (ThrottlingException) when calling the PutItem operation: Rate exceeded' >&2; exit 254";
const METRIC_THROTTLED =
  "echo 'An error occurred (Throttling) when calling the PutMetricData operation: Rate exceeded' >&2; exit 254";

/** The daemon check installed beside the agent: the shipped script itself. */
const CHECK = `exec sh '${instanceFile('vpn-failover-check.sh').pathname}'`;

const FAST = {
  CHECK_INTERVAL: '0.1',
  HEARTBEAT: '60',
  METRIC_INTERVAL: '60',
  REPORT_TABLE: 'vpn-failover-agent',
  AGENT_VERSION: 'test-7',
};

const runAgent = (checks: number, fakes: Fakes, env: Record<string, string> = {}): Promise<Run> =>
  runWithFakesAsync(
    'bash',
    script,
    { curl: IMDS_ONLY, aws: aws(), 'vpn-failover-check': CHECK, ...fakes },
    { ...FAST, AGENT_MAX_CHECKS: String(checks), ...env },
  );

type Item = Record<string, { S?: string; N?: string }>;

const lines = (file: string | undefined) => (file ?? '').split('\n').filter(Boolean);

/** The PutItem requests curl sent (answered or not), in order. */
const requests = (run: Run) =>
  lines(run.files.requests).map((line) => JSON.parse(line) as { TableName: string; Item: Item });

/** The reports the table received, in order: through curl or through the AWS CLI. */
const reports = (run: Run): Item[] => [
  ...lines(run.files.bodies).map((line) => (JSON.parse(line) as { Item: Item }).Item),
  ...lines(run.files.items).map((line) => JSON.parse(line) as Item),
];

const summary = (item: Item) => `${item.kind?.S} ${item.verdict?.S}`;

/** What the daemon check ran, and what curl or the AWS CLI was asked, in order: "check" or "put-item"/"put-metric-data". */
const timeline = (run: Run): string[] =>
  run.calls.flatMap((call) => {
    if (/^(swanctl|systemctl|ipsec) /.test(call)) return ['check'];
    if (/^curl .*X-Amz-Target: DynamoDB_20120810\.PutItem/.test(call)) return ['put-item'];
    const aws = /^aws \S+ (put-item|put-metric-data) /.exec(call);
    return aws?.[1] ? [aws[1]] : [];
  });

const metricCalls = (run: Run) =>
  run.calls.filter((call) => call.startsWith('aws cloudwatch put-metric-data'));

/** A daemon command that also notes when each check asked it (epoch ms, one a line), read back by `asked`. */
const noting = (body: string) => `date +%s%3N >> "$FAKES_DIR/asked"\n${body}`;
const asked = (run: Run): number[] => (run.files.asked ?? '').split('\n').filter(Boolean).map(Number);

/** `swanctl --list-sas` when charon is not running. */
const CHARON_DOWN = `echo "connecting to 'unix:///var/run/charon.vici' failed: No such file or directory" >&2; exit 1`;

describe.concurrent('member agent: what it reports', () => {
  /** Two checks of a healthy daemon, and the time around them: two tests read this one run. */
  let healthy: Promise<{ run: Run; before: number; after: number }> | undefined;
  const healthyRun = () => {
    healthy ??= (async () => {
      const before = Date.now();
      const run = await runAgent(2, { swanctl: swanctl(1) });
      return { run, before, after: Date.now() };
    })();
    return healthy;
  };

  it('a daemon with 2 CHILD SAs is reported healthy once, as a change, then re-stated by heartbeats', async () => {
    const run = await runAgent(10, { swanctl: swanctl(2) }, { MIN_SAS: '2', HEARTBEAT: '0.3' });
    expect(run.status).toBe(0);
    const items = reports(run);
    expect(items.map(summary)[0]).toBe('change healthy');
    expect(items.slice(1).length).toBeGreaterThanOrEqual(1);
    expect(new Set(items.slice(1).map(summary))).toEqual(new Set(['heartbeat healthy']));
    expect(items.map((item) => item.seq?.N)).toEqual(items.map((_, i) => String(i + 1)));
    expect(
      items.every((item) => item.detail?.S === 'healthy: 2 installed CHILD SAs (at least 2 required)'),
    ).toBe(true);
    // the verdict is first reported at the second agreeing check, at once
    expect(timeline(run).slice(0, 3)).toEqual(['check', 'check', 'put-item']);
  });

  it('looks again 0.5 s after a check that disagrees with the reported verdict, not a whole interval later', async () => {
    // CHECK_INTERVAL 2 s: at start nothing is reported yet, so the first check disagrees and the second,
    // which confirms it, follows half a second later; the third waits the whole interval.
    const run = await runAgent(3, { swanctl: noting(swanctl(1)) }, { CHECK_INTERVAL: '2' });
    const [first = 0, second = 0, third = 0] = asked(run);
    expect(asked(run)).toHaveLength(3);
    expect(second - first).toBeGreaterThanOrEqual(450);
    expect(second - first).toBeLessThan(1500);
    expect(third - second).toBeGreaterThanOrEqual(1900);
    expect(timeline(run).slice(0, 3)).toEqual(['check', 'check', 'put-item']);
  });

  it('the report is keyed by this instance ARN from IMDSv2, and every attribute is what the controller reads', async () => {
    const { run, before, after } = await healthyRun();
    const [item] = reports(run);
    expect(item).toBeDefined();
    if (!item) return;
    expect(Object.keys(item).sort()).toEqual(Object.values(AGENT_ITEM).sort());
    expect(item.member).toEqual({ S: MEMBER });
    expect(instanceIdOfMemberKey(item.member?.S ?? '')).toBe(INSTANCE_ID);
    expect(item).toMatchObject({
      instanceId: { S: INSTANCE_ID },
      verdict: { S: 'healthy' },
      detail: { S: 'healthy: 1 installed CHILD SAs (at least 1 required)' },
      exitStatus: { N: '0' },
      tunnelUp: { N: '1' },
      kind: { S: 'change' },
      seq: { N: '1' },
      agentVersion: { S: 'test-7' },
    });
    const since = Number(item.since?.N);
    const at = Number(item.at?.N);
    expect(since).toBeGreaterThanOrEqual(before);
    expect(at).toBeGreaterThanOrEqual(since);
    expect(at).toBeLessThanOrEqual(after);
    expect(Number(item.expiresAt?.N)).toBe(Math.floor(at / 1000) + 86_400);
  });

  it("writes the report with one curl request to the Region's DynamoDB, signed by curl, the item in its body", async () => {
    const { run } = await healthyRun();
    const puts = run.calls.filter((call) => call.includes('X-Amz-Target: DynamoDB_20120810.PutItem'));
    expect(puts).toEqual([
      'curl -s -K - --connect-timeout 1 --max-time 3 --aws-sigv4 aws:amz:eu-west-1:dynamodb' +
        ' -H Content-Type: application/x-amz-json-1.0 -H X-Amz-Target: DynamoDB_20120810.PutItem' +
        ` --data-binary ${lines(run.files.requests)[0]} -w \\n%{http_code} https://dynamodb.eu-west-1.amazonaws.com/`,
    ]);
    const [request] = requests(run);
    expect(request?.TableName).toBe('vpn-failover-agent');
    expect(Object.keys(request?.Item ?? {}).sort()).toEqual(Object.values(AGENT_ITEM).sort());
    expect(request?.Item).toMatchObject({
      member: { S: MEMBER },
      kind: { S: 'change' },
      verdict: { S: 'healthy' },
    });
    expect(run.calls.filter((call) => call.startsWith('aws dynamodb'))).toEqual([]);
    // whether curl can sign is asked once, at start
    expect(run.calls.filter((call) => call === 'curl --help all')).toHaveLength(1);
    expect(run.stdout).toContain('reports to vpn-failover-agent through curl');
  });

  it("signs with the instance role's credentials from IMDSv2, handed to curl on its stdin: never on a command line or in the log", async () => {
    const run = await runAgent(6, { swanctl: swanctl(1) }, { HEARTBEAT: '0.1' });
    const { key, secret, token } = credentialsOf(1);
    const configs = lines(run.files.configs);
    expect(configs.length).toBeGreaterThanOrEqual(4);
    expect(new Set(configs)).toEqual(
      new Set([`user = "${key}:${secret}"`, `header = "x-amz-security-token: ${token}"`]),
    );
    for (const secretPart of [key, secret, token]) {
      expect(run.calls.filter((call) => call.includes(secretPart))).toEqual([]);
      expect(run.stdout).not.toContain(secretPart);
      expect(run.stderr).not.toContain(secretPart);
    }
    expect(run.calls.filter((call) => /(^| )(--user|-u)( |$)/.test(call))).toEqual([]);
    // fetched once, kept for the next writes
    expect(run.files['credentials.count']?.trim()).toBe('1');
  });

  it("in another partition, writes to that partition's DynamoDB endpoint (the domain from IMDSv2)", async () => {
    const run = await runAgent(2, {
      swanctl: swanctl(1),
      curl: curl({ imds: { partition: 'aws-cn', region: 'cn-north-1', domain: 'amazonaws.com.cn' } }),
    });
    const put = run.calls.find((call) => call.includes('DynamoDB_20120810.PutItem'));
    expect(put).toMatch(/ --aws-sigv4 aws:amz:cn-north-1:dynamodb /);
    expect(put).toMatch(/ https:\/\/dynamodb\.cn-north-1\.amazonaws\.com\.cn\/$/);
    expect(reports(run)[0]?.member).toEqual({
      S: `arn:aws-cn:ec2:cn-north-1:123456789012:instance/${INSTANCE_ID}`,
    });
  });

  it('fetches the credentials again once they are within 5 minutes of expiring, and signs the next writes with the new ones', async () => {
    // the first credentials expire 301 s after they are handed out: due again within a second (at the next
    // whole second); 15 checks of at least 0.1 s each last well past it, with writes after
    const run = await runAgent(
      15,
      { swanctl: swanctl(1), curl: curl({ imds: { expiresIn: [301, 21_600] } }) },
      { HEARTBEAT: '0.1' },
    );
    expect(run.files['credentials.count']?.trim()).toBe('2');
    const users = lines(run.files.configs).filter((line) => line.startsWith('user = '));
    expect(users[0]).toContain(credentialsOf(1).key);
    expect(users.at(-1)).toContain(credentialsOf(2).key);
    expect(reports(run).length).toBe(users.length);
  });

  it('a write refused for expired credentials fetches them again, and the report arrives at the next check', async () => {
    const run = await runAgent(4, {
      swanctl: swanctl(1),
      curl: curl({ putItem: [HTTP_EXPIRED, ANSWER_OK] }),
    });
    expect(run.files['credentials.count']?.trim()).toBe('2');
    expect(lines(run.files.configs).filter((line) => line.startsWith('user = '))).toEqual([
      `user = "${credentialsOf(1).key}:${credentialsOf(1).secret}"`,
      `user = "${credentialsOf(2).key}:${credentialsOf(2).secret}"`,
    ]);
    expect(reports(run).map(summary)).toEqual(['change healthy']);
    expect(run.stdout).toContain(
      'report change not written (HTTP 400 ExpiredTokenException), trying again in 1 check(s)',
    );
    expect(run.stdout).not.toContain('The security token included in the request is expired');
  });

  it('with REPORT_WITH=cli, writes the report through the AWS CLI', async () => {
    const run = await runAgent(2, { swanctl: swanctl(1) }, { REPORT_WITH: 'cli' });
    expect(reports(run).map(summary)).toEqual(['change healthy']);
    expect(lines(run.files.requests)).toEqual([]);
    expect(run.calls).toContainEqual(
      expect.stringMatching(
        /^aws dynamodb put-item --table-name vpn-failover-agent --item \{.* --region eu-west-1 /,
      ),
    );
    expect(run.calls).not.toContain('curl --help all');
  });

  it('with a curl that cannot sign (no --aws-sigv4), writes the report through the AWS CLI', async () => {
    const run = await runAgent(3, { swanctl: swanctl(1), curl: curl({ sigv4: false }) });
    expect(reports(run).map(summary)).toEqual(['change healthy']);
    expect(lines(run.files.requests)).toEqual([]);
    expect(run.calls.filter((call) => call.startsWith('aws dynamodb put-item'))).toHaveLength(1);
    expect(run.stdout).toContain(
      'this curl cannot sign requests (no --aws-sigv4, added in 7.75): reports go through the AWS CLI',
    );
  });

  it('a daemon that is down (charon not running) is reported unhealthy after two checks agree', async () => {
    const run = await runAgent(3, { swanctl: CHARON_DOWN });
    const items = reports(run);
    expect(items.map(summary)).toEqual(['change unhealthy']);
    expect(items[0]).toMatchObject({
      detail: { S: 'unhealthy: charon does not answer (swanctl --list-sas exit 1)' },
      exitStatus: { N: '1' },
      tunnelUp: { N: '0' },
    });
    expect(timeline(run).slice(0, 3)).toEqual(['check', 'check', 'put-item']);
  });

  it('a systemd unit that stopped is reported unhealthy', async () => {
    const run = await runAgent(
      2,
      { systemctl: printing('is-active -- ipsec', 'inactive', 3) },
      { PROBE: 'systemd', UNIT: 'ipsec' },
    );
    expect(reports(run)[0]).toMatchObject({
      verdict: { S: 'unhealthy' },
      detail: { S: 'unhealthy: ipsec is inactive' },
    });
  });

  it('a hanging daemon is reported unhealthy, not responding, after ONE timed-out check', async () => {
    const started = Date.now();
    const run = await runAgent(1, { swanctl: HANGING }, { CHECK_TIMEOUT: '0.3' });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(timeline(run)).toEqual(['check', 'put-item', 'put-metric-data']);
    expect(reports(run)[0]).toMatchObject({
      kind: { S: 'change' },
      verdict: { S: 'unhealthy' },
      exitStatus: { N: '4' },
      detail: { S: "unhealthy: daemon not responding: 'swanctl --list-sas' did not answer within 0.3 s" },
      tunnelUp: { N: '0' },
    });
  });

  it('an IKE SA without a CHILD SA, or no SA at all, is reported unhealthy: no traffic can cross', async () => {
    for (const [daemon, detail] of [
      [swanctl(0), 'unhealthy: 0 installed CHILD SAs, 1 IKE SAs established (at least 1 required)'],
      [
        printing('--list-sas', ''),
        'unhealthy: 0 installed CHILD SAs, 0 IKE SAs established (at least 1 required)',
      ],
    ] as const) {
      const run = await runAgent(2, { swanctl: daemon });
      expect(reports(run).map((item) => [summary(item), item.detail?.S])).toEqual([
        ['change unhealthy', detail],
      ]);
    }
  });

  it('Libreswan SAs are counted through ipsec trafficstatus', async () => {
    const run = await runAgent(
      2,
      { ipsec: printing('trafficstatus', `006 #2: "office", type=ESP, add_time=1700000000, inBytes=0`) },
      { PROBE: 'libreswan' },
    );
    expect(reports(run).map(summary)).toEqual(['change healthy']);
  });

  it('a single failed check between good ones is not reported (debounce)', async () => {
    const good = swanctl(1);
    const run = await runAgent(8, { swanctl: sequence('swanctl', [good, good, good, CHARON_DOWN, good]) });
    expect(reports(run).map(summary)).toEqual(['change healthy']);
    expect(run.stdout).not.toMatch(/-> unhealthy/);
  });

  it('a daemon that goes down and comes back is reported at each change, with the time each verdict was first seen', async () => {
    const good = swanctl(1);
    const run = await runAgent(8, {
      swanctl: noting(sequence('swanctl', [good, good, CHARON_DOWN, CHARON_DOWN, CHARON_DOWN, good])),
    });
    const items = reports(run);
    expect(items.map(summary)).toEqual(['change healthy', 'change unhealthy', 'change healthy']);
    const times = asked(run);
    // each verdict was first seen at the first check of its streak (checks 1, 3, 6), and sent at the second
    for (const [item, first] of [
      [items[0], 1],
      [items[1], 3],
      [items[2], 6],
    ] as const) {
      const since = Number(item?.since?.N);
      expect(since).toBeGreaterThanOrEqual(times[first - 1] ?? Number.POSITIVE_INFINITY);
      expect(since).toBeLessThan(times[first] ?? 0);
      expect(Number(item?.at?.N)).toBeGreaterThanOrEqual(times[first] ?? Number.POSITIVE_INFINITY);
    }
  });

  it('a report write answered HTTP 400 is retried at the next check, and the change still arrives', async () => {
    const run = await runAgent(
      4,
      { swanctl: swanctl(1), curl: curl({ putItem: [HTTP_THROTTLED, ANSWER_OK] }) },
      { HEARTBEAT: '60' },
    );
    expect(timeline(run).filter((step) => step !== 'put-metric-data')).toEqual([
      'check',
      'check',
      'put-item',
      'check',
      'put-item',
      'check',
    ]);
    expect(reports(run).map((item) => [summary(item), item.seq?.N])).toEqual([['change healthy', '1']]);
    expect(run.stdout).toContain(
      'report change not written (HTTP 400 ThrottlingException), trying again in 1 check(s)',
    );
    expect(run.stdout).not.toContain('Rate of requests');
  });

  it('a report write DynamoDB does not answer (curl times out) is retried at the next check', async () => {
    const run = await runAgent(4, { swanctl: swanctl(1), curl: curl({ putItem: ['exit 28', ANSWER_OK] }) });
    expect(timeline(run).filter((step) => step === 'put-item')).toHaveLength(2);
    expect(reports(run).map(summary)).toEqual(['change healthy']);
    expect(run.stdout).toContain(
      'report change not written (no answer from https://dynamodb.eu-west-1.amazonaws.com within 3 s)',
    );
  });

  it('through the AWS CLI too, a failed report write is retried at the next check', async () => {
    const run = await runAgent(
      4,
      { swanctl: swanctl(1), aws: aws([THROTTLED, '']) },
      { HEARTBEAT: '60', REPORT_WITH: 'cli' },
    );
    expect(timeline(run).filter((step) => step !== 'put-metric-data')).toEqual([
      ...['check', 'check', 'put-item', 'check', 'put-item', 'check'],
    ]);
    expect(reports(run).map(summary)).toEqual(['change healthy']);
    expect(run.stdout).toContain(
      'report change not written (exit 254: An error occurred (ThrottlingException)',
    );
  });

  it('keeps failing writes from calling DynamoDB at every check: retries back off', async () => {
    const run = await runAgent(12, { swanctl: swanctl(1), curl: curl({ putItem: [HTTP_THROTTLED] }) });
    // attempts at checks 2, 3, 5 and 9: the next check, then 2 and 4 checks later (the next would be 17)
    expect(timeline(run).filter((step) => step === 'put-item')).toHaveLength(4);
    expect(reports(run)).toEqual([]);
  });

  it('a change whose writes keep failing arrives at a later retry, with the newest verdict line', async () => {
    const good = swanctl(1);
    const run = await runAgent(8, {
      swanctl: noting(sequence('swanctl', [good, good, CHARON_DOWN, CHARON_DOWN, CHARON_DOWN, swanctl(0)])),
      curl: curl({ putItem: [ANSWER_OK, HTTP_THROTTLED, HTTP_THROTTLED, ANSWER_OK] }),
    });
    // written at check 2; the change seen at check 4 fails there and at 5, and arrives at 7
    expect(timeline(run).filter((step) => step !== 'put-metric-data')).toEqual([
      ...['check', 'check', 'put-item', 'check'],
      ...['check', 'put-item', 'check', 'put-item', 'check', 'check', 'put-item', 'check'],
    ]);
    const [, unhealthy] = reports(run);
    expect(reports(run)).toHaveLength(2);
    expect(unhealthy).toMatchObject({
      kind: { S: 'change' },
      verdict: { S: 'unhealthy' },
      detail: { S: 'unhealthy: 0 installed CHILD SAs, 1 IKE SAs established (at least 1 required)' },
      seq: { N: '2' },
    });
    // since: when the unhealthy verdict was first seen, at check 3, not when it was finally sent
    const times = asked(run);
    expect(Number(unhealthy?.since?.N)).toBeGreaterThanOrEqual(times[2] ?? Number.POSITIVE_INFINITY);
    expect(Number(unhealthy?.since?.N)).toBeLessThan(times[3] ?? 0);
    expect(Number(unhealthy?.at?.N)).toBeGreaterThanOrEqual(times[6] ?? Number.POSITIVE_INFINITY);
  });

  it('escapes what it writes, so the item is valid JSON and the verdict line and version arrive intact', async () => {
    const state = 'fa"iled\tnow';
    const version = 'v"1\\2\tb';
    const run = await runAgent(
      2,
      { systemctl: `printf '%s\\n' '${state}'; exit 3` },
      { PROBE: 'systemd', UNIT: 'strongswan', AGENT_VERSION: version },
    );
    expect(reports(run)[0]).toMatchObject({
      detail: { S: `unhealthy: strongswan is ${state}` },
      agentVersion: { S: version },
    });
  });

  it('waits for IMDSv2, checking meanwhile, and then reports the change it saw', async () => {
    const run = await runAgent(5, {
      swanctl: swanctl(1),
      curl: curl({ imds: { downFor: 2 } }),
    });
    expect(reports(run).map(summary)).toEqual(['change healthy']);
    expect(timeline(run).slice(0, 4)).toEqual(['check', 'check', 'check', 'put-item']);
    expect(run.stdout.match(/cannot tell which instance this is/g)).toHaveLength(1);
  });

  it('a check that cannot judge is reported unknown, with no TunnelUp', async () => {
    const run = await runAgent(2, {}, { CHECK: '/nonexistent/vpn-failover-check' });
    const [item] = reports(run);
    expect(item).toMatchObject({ verdict: { S: 'unknown' }, exitStatus: { N: '127' } });
    expect(item).not.toHaveProperty(AGENT_ITEM.tunnelUp);
    expect(metricCalls(run)).toEqual([]);
  });
});

describe.concurrent('member agent: the TunnelUp metric', () => {
  it('publishes in the background: the checks go on while CloudWatch is slow to answer', async () => {
    const run = await runAgent(8, {
      swanctl: noting(swanctl(1)),
      aws: aws([''], ['date +%s%3N >> "$FAKES_DIR/metric"; sleep 0.5; date +%s%3N >> "$FAKES_DIR/metric"']),
    });
    const [started, finished] = (run.files.metric ?? '').split('\n').filter(Boolean).map(Number);
    const during = asked(run).filter((t) => t > (started ?? 0) && t < (finished ?? 0));
    expect(during.length).toBeGreaterThanOrEqual(3);
    expect(reports(run).map(summary)).toEqual(['change healthy']);
  });

  it('a failed publication is retried at once, not left until the next METRIC_INTERVAL', async () => {
    const run = await runAgent(4, { swanctl: swanctl(1), aws: aws([''], [METRIC_THROTTLED, '']) });
    expect(metricCalls(run)).toHaveLength(2);
    expect(run.stdout).toContain('TunnelUp=1 not published (exit 254: An error occurred (Throttling)');
    expect(run.stdout).toContain(`published TunnelUp=1 for ${INSTANCE_ID}`);
  });

  it('publishes TunnelUp=0 for a daemon that is down', async () => {
    const run = await runAgent(2, { swanctl: CHARON_DOWN });
    expect(metricCalls(run)).toHaveLength(1);
    expect(metricCalls(run)[0]).toContain('"Value":0,');
  });

  it('with REPORT_TABLE empty, publishes the metric and writes no report', async () => {
    const run = await runAgent(3, { swanctl: swanctl(1) }, { REPORT_TABLE: '' });
    expect(run.calls.filter((call) => call.startsWith('aws dynamodb'))).toEqual([]);
    expect(lines(run.files.requests)).toEqual([]);
    expect(metricCalls(run)).toHaveLength(1);
    expect(metricCalls(run)[0]).toContain(`{"Name":"InstanceId","Value":"${INSTANCE_ID}"}]`);
    expect(metricCalls(run)[0]).toContain('"Value":1,');
  });

  it('with PING_TARGET, a tunnel whose far side does not answer is TunnelUp=0, though the daemon is healthy', async () => {
    const run = await runAgent(2, { swanctl: swanctl(1), ping: 'exit 1' }, { PING_TARGET: '10.50.0.1' });
    expect(run.calls).toContain('ping -c 3 -i 0.2 -W 1 -q -- 10.50.0.1');
    expect(metricCalls(run)[0]).toContain('"Value":0,');
    expect(reports(run)[0]).toMatchObject({ verdict: { S: 'healthy' }, tunnelUp: { N: '0' } });
  });

  it('publishes nothing when the pair reads an AWS metric (NAMESPACE under AWS/), and still reports', async () => {
    const run = await runAgent(
      2,
      { swanctl: swanctl(1) },
      { NAMESPACE: 'AWS/VPN', METRIC_NAME: 'TunnelState' },
    );
    expect(run.status).toBe(0);
    expect(metricCalls(run)).toEqual([]);
    expect(reports(run).map(summary)).toEqual(['change healthy']);
  });

  it('honours the namespace, metric name and storage resolution settings', async () => {
    const run = await runAgent(
      2,
      { swanctl: swanctl(1) },
      { NAMESPACE: 'Branch/Tunnels', METRIC_NAME: 'Up', STORAGE_RESOLUTION: '1' },
    );
    expect(metricCalls(run)[0]).toMatch(
      /--namespace Branch\/Tunnels --metric-data \[\{"MetricName":"Up",.*"StorageResolution":1\}\]/,
    );
  });

  it("publishes where the controller's tunnel signal looks by default", () => {
    const tunnel = configOf({ pairs: [{ ...EXAMPLE_PAIR, tunnel: {} }] }).pairs[0]?.tunnel;
    expect(tunnel).toMatchObject({ namespace: TUNNEL_NAMESPACE, metricName: 'TunnelUp' });
    expect(script).toMatch(/^NAMESPACE="\$\{NAMESPACE:-VpnFailover\/Tunnels\}"$/m);
    expect(script).toMatch(/^METRIC_NAME="\$\{METRIC_NAME:-TunnelUp\}"$/m);
  });
});

describe.concurrent('member agent: settings, unit and policy', () => {
  it('a bad setting stops the agent with one line naming it, before it checks or writes anything', async () => {
    const bad = [
      ['CHECK_INTERVAL', 'soon'],
      ['PROBE', 'openvpn'],
      ['REPORT_TABLE', 'x'],
      ['PING_TARGET', '-f'],
      ['DEBOUNCE', '0'],
      ['AGENT_VERSION', 'v'.repeat(65)],
      ['REPORT_WITH', 'aws'],
    ] as const;
    // each stops at once: run them side by side
    const runs = await Promise.all(
      bad.map(async ([name, value]) => ({
        name,
        run: await runAgent(1, { swanctl: swanctl(1) }, { [name]: value }),
      })),
    );
    for (const { name, run } of runs) {
      expect(run.status, name).toBe(78);
      expect(run.stdout.trim().split('\n'), name).toEqual([
        expect.stringMatching(new RegExp(`^vpn-failover-agent: bad setting: ${name}=`)),
      ]);
      expect(run.calls, name).toEqual([]);
    }
  });

  it('the settings file lists every setting the agent reads, with the agent defaults', () => {
    const defaults = Object.fromEntries(
      [...script.matchAll(/^([A-Z_]+)="\$\{\1:-(.*)\}"$/gm)].map((m) => [m[1], m[2]]),
    );
    const listed = Object.fromEntries(
      [...settingsFile.matchAll(/^#? ?([A-Z_]+)=(.*)$/gm)].map((m) => [m[1], m[2]]),
    );
    const { AGENT_MAX_CHECKS: _testOnly, DYNAMODB_ENDPOINT: _testEndpoint, ...settings } = defaults;
    expect(Object.keys(settings).sort()).toEqual(
      [
        'PROBE',
        'UNIT',
        'MIN_SAS',
        'PING_TARGET',
        'NAMESPACE',
        'METRIC_NAME',
        'STORAGE_RESOLUTION',
        'REPORT_TABLE',
        'REPORT_WITH',
        'CHECK_INTERVAL',
        'CHECK_TIMEOUT',
        'DEBOUNCE',
        'HEARTBEAT',
        'METRIC_INTERVAL',
        'CHECK',
        'AGENT_VERSION',
      ].sort(),
    );
    expect(listed).toEqual(settings);
  });

  it('runs with every setting written out as listed (the installer writes them all, empty ones too)', async () => {
    const listed = Object.fromEntries(
      [...settingsFile.matchAll(/^# ([A-Z_]+)=(.*)$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
    );
    const run = await runWithFakesAsync(
      'bash',
      script,
      { curl: IMDS_ONLY, aws: aws(), 'vpn-failover-check': CHECK, swanctl: swanctl(1) },
      { ...listed, REPORT_TABLE: 'vpn-failover-agent', AGENT_MAX_CHECKS: '2' },
    );
    expect(run.status).toBe(0);
    expect(reports(run).map(summary)).toEqual(['change healthy']);
    expect(metricCalls(run)).toHaveLength(1);
  });

  it('runs as root for ever: restarted 2 s after any exit but a bad setting, never given up on, settings from /etc/default', () => {
    expect(service).toMatch(/^Restart=always$/m);
    expect(service).toMatch(/^RestartPreventExitStatus=78$/m);
    expect(service).toMatch(/^RestartSec=2$/m);
    expect(service).toMatch(/^StartLimitIntervalSec=0$/m);
    expect(service).toMatch(/^EnvironmentFile=-\/etc\/default\/vpn-failover-agent$/m);
    expect(service).toMatch(/^ExecStart=\/usr\/local\/bin\/vpn-failover-agent$/m);
    expect(service).not.toMatch(/^User=/m);
    expect(service).toMatch(/^WantedBy=multi-user.target$/m);
  });

  it('stops at once, cleanly, when systemd stops it', async () => {
    const started = Date.now();
    const run = await runWithFakesAsync(
      'bash',
      `bash "$AGENT" & pid=$!\nsleep 0.5\nkill -TERM "$pid"\nwait "$pid"`,
      { curl: IMDS_ONLY, aws: aws(), 'vpn-failover-check': CHECK, swanctl: swanctl(1) },
      { ...FAST, AGENT: instanceFile('vpn-failover-agent.sh').pathname },
    );
    expect(run.status).toBe(0);
    expect(run.stdout.trim().split('\n').at(-1)).toBe('stopped');
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('its instance policy writes only the item keyed by the sending instance, and TunnelUp only into the tunnel namespace', () => {
    expect(policy.Statement).toEqual([
      {
        Sid: 'WriteOwnAgentReportOnly',
        Effect: 'Allow',
        Action: 'dynamodb:PutItem',
        Resource: expect.stringMatching(/^arn:aws:dynamodb:REGION:ACCOUNT_ID:table\/AGENT_TABLE_NAME$/),
        Condition: {
          // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
          'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['${ec2:SourceInstanceARN}'] },
        },
      },
      {
        Sid: 'PublishTunnelMetricOnly',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': TUNNEL_NAMESPACE } },
      },
    ]);
  });
});
