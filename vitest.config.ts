import { configDefaults, defineConfig } from 'vitest/config';
import { COMPILE_CACHE_ENV } from './test/child-env.ts';

// npm runs on the machine's Node 20 unless the `node` devDependency is on PATH;
// the product targets Node 24 (Lambda nodejs24.x), so refuse to run the suite on anything older.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  throw new Error(
    `vpn-failover tests need Node 24 (got ${process.version}); run them through npm (npm test)`,
  );
}

// Node's compile cache for the workers and the processes tests start (test/child-env.ts).
process.env.NODE_COMPILE_CACHE ??= COMPILE_CACHE_ENV.NODE_COMPILE_CACHE;

/**
 * Test files that must each start in a fresh module graph: they replace a module of ours with vi.mock (a
 * worker that had already loaded the real one would ignore the mock, or hand the mock to the next file). Files
 * that stub an SDK client class with aws-sdk-client-mock restore it in afterAll, so they share workers.
 */
export const ISOLATED_FILES = ['test/sim/properties.test.ts', 'test/functions/entry-points.test.ts'];

/** Options every suite shares (this one and vitest.integration.config.ts). */
export const shared = {
  setupFiles: ['test/setup.ts'],
  env: {
    LOG_LEVEL: 'silent',
    POWERTOOLS_METRICS_DISABLED: 'true',
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  },
  testTimeout: 30_000,
  hookTimeout: 30_000,
};

/** The suite against moto runs apart, with `npm run test:integration` (vitest.integration.config.ts). */
const exclude = [...configDefaults.exclude, 'test/integration/**'];

export default defineConfig({
  test: {
    ...shared,
    globalSetup: ['test/typecheck.global.ts'],
    // Two cores: one worker each. Files share a worker's module graph (the SDK, the CDK and zod load once per
    // worker, not once per file: half the suite's CPU time), except the few that need their own.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: {
          name: 'shared',
          include: ['test/**/*.test.ts'],
          exclude: [...exclude, ...ISOLATED_FILES],
          isolate: false,
        },
      },
      {
        extends: true,
        test: { name: 'isolated', include: ISOLATED_FILES, exclude, isolate: true },
      },
    ],
    // `npm test` runs with --coverage: the decisions and the AWS calls in shared/ must stay tested.
    coverage: {
      provider: 'v8',
      include: ['shared/**/*.ts'],
      reporter: ['text-summary', 'json-summary'],
      thresholds: { lines: 90 },
      // The figures even when a test fails, so a red run still says where coverage stands.
      reportOnFailure: true,
    },
  },
});
