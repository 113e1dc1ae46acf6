import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { type Clock, systemClock } from '../shared/clock.ts';
import { ControllerError } from '../shared/errors.ts';
import { TABLE_KEYS } from '../shared/telemetry-names.ts';

const { partitionKey: PK, sortKey: SK } = TABLE_KEYS;

/**
 * Create the state table as the CDK app does (pk S + sk S, on demand) and wait until it is ACTIVE. For the
 * local table of tests and the simulator; an existing table is accepted. TTL on `expiresAt` is not set here:
 * dynalite has no UpdateTimeToLive, and nothing local needs items to expire.
 * @param options.timeoutMs how long to wait for ACTIVE. @default 10000
 */
export async function createStateTable(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  options: { readonly clock?: Clock; readonly timeoutMs?: number } = {},
): Promise<void> {
  const clock = options.clock ?? systemClock;
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: PK, AttributeType: 'S' },
          { AttributeName: SK, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: PK, KeyType: 'HASH' },
          { AttributeName: SK, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (!(error instanceof Error && error.name === 'ResourceInUseException')) throw error;
  }
  const deadline = clock.now() + (options.timeoutMs ?? 10_000);
  for (;;) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (clock.now() >= deadline) {
      throw new ControllerError(`table ${tableName} is still ${Table?.TableStatus ?? 'unknown'}, not ACTIVE`);
    }
    await clock.sleep(50);
  }
}
