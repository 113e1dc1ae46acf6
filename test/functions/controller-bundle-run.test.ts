import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bundleLambda } from '../../infra/bundling.ts';
import { CONTROLLER_ENTRY } from '../../infra/controller.ts';
import { deployedConfigJson, parseConfig } from '../../shared/config/load.ts';
import type { PairSummary } from '../../shared/controller/types.ts';
import { ENV } from '../../shared/telemetry-names.ts';
import { useLocalStateTable } from '../support/dynamo.ts';

/**
 * The controller's bundle, built as the CDK app builds it, run as Lambda runs it (a fresh Node process that
 * imports index.mjs and calls the handler) against HTTP endpoints: EC2 answered here in its wire format (query
 * requests, XML answers), DynamoDB by a local server. So the bundle's SDK clients build, sign and send every
 * request and parse every answer themselves, with the credentials Lambda puts in the environment.
 */

const PRIMARY = { instanceId: 'i-0123456789abcdef0', eni: 'eni-0aaaaaaaaaaaaaaa1' };
const STANDBY = { instanceId: 'i-0fedcba9876543210', eni: 'eni-0bbbbbbbbbbbbbbb2' };
const TABLES = ['rtb-0a1b2c3d4e5f60718', 'rtb-0f1e2d3c4b5a69788'];
const DESTINATIONS = ['10.50.0.0/16', '192.168.10.0/24'];
const ROLE_KEY = 'ASIAEXAMPLEROLEKEY01';

const dir = mkdtempSync(join(tmpdir(), 'vpn-failover-bundle-run-'));
const state = useLocalStateTable();

/** The EC2 actions the fake answers; any other is refused (UnsupportedOperation) and fails the test. */
const ANSWERED = new Set([
  'DescribeInstances',
  'DescribeInstanceStatus',
  'DescribeRouteTables',
  'ReplaceRoute',
]);

/** A request the fake EC2 received. */
interface Ec2Request {
  readonly action: string;
  readonly params: Record<string, string>;
  readonly authorization: string;
}

/** EC2 as the pair's account has it: instance states, and which ENI each managed route targets. */
class FakeEc2 {
  readonly requests: Ec2Request[] = [];
  readonly states = new Map([
    [PRIMARY.instanceId, 'running'],
    [STANDBY.instanceId, 'running'],
  ]);
  readonly routes = new Map(TABLES.flatMap((t) => DESTINATIONS.map((d) => [`${t} ${d}`, PRIMARY.eni])));

  answer(action: string, params: Record<string, string>): { status: number; body: string } {
    const ids = Object.entries(params)
      .filter(([key]) => /^(InstanceId|RouteTableId)\.\d+$/.test(key))
      .map(([, value]) => value);
    switch (action) {
      case 'DescribeInstances':
        return ok(
          action,
          `<reservationSet><item><reservationId>r-1</reservationId><ownerId>123456789012</ownerId><instancesSet>${ids.map((id) => this.instance(id)).join('')}</instancesSet></item></reservationSet>`,
        );
      case 'DescribeInstanceStatus':
        return ok(
          action,
          `<instanceStatusSet>${ids.map((id) => this.status(id)).join('')}</instanceStatusSet>`,
        );
      case 'DescribeRouteTables':
        return ok(action, `<routeTableSet>${ids.map((id) => this.table(id)).join('')}</routeTableSet>`);
      case 'ReplaceRoute': {
        const key = `${params.RouteTableId} ${params.DestinationCidrBlock}`;
        if (!this.routes.has(key)) return error('InvalidRoute.NotFound', `no route ${key}`);
        this.routes.set(key, params.NetworkInterfaceId as string);
        return ok(action, '<return>true</return>');
      }
      default:
        return error('UnsupportedOperation', `the test's EC2 does not answer ${action}`);
    }
  }

  private member(id: string) {
    return id === PRIMARY.instanceId ? PRIMARY : STANDBY;
  }

  private stateXml(id: string): string {
    const name = this.states.get(id) as string;
    return `<code>${name === 'running' ? 16 : 80}</code><name>${name}</name>`;
  }

  private instance(id: string): string {
    const { eni } = this.member(id);
    return `<item><instanceId>${id}</instanceId><instanceType>c6in.large</instanceType><instanceState>${this.stateXml(id)}</instanceState><placement><availabilityZone>eu-west-1a</availabilityZone></placement><sourceDestCheck>false</sourceDestCheck><networkInterfaceSet><item><networkInterfaceId>${eni}</networkInterfaceId><sourceDestCheck>false</sourceDestCheck><attachment><attachmentId>eni-attach-1</attachmentId><deviceIndex>0</deviceIndex><networkCardIndex>0</networkCardIndex><status>attached</status></attachment></item></networkInterfaceSet></item>`;
  }

  private status(id: string): string {
    const check = this.states.get(id) === 'running' ? 'ok' : 'not-applicable';
    return `<item><instanceId>${id}</instanceId><availabilityZone>eu-west-1a</availabilityZone><instanceState>${this.stateXml(id)}</instanceState><systemStatus><status>${check}</status></systemStatus><instanceStatus><status>${check}</status></instanceStatus><attachedEbsStatus><status>${check}</status></attachedEbsStatus></item>`;
  }

  private table(id: string): string {
    const routes = DESTINATIONS.map((d) => {
      const eni = this.routes.get(`${id} ${d}`) as string;
      const instance = eni === PRIMARY.eni ? PRIMARY.instanceId : STANDBY.instanceId;
      return `<item><destinationCidrBlock>${d}</destinationCidrBlock><networkInterfaceId>${eni}</networkInterfaceId><instanceId>${instance}</instanceId><state>active</state><origin>CreateRoute</origin></item>`;
    });
    return `<item><routeTableId>${id}</routeTableId><vpcId>vpc-01234567</vpcId><ownerId>123456789012</ownerId><routeSet>${routes.join('')}</routeSet></item>`;
  }
}

const ok = (action: string, inner: string) => ({
  status: 200,
  body: `<?xml version="1.0" encoding="UTF-8"?><${action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>req-1</requestId>${inner}</${action}Response>`,
});
const error = (code: string, message: string) => ({
  status: 400,
  body: `<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>req-1</RequestID></Response>`,
});

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

let ec2: FakeEc2;
let server: Server;
let endpoint: string;
beforeAll(async () => {
  await bundleLambda(CONTROLLER_ENTRY, dir);
  writeFileSync(
    join(dir, 'config.json'),
    deployedConfigJson(
      parseConfig({
        pairs: [
          {
            name: 'branch-a',
            primary: { instanceId: PRIMARY.instanceId },
            standby: { instanceId: STANDBY.instanceId },
            routeTables: TABLES,
            destinations: DESTINATIONS,
            probe: { kind: 'none' },
          },
        ],
      }),
    ),
  );
  server = createServer(async (request, response) => {
    const params = Object.fromEntries(new URLSearchParams(await body(request)));
    const { Action: action = '', ...rest } = params;
    ec2.requests.push({ action, params: rest, authorization: String(request.headers.authorization) });
    const { status, body: answer } = ec2.answer(action, rest);
    response.writeHead(status, { 'content-type': 'text/xml' }).end(answer);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  endpoint = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** What Lambda does at a cold start: import the bundle in a fresh process, call its handler with `event`. */
async function invoke(event: unknown): Promise<{ pairs: PairSummary[] }> {
  const script = `const { handler } = await import('./index.mjs');
    const answer = await handler(${JSON.stringify(event)}, { awsRequestId: 'r-1', getRemainingTimeInMillis: () => 60000 });
    console.log(JSON.stringify(answer));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      LOG_LEVEL: 'silent',
      POWERTOOLS_METRICS_DISABLED: 'true',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: ROLE_KEY,
      AWS_SECRET_ACCESS_KEY: 'role-secret',
      AWS_SESSION_TOKEN: 'role-session-token',
      // Every client is pointed at the fake EC2 (an unexpected service call fails there, never leaves the
      // machine), DynamoDB at the local server (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
      AWS_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: state.endpoint,
      [ENV.configPath]: join(dir, 'config.json'),
      [ENV.tableName]: state.tableName,
      [ENV.probeDocument]: 'VpnFailover-Probe',
    },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1) as string);
}

describe('the controller bundle, run as Lambda runs it', () => {
  beforeEach(() => {
    ec2 = new FakeEc2();
  });

  it('moves every managed route to the standby when the primary stops, signing with the role in the environment', async () => {
    ec2.states.set(PRIMARY.instanceId, 'stopped');

    const answer = await invoke({ action: 'reconcile' });

    expect([...ec2.routes.values()]).toEqual(Array(4).fill(STANDBY.eni));
    const writes = ec2.requests.filter((r) => r.action === 'ReplaceRoute');
    expect(writes.map((r) => `${r.params.RouteTableId} ${r.params.DestinationCidrBlock}`).sort()).toEqual(
      TABLES.flatMap((t) => DESTINATIONS.map((d) => `${t} ${d}`)).sort(),
    );
    expect(ec2.requests.map((r) => r.action).filter((action) => !ANSWERED.has(action))).toEqual([]);
    for (const request of ec2.requests) expect(request.authorization).toContain(`Credential=${ROLE_KEY}/`);
    expect(answer.pairs).toMatchObject([
      { pair: 'branch-a', active: 'standby', from: 'primary', to: 'standby' },
    ]);
    expect(answer.pairs[0]?.routesChanged).toHaveLength(4);
  });

  it('moves nothing while both members run and pass their status checks', async () => {
    const answer = await invoke({ action: 'reconcile' });

    expect(ec2.requests.map((r) => r.action)).toEqual(
      expect.arrayContaining(['DescribeInstances', 'DescribeInstanceStatus', 'DescribeRouteTables']),
    );
    expect(ec2.requests.filter((r) => !ANSWERED.has(r.action) || r.action === 'ReplaceRoute')).toEqual([]);
    expect([...ec2.routes.values()]).toEqual(Array(4).fill(PRIMARY.eni));
    expect(answer.pairs).toMatchObject([
      {
        pair: 'branch-a',
        active: 'primary',
        members: { primary: { health: 'healthy' }, standby: { health: 'healthy' } },
      },
    ]);
    expect(answer.pairs[0]?.routesChanged ?? []).toEqual([]);
  });
});
