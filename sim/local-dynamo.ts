/**
 * An in-process, in-memory DynamoDB (dynalite) for tests, the simulator and the demo. It speaks the real
 * DynamoDB wire protocol, so the production state store runs against it unchanged, conditional writes
 * included. dynalite lacks UpdateTimeToLive, TransactWriteItems and ReturnValuesOnConditionCheckFailure
 * (dynalite lacks them); the state store uses none of them.
 */
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';

/** A running local DynamoDB. */
export interface LocalDynamo {
  /** http://127.0.0.1:PORT, for createClients({ dynamoEndpoint }) */
  readonly endpoint: string;
  /** Stop the server and drop every table. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Start dynalite on 127.0.0.1 with an ephemeral port. Table state changes are instant (createTableMs 0...)
 * so a fresh table per test costs a millisecond rather than dynalite's default half second.
 */
export async function startLocalDynamo(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve, reject) => {
      server.close((error?: Error) => (error ? reject(error) : resolve()));
      // SDK clients keep connections alive; without this, close would wait for them to time out.
      server.closeAllConnections();
    });
    return closing;
  };
  return { endpoint: `http://127.0.0.1:${port}`, close };
}
