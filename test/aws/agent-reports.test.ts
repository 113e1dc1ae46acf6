import { BatchGetCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { readAgentReports } from '../../shared/aws/agent-reports.ts';
import { createClients } from '../../shared/aws/clients.ts';
import type { Clock } from '../../shared/clock.ts';
import type { Log } from '../../shared/logger.ts';
import { silentLogger } from '../../shared/logger.ts';

const TABLE = 'agent-reports';
const PREFIX = 'arn:aws:ec2:eu-west-1:123456789012:instance/';
const NOW = Date.parse('2026-11-30T12:00:00.000Z');
const id = (n: number) => `i-${n.toString(16).padStart(17, '0')}`;
const key = (n: number) => `${PREFIX}${id(n)}`;

const item = (n: number, overrides: Record<string, unknown> = {}) => ({
  member: key(n),
  instanceId: id(n),
  verdict: 'unhealthy',
  detail: 'unhealthy: daemon not responding',
  exitStatus: 4,
  tunnelUp: 0,
  since: NOW - 3_000,
  at: NOW - 2_000,
  kind: 'change',
  seq: 7,
  agentVersion: '1.0.0',
  ...overrides,
});

function fakeClock(): Clock & { slept: number[] } {
  let now = NOW;
  const slept: number[] = [];
  return {
    slept,
    now: () => now,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  };
}

function recordingLog(): Log & { warnings: object[] } {
  const warnings: object[] = [];
  const log: Log & { warnings: object[] } = {
    ...silentLogger,
    warnings,
    warn: (obj) => {
      warnings.push(obj);
    },
    child: () => log,
  };
  return log;
}

const dynamoMock = mockClient(DynamoDBDocumentClient);
// The stub replaces the client class's send for the whole worker: give it back for the next file.
afterAll(() => dynamoMock.restore());
let dynamo: DynamoDBDocumentClient;
let clock: ReturnType<typeof fakeClock>;

beforeEach(() => {
  dynamoMock.reset();
  dynamo = createClients({ region: 'eu-west-1' }).dynamo;
  clock = fakeClock();
});

const read = (instanceIds: string[], log: Log = silentLogger, deadlineMs = NOW + 2_000) =>
  readAgentReports(dynamo, { tableName: TABLE, keyPrefix: PREFIX, instanceIds, deadlineMs, clock, log });

/** The keys each BatchGetItem call asked for, as instance ids. */
const requested = () =>
  dynamoMock
    .commandCalls(BatchGetCommand)
    .map((call) =>
      (call.args[0].input.RequestItems?.[TABLE]?.Keys ?? []).map((k) =>
        String(k.member).slice(PREFIX.length),
      ),
    );

describe('reading the member agents’ reports', () => {
  it("returns each member's report from the item under its own key, and nothing for a member without one", async () => {
    dynamoMock.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [item(1)] } });

    const result = await read([id(1), id(2)]);

    expect(result.errors).toEqual([]);
    expect(result.values).toEqual(
      new Map([
        [
          id(1),
          {
            instanceId: id(1),
            claimedInstanceId: id(1),
            verdict: 'unhealthy',
            detail: 'unhealthy: daemon not responding',
            exitStatus: 4,
            tunnelUp: false,
            since: NOW - 3_000,
            at: NOW - 2_000,
            kind: 'change',
            seq: 7,
            agentVersion: '1.0.0',
          },
        ],
        [id(2), undefined],
      ]),
    );
    const input = dynamoMock.commandCalls(BatchGetCommand)[0]?.args[0].input.RequestItems?.[TABLE];
    expect(input?.ConsistentRead).toBe(true);
    // Only the report's attributes are read, each through a placeholder.
    expect(Object.values(input?.ExpressionAttributeNames ?? {}).sort()).toEqual(
      [
        'agentVersion',
        'at',
        'detail',
        'exitStatus',
        'instanceId',
        'kind',
        'member',
        'seq',
        'since',
        'tunnelUp',
        'verdict',
      ].sort(),
    );
    expect(input?.ProjectionExpression?.split(', ')).toHaveLength(11);
  });

  it('keeps the instance id the item claims apart from the one its key names', async () => {
    dynamoMock.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [item(1, { instanceId: id(2) })] } });

    const report = (await read([id(1)])).values.get(id(1));

    expect(report).toMatchObject({ instanceId: id(1), claimedInstanceId: id(2) });
  });

  it('asks for at most 100 members a call', async () => {
    dynamoMock.on(BatchGetCommand).resolves({ Responses: { [TABLE]: [] } });
    const ids = Array.from({ length: 230 }, (_, i) => id(i + 1));

    const result = await read(ids);

    expect(requested().map((keys) => keys.length)).toEqual([100, 100, 30]);
    expect(requested().flat().sort()).toEqual([...ids].sort());
    expect(result.values.size).toBe(230);
  });

  it('asks again for the keys DynamoDB left unprocessed, after a short pause that doubles', async () => {
    dynamoMock
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { [TABLE]: [item(1)] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ member: key(2) }, { member: key(3) }] } },
      })
      .resolvesOnce({
        Responses: { [TABLE]: [item(2)] },
        UnprocessedKeys: { [TABLE]: { Keys: [{ member: key(3) }] } },
      })
      .resolvesOnce({ Responses: { [TABLE]: [item(3)] } });

    const result = await read([id(1), id(2), id(3)]);

    expect(requested()).toEqual([[id(1), id(2), id(3)], [id(2), id(3)], [id(3)]]);
    expect(clock.slept).toEqual([25, 50]);
    expect([...result.values.values()].map((r) => r?.instanceId)).toEqual([id(1), id(2), id(3)]);
    expect(result.errors).toEqual([]);
  });

  it('reads members still unprocessed at the deadline as unreadable, not as silent', async () => {
    dynamoMock.on(BatchGetCommand).resolves({
      Responses: { [TABLE]: [item(1)] },
      UnprocessedKeys: { [TABLE]: { Keys: [{ member: key(2) }] } },
    });

    const result = await read([id(1), id(2)], silentLogger, NOW + 100);

    expect(result.values.has(id(1))).toBe(true);
    expect(result.values.has(id(2))).toBe(false);
    expect(result.errors).toEqual([`agent table ${TABLE}: 1 key left unprocessed by the deadline`]);
  });

  it('reads the members of a failed call as unreadable and still returns the other calls’ reports', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform dynamodb:BatchGetItem'), {
      name: 'AccessDeniedException',
      $metadata: {},
    });
    dynamoMock.on(BatchGetCommand).callsFake((input) => {
      const keys = input.RequestItems[TABLE].Keys as { member: string }[];
      if (keys.some((k) => k.member === key(1))) throw denied;
      return { Responses: { [TABLE]: keys.map((k) => item(Number.parseInt(k.member.slice(-17), 16))) } };
    });
    const ids = Array.from({ length: 101 }, (_, i) => id(i + 1));

    const result = await read(ids);

    expect(result.values.size).toBe(1);
    expect(result.values.get(id(101))?.instanceId).toBe(id(101));
    expect(result.errors).toEqual([
      `agent table ${TABLE}: AccessDeniedException: User is not authorized to perform dynamodb:BatchGetItem`,
    ]);
  });

  it('takes a malformed item for no report and says so once for the whole read', async () => {
    dynamoMock.on(BatchGetCommand).resolves({
      Responses: {
        [TABLE]: [item(1, { verdict: 'sideways' }), item(2, { since: undefined }), item(3)],
      },
    });
    const log = recordingLog();

    const result = await read([id(1), id(2), id(3)], log);

    expect(result.values.get(id(1))).toBeUndefined();
    expect(result.values.has(id(1))).toBe(true);
    expect(result.values.get(id(2))).toBeUndefined();
    expect(result.values.get(id(3))?.verdict).toBe('unhealthy');
    expect(log.warnings).toEqual([{ table: TABLE, instanceIds: [id(1), id(2)] }]);
  });
});
