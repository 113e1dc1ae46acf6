import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Environment for the Node processes that tests start (the CLI, the CDK app): Node's compile cache
 * (https://nodejs.org/api/module.html#module-compile-cache) lets each reuse the code earlier ones compiled, so
 * it starts in about half the CPU time; nothing else about the run changes.
 */
export const COMPILE_CACHE_ENV = {
  NODE_COMPILE_CACHE: join(tmpdir(), 'vpn-failover-node-compile-cache'),
} as const;
