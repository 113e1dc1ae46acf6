import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createClients } from '../../shared/aws/clients.ts';
import { type LocalDynamo, startLocalDynamo } from '../../sim/local-dynamo.ts';
import { createStateTable } from '../../sim/state-table.ts';

/** The local DynamoDB of one test file, and the fresh state table of the current test. */
export interface LocalStateTable {
  /** a document client (the product's own, from createClients) talking to the local server */
  readonly dynamo: DynamoDBDocumentClient;
  /** the local server's endpoint, for code that builds its own clients */
  readonly endpoint: string;
  /** a state table created empty for the current test */
  readonly tableName: string;
}

let tableCount = 0;

/**
 * Call once at the top of a test file: starts one dynalite for the file (beforeAll/afterAll) and creates a
 * fresh, uniquely named state table before each test, so tests never see each other's items. Read the
 * returned object's fields inside tests and hooks, not at collection time.
 */
export function useLocalStateTable(): LocalStateTable {
  let server: LocalDynamo | undefined;
  let dynamo: DynamoDBDocumentClient | undefined;
  let tableName: string | undefined;

  beforeAll(async () => {
    server = await startLocalDynamo();
    dynamo = createClients({ dynamoEndpoint: server.endpoint }).dynamo;
  });
  beforeEach(async () => {
    tableName = `state-${process.pid}-${++tableCount}`;
    await createStateTable(required(dynamo, 'dynamo'), tableName);
  });
  afterAll(async () => {
    dynamo?.destroy();
    await server?.close();
  });

  return {
    get dynamo() {
      return required(dynamo, 'dynamo');
    },
    get endpoint() {
      return required(server, 'endpoint').endpoint;
    },
    get tableName() {
      return required(tableName, 'tableName');
    },
  };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined)
    throw new Error(`local state table: ${what} is only available inside tests and hooks`);
  return value;
}
