import { fileURLToPath } from 'node:url';

/**
 * Node's compile cache (https://nodejs.org/api/module.html#module-compile-cache) for the test workers and for
 * every Node process a test starts (the CLI, the CDK app, the Lambda bundle): they load the SDK and aws-cdk-lib
 * again and again, and with the cache each reuses the code earlier ones compiled, in about half the CPU time;
 * nothing else about a run changes. vitest.config.ts sets it for the workers, whose children inherit it; tests
 * that give a child a bare environment add it themselves. It lives beside the dependencies it caches.
 */
export const COMPILE_CACHE_ENV = {
  NODE_COMPILE_CACHE: fileURLToPath(new URL('../node_modules/.cache/node-compile-cache', import.meta.url)),
} as const;
