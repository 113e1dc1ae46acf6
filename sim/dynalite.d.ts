/**
 * The slice of dynalite (an in-process DynamoDB on LevelDB, shipped without types) that sim/local-dynamo.ts
 * uses. Options are as documented in dynalite's index.js.
 */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  interface DynaliteOptions {
    /** ms a new table stays CREATING (dynalite's default 500) */
    readonly createTableMs?: number;
    /** ms a deleted table stays DELETING (default 500) */
    readonly deleteTableMs?: number;
    /** ms an updated table stays UPDATING (default 500) */
    readonly updateTableMs?: number;
    /** maximum item size in KB (default 400, as DynamoDB) */
    readonly maxItemSizeKb?: number;
    /** LevelDB directory; in memory when absent */
    readonly path?: string;
    readonly verbose?: boolean;
    readonly debug?: boolean;
  }

  /** An HTTP server speaking the DynamoDB JSON protocol; its close() also closes the store. */
  function dynalite(options?: DynaliteOptions): Server;

  export = dynalite;
}
