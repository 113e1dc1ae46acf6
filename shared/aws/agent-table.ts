/**
 * The member agent's side of the agent table, for the simulated account and tests against a local DynamoDB:
 * create the table (the CDK app creates the deployed one) and put one report item as the agent's
 * `aws dynamodb put-item` does (instance/vpn-failover-agent.sh). The controller reads the table through its own
 * adapter; nothing here decides anything.
 */
import {
  type AttributeValue,
  CreateTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { AGENT_ITEM } from '../domain/agent.ts';
import { awsErrorName } from './errors.ts';

/** A report item in DynamoDB's attribute-value form, as the agent writes it and the table's stream shows it. */
export type AgentItem = Readonly<Record<string, AttributeValue>>;

/**
 * Create the agent table (partition key `member`, the sending instance's ARN; no sort key) and wait until it
 * is ACTIVE. An existing table is kept.
 */
export async function createAgentTable(dynamo: DynamoDBDocumentClient, tableName: string): Promise<void> {
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [{ AttributeName: AGENT_ITEM.member, AttributeType: 'S' }],
        KeySchema: [{ AttributeName: AGENT_ITEM.member, KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (awsErrorName(error) !== 'ResourceInUseException') throw error;
  }
  await waitUntilTableExists(
    { client: dynamo as unknown as DynamoDBClient, minDelay: 1, maxWaitTime: 10 },
    { TableName: tableName },
  );
}

/** Put one report item, replacing the member's previous one (PutItem, as the agent does). */
export async function putAgentItem(
  dynamo: DynamoDBDocumentClient,
  tableName: string,
  item: AgentItem,
): Promise<void> {
  await dynamo.send(new PutItemCommand({ TableName: tableName, Item: { ...item } }));
}
