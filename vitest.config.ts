import { configDefaults, defineConfig } from 'vitest/config';

// npm runs on the machine's Node 20 unless the `node` devDependency is on PATH (toolchain pitfall 3);
// the product targets Node 24 (Lambda nodejs24.x), so refuse to run the suite on anything older.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  throw new Error(
    `vpn-failover tests need Node 24 (got ${process.version}); run them through npm (npm test)`,
  );
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The suite against moto runs apart, with `npm run test:integration` (vitest.integration.config.ts).
    exclude: [...configDefaults.exclude, 'test/integration/**'],
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
  },
});
