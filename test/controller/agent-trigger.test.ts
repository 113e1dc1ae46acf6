import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type HandlerDeps, handleEvent } from '../../functions/controller/handler.ts';
import { StateStore } from '../../shared/aws/state-store.ts';
import type { Config } from '../../shared/config/schema.ts';
import { createMetrics } from '../../shared/controller/metrics.ts';
import { CONFIRMING_COMMAND_TIMEOUT_S, PROBE_POLL_MS } from '../../shared/controller/observe.ts';
import { AGENT_SILENT_AFTER_MS, agentMemberKey } from '../../shared/domain/agent.ts';
import { PROBE_PARAMETERS } from '../../shared/telemetry-names.ts';
import { useLocalStateTable } from '../support/dynamo.ts';
import {
  eniId,
  fleetConfig,
  instanceId,
  type MockFleet,
  mockFleet,
  steppingClock,
} from '../support/mock-fleet.ts';

const local = useLocalStateTable();
const context = { awsRequestId: 'req-0001', getRemainingTimeInMillis: () => 900_000 };
const PREFIX = 'arn:aws:ec2:eu-west-1:123456789012:instance/';
const PRIMARY = instanceId(1);
const STANDBY = instanceId(2);
const SCHEDULE = { action: 'schedule' };

let fleet: MockFleet;
let deps: HandlerDeps;
let agentTable: string;
let tables = 0;

/** The agent table as the CDK app makes it: the member's instance ARN as the only key. */
async function createAgentTable(): Promise<string> {
  const name = `agent-${process.pid}-${++tables}`;
  await local.dynamo.send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'member', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'member', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  for (;;) {
    const { Table } = await local.dynamo.send(new DescribeTableCommand({ TableName: name }));
    if (Table?.TableStatus === 'ACTIVE') return name;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function start(config: Config = fleetConfig(1)) {
  fleet = mockFleet(config, {
    dynamoEndpoint: local.endpoint,
    tableName: local.tableName,
    clock: steppingClock(),
  });
  agentTable = await createAgentTable();
  deps = {
    ...fleet.deps,
    metrics: createMetrics(),
    agentTableName: agentTable,
    agentMemberKeyPrefix: PREFIX,
  };
}

/** The same configuration needing `threshold` daemon observations to move. */
const withThreshold = (config: Config, threshold: number): Config => ({
  ...config,
  pairs: config.pairs.map((p) => ({ ...p, unhealthyThreshold: threshold })),
});

/** An agent writes its report under the key `keyOf` (its own instance ARN, as IAM allows it), claiming `claims`. */
async function report(
  keyOf: string,
  patch: { claims?: string; verdict?: string; since?: number } = {},
): Promise<Record<string, unknown>> {
  const now = deps.clock.now();
  const item = {
    member: agentMemberKey(PREFIX, keyOf),
    instanceId: patch.claims ?? keyOf,
    verdict: patch.verdict ?? 'unhealthy',
    detail: 'unhealthy: 0 installed CHILD SAs, 1 required',
    exitStatus: 1,
    tunnelUp: 0,
    since: patch.since ?? now - 2_000,
    at: now - 1_000,
    kind: 'change',
    seq: 12,
    agentVersion: '1.0.0',
    expiresAt: Math.floor(now / 1000) + 86_400,
  };
  await local.dynamo.send(new PutCommand({ TableName: agentTable, Item: item }));
  return item;
}

/** The stream event DynamoDB delivers for these items (NEW_IMAGE), keyed as they were written. */
const streamEvent = (...items: Record<string, unknown>[]) => ({
  Records: items.map((item, i) => ({
    eventID: String(i + 1),
    eventName: 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    eventSourceARN: `arn:aws:dynamodb:eu-west-1:123456789012:table/${agentTable}/stream/2026-11-30T00:00:00.000`,
    dynamodb: {
      Keys: { member: { S: item.member } },
      NewImage: { member: { S: item.member }, instanceId: { S: item.instanceId }, kind: { S: 'change' } },
      StreamViewType: 'NEW_IMAGE',
    },
  })),
});

/** Where each managed route of the first pair points now, by member. */
const routeTargets = () =>
  [...fleet.world.routes.values()]
    .slice(0, 2)
    .flatMap((table) =>
      [...table.values()].map((eni) => (eni === eniId(1) ? 'primary' : eni === eniId(2) ? 'standby' : eni)),
    );

beforeEach(async () => {
  await start();
});
afterEach(() => fleet.restore());

describe('an agent report triggers the controller, which confirms with its own probe and moves at once', () => {
  it("moves every route of a pair whose active member's daemon went down, within the one invocation", async () => {
    // Prepare: the pair is stored, healthy, on the primary; then the primary's daemon loses its SAs and its
    // agent reports it.
    await handleEvent(SCHEDULE, context, deps);
    fleet.world.probeExit.set(PRIMARY, 1);
    const written = await report(PRIMARY);

    // Act
    const summary = await handleEvent(streamEvent(written), context, deps);

    // Assess: one evaluation, the report and the probe as the two observations the threshold asks for.
    expect(summary.trigger).toBe('agent-report');
    expect(summary.pairs).toHaveLength(1);
    expect(summary.pairs[0]).toMatchObject({
      plan: 'failover',
      trigger: 'soft-failure',
      from: 'primary',
      to: 'standby',
    });
    expect(summary.pairs[0]?.reasons[0]).toMatch(
      /^primary daemon unhealthy x2 \(agent report at \d\d:\d\d:\d\d\.\d{3}Z \+ probe\): strongswan probe failed/,
    );
    expect(routeTargets()).toEqual(['standby', 'standby', 'standby', 'standby']);
  });

  it('does not count a report stored under the primary’s key that claims to be the standby', async () => {
    await handleEvent(SCHEDULE, context, deps);
    fleet.world.probeExit.set(PRIMARY, 1);
    const written = await report(PRIMARY, { claims: STANDBY });

    const summary = await handleEvent(streamEvent(written), context, deps);

    // The probe's failure is one observation of two: traffic stays, and the reasons say why the report is not.
    expect(summary.pairs[0]?.plan).toBe('noop');
    expect(summary.pairs[0]?.reasons).toContain('primary daemon unhealthy 1/2: waiting');
    expect(summary.pairs[0]?.reasons.join('\n')).toContain(
      `is not evidence: stored under ${PRIMARY}'s key but claims to be ${STANDBY}`,
    );
    expect(routeTargets()).toEqual(['primary', 'primary', 'primary', 'primary']);
  });

  it('does not let the standby speak for the primary: its report about the primary is read as the standby’s', async () => {
    await handleEvent(SCHEDULE, context, deps);
    fleet.world.probeExit.set(PRIMARY, 1);
    const written = await report(STANDBY, { claims: PRIMARY });

    const summary = await handleEvent(streamEvent(written), context, deps);

    expect(summary.pairs[0]?.plan).toBe('noop');
    expect(routeTargets()).toEqual(['primary', 'primary', 'primary', 'primary']);
  });

  it('counts a report once, even when the stream delivers it twice', async () => {
    await start(withThreshold(fleetConfig(1), 4));
    await handleEvent(SCHEDULE, context, deps);
    fleet.world.probeExit.set(PRIMARY, 1);
    const written = await report(PRIMARY);

    const first = await handleEvent(streamEvent(written), context, deps);
    const second = await handleEvent(streamEvent(written), context, deps);

    expect(first.pairs[0]?.reasons).toContainEqual(
      expect.stringMatching(/^primary daemon unhealthy 2\/4 \(agent report/),
    );
    expect(second.pairs[0]?.reasons).toContain('primary daemon unhealthy 3/4: waiting');
    const stored = await new StateStore({ dynamo: local.dynamo, tableName: local.tableName }).loadPair(
      'pair-0',
    );
    expect(stored.memory.agentCounted).toEqual({ primary: written.since });
  });

  it('leaves its pair, without looking, to the run holding the writer lease, as an EC2 event does', async () => {
    await handleEvent(SCHEDULE, context, deps);
    const store = new StateStore({ dynamo: local.dynamo, tableName: local.tableName });
    const now = deps.clock.now();
    await store.takeWriterLease('other-invocation', now + 60_000, now);
    fleet.world.probeExit.set(PRIMARY, 1);
    const written = await report(PRIMARY);
    fleet.reset();

    const summary = await handleEvent(streamEvent(written), context, deps);

    expect(summary).toMatchObject({ pairs: [], deferred: ['pair-0'] });
    expect(fleet.calls()).toMatchObject({ ec2: 0, ssm: 0, cloudwatch: 0 });
    expect(await store.takeMarkedPairs('other-invocation')).toEqual(['pair-0']);
  });

  it('looks at no pair for a report of an instance in no configured pair', async () => {
    fleet.reset();
    const written = await report(instanceId(99));

    const summary = await handleEvent(streamEvent(written), context, deps);

    expect(summary.pairs).toEqual([]);
    expect(fleet.calls()).toMatchObject({ ec2: 0, ssm: 0, cloudwatch: 0 });
  });

  it('looks for the probe answers every 250 ms in a run an agent report started, every second in a scheduled one', async () => {
    await handleEvent(SCHEDULE, context, deps);
    const scheduled = await handleEvent(SCHEDULE, context, deps);
    const written = await report(PRIMARY, { verdict: 'healthy' });

    const triggered = await handleEvent(streamEvent(written), context, deps);

    // Both members answer at the first look: the run takes exactly one poll interval on the stepping clock.
    expect(scheduled.durationMs).toBe(PROBE_POLL_MS.routine);
    expect(triggered.durationMs).toBe(PROBE_POLL_MS.urgent);
  });

  it("confirms an agent's report with a 1 s per-command timeout, where scheduled runs leave the document's default", async () => {
    await handleEvent(SCHEDULE, context, deps);
    const written = await report(PRIMARY, { verdict: 'unhealthy' });
    await handleEvent(streamEvent(written), context, deps);

    expect(
      fleet.world.probeParameters.map((parameters) => parameters[PROBE_PARAMETERS.commandTimeout]),
    ).toEqual([undefined, [String(CONFIRMING_COMMAND_TIMEOUT_S)]]);
    expect(CONFIRMING_COMMAND_TIMEOUT_S).toBe(1);
  });
});

describe('reading the agent table', () => {
  it('reads every agent-enabled member of a run in one call, skips pairs with the agent off, and names silent agents', async () => {
    // Prepare: three pairs; pair-1 opts out of the agent; only pair-0's agents have reported.
    const config = fleetConfig(3);
    await start({
      ...config,
      pairs: config.pairs.map((p) => (p.name === 'pair-1' ? { ...p, agent: { enabled: false } } : p)),
    });
    const asked: string[][] = [];
    deps.clients.dynamo.middlewareStack.add(
      (next, ctx) => async (args) => {
        const items = (args.input as { RequestItems?: Record<string, { Keys: { member: unknown }[] }> })
          .RequestItems?.[agentTable];
        if (ctx.commandName === 'BatchGetItemCommand' && items) {
          asked.push(
            items.Keys.map((k) => String((k.member as { S?: string }).S ?? k.member).slice(PREFIX.length)),
          );
        }
        return next(args);
      },
      { step: 'initialize', name: 'recordAgentReads' },
    );
    await report(instanceId(1), { verdict: 'healthy' });
    await report(instanceId(2), { verdict: 'healthy' });

    // Act: a first run sees the members running; the next, once they have run as long as the silence
    // limit, may call their agents silent (an agent is given as long to boot as to heartbeat).
    const first = await handleEvent(SCHEDULE, context, deps);
    await deps.clock.sleep(AGENT_SILENT_AFTER_MS);
    await report(instanceId(1), { verdict: 'healthy' });
    await report(instanceId(2), { verdict: 'healthy' });
    const summary = await handleEvent(SCHEDULE, context, deps);

    // Assess
    expect(first.pairs.flatMap((p) => p.alarms.filter((a) => a.kind === 'agent-silent'))).toEqual([]);
    expect(asked.map((ids) => [...ids].sort())).toEqual([
      [instanceId(1), instanceId(2), instanceId(5), instanceId(6)],
      [instanceId(1), instanceId(2), instanceId(5), instanceId(6)],
    ]);
    const silent = summary.pairs.map((p) => [
      p.pair,
      p.alarms.filter((a) => a.kind === 'agent-silent').length,
    ]);
    expect(silent).toEqual([
      ['pair-0', 0],
      ['pair-1', 0],
      ['pair-2', 2],
    ]);
    expect(summary.pairs.every((p) => p.plan === 'noop')).toBe(true);
  });

  it('reads no agent table when the deployment has none', async () => {
    const { agentTableName: _table, agentMemberKeyPrefix: _prefix, ...without } = deps;
    const summary = await handleEvent(SCHEDULE, context, without);
    expect(summary.pairs[0]?.alarms).toEqual([]);
    expect(summary.pairs[0]?.plan).toBe('noop');
  });
});
