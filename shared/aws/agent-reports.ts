/**
 * The member agent's report table: the only reader of it. One item per member, keyed by the sending
 * instance's ARN (shared/domain/agent.ts says why the key, not the body, names the sender).
 */

import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import type { Clock } from '../clock.ts';
import { chunk } from '../concurrency.ts';
import { AGENT_ITEM, type AgentReport, agentMemberKey, instanceIdOfMemberKey } from '../domain/agent.ts';
import type { Log } from '../logger.ts';
import { countOf } from '../plural.ts';
import { describeAwsError } from './errors.ts';
import type { ReadResult } from './read-result.ts';

/** BatchGetItem takes at most 100 keys a call (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html). */
const BATCH_GET_KEYS = 100;
/** First pause before asking again for keys DynamoDB left unprocessed; doubled each time. */
const UNPROCESSED_BACKOFF_MS = 25;

/** The attributes read: exactly the report's (the key included, to check it), through placeholders. */
const ATTRIBUTES = Object.values(AGENT_ITEM).filter((name) => name !== AGENT_ITEM.expiresAt);
const PROJECTION = ATTRIBUTES.map((_, i) => `#a${i}`).join(', ');
const PROJECTION_NAMES = Object.fromEntries(ATTRIBUTES.map((name, i) => [`#a${i}`, name]));

const itemSchema = z.object({
  [AGENT_ITEM.member]: z.string(),
  [AGENT_ITEM.instanceId]: z.string().min(1),
  [AGENT_ITEM.verdict]: z.enum(['healthy', 'unhealthy', 'unknown']),
  [AGENT_ITEM.detail]: z.string(),
  [AGENT_ITEM.exitStatus]: z.number().int(),
  [AGENT_ITEM.tunnelUp]: z.union([z.literal(0), z.literal(1)]).optional(),
  [AGENT_ITEM.since]: z.number().nonnegative(),
  [AGENT_ITEM.at]: z.number().nonnegative(),
  [AGENT_ITEM.kind]: z.enum(['change', 'heartbeat']),
  [AGENT_ITEM.seq]: z.number().int().nonnegative(),
  [AGENT_ITEM.agentVersion]: z.string(),
});

export interface AgentReportsRequest {
  readonly tableName: string;
  /** `arn:PARTITION:ec2:REGION:ACCOUNT:instance/` (ENV.agentMemberKeyPrefix) */
  readonly keyPrefix: string;
  readonly instanceIds: readonly string[];
  /** epoch ms after which keys still unprocessed are given up (read as unreadable) */
  readonly deadlineMs: number;
  readonly clock: Clock;
  readonly log: Log;
}

/**
 * The latest report of each given member, read with strongly consistent BatchGetItem calls of at most 100
 * keys, in parallel: the stream invokes the controller as soon as a report is written, and an eventually
 * consistent read may still return the report before it. Keys DynamoDB leaves unprocessed are asked for again
 * after a short, doubling pause until `deadlineMs`.
 * @returns per instance id its report, or undefined when it has none (no item, or an item that is no report:
 *   malformed items are logged once per read); an instance missing from `values` could not be read (an
 *   unknown, never silence), with the reason in `errors`.
 */
export async function readAgentReports(
  dynamo: DynamoDBDocumentClient,
  request: AgentReportsRequest,
): Promise<ReadResult<string, AgentReport | undefined>> {
  const values = new Map<string, AgentReport | undefined>();
  const errors: string[] = [];
  const malformed: string[] = [];
  const ids = [...new Set(request.instanceIds)];
  await Promise.all(
    chunk(ids, BATCH_GET_KEYS).map(async (group) => {
      const outcome = await readChunk(dynamo, request, group);
      for (const id of group) {
        if (outcome.unread.has(id)) continue;
        const item = outcome.items.get(agentMemberKey(request.keyPrefix, id));
        const report = item === undefined ? undefined : toReport(id, item);
        if (item !== undefined && report === undefined) malformed.push(id);
        values.set(id, report);
      }
      if (outcome.error !== undefined) errors.push(outcome.error);
    }),
  );
  if (malformed.length > 0) {
    request.log.warn(
      { table: request.tableName, instanceIds: malformed },
      'agent table items that are no report ignored',
    );
  }
  return { values, errors };
}

/** One chunk's items by key, the ids it could not read and why. */
async function readChunk(
  dynamo: DynamoDBDocumentClient,
  request: AgentReportsRequest,
  ids: readonly string[],
): Promise<{ items: Map<string, Record<string, unknown>>; unread: Set<string>; error?: string }> {
  const { tableName, keyPrefix, clock, deadlineMs } = request;
  const items = new Map<string, Record<string, unknown>>();
  let keys: Record<string, unknown>[] = ids.map((id) => ({
    [AGENT_ITEM.member]: agentMemberKey(keyPrefix, id),
  }));
  const unreadOf = (left: readonly Record<string, unknown>[]) =>
    new Set(left.flatMap((key) => instanceIdOfMemberKey(String(key[AGENT_ITEM.member])) ?? []));
  for (let attempt = 0; keys.length > 0; attempt++) {
    if (attempt > 0) {
      const pause = UNPROCESSED_BACKOFF_MS * 2 ** (attempt - 1);
      if (clock.now() + pause > deadlineMs) {
        return {
          items,
          unread: unreadOf(keys),
          error: `agent table ${tableName}: ${countOf(keys.length, 'key')} left unprocessed by the deadline`,
        };
      }
      await clock.sleep(pause);
    }
    try {
      const result = await dynamo.send(
        new BatchGetCommand({
          RequestItems: {
            [tableName]: {
              Keys: keys,
              ConsistentRead: true,
              ProjectionExpression: PROJECTION,
              ExpressionAttributeNames: PROJECTION_NAMES,
            },
          },
        }),
      );
      for (const item of result.Responses?.[tableName] ?? []) {
        items.set(String(item[AGENT_ITEM.member]), item);
      }
      keys = result.UnprocessedKeys?.[tableName]?.Keys ?? [];
    } catch (error) {
      return {
        items,
        unread: unreadOf(keys),
        error: `agent table ${tableName}: ${describeAwsError(error)}`,
      };
    }
  }
  return { items, unread: new Set() };
}

/** The report an item holds, or undefined when it is malformed (or keyed for another instance). */
function toReport(instanceId: string, item: Record<string, unknown>): AgentReport | undefined {
  const parsed = itemSchema.safeParse(item);
  if (!parsed.success || instanceIdOfMemberKey(parsed.data.member) !== instanceId) return undefined;
  const r = parsed.data;
  return {
    instanceId,
    claimedInstanceId: r.instanceId,
    verdict: r.verdict,
    detail: r.detail,
    exitStatus: r.exitStatus,
    ...(r.tunnelUp !== undefined && { tunnelUp: r.tunnelUp === 1 }),
    since: r.since,
    at: r.at,
    kind: r.kind,
    seq: r.seq,
    agentVersion: r.agentVersion,
  };
}
