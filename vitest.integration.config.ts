import { configDefaults, defineConfig } from 'vitest/config';
import { shared } from './vitest.config.ts';

/**
 * `npm run test:integration`: the suite against moto (test/integration), kept out of `npm test` because it
 * needs python3 with moto installed. The global setup starts the emulator and stops it when the run ends.
 */
export default defineConfig({
  test: {
    ...shared,
    include: ['test/integration/**/*.test.ts'],
    exclude: [...configDefaults.exclude],
    globalSetup: ['test/integration/global-setup.ts'],
    // One emulator, one file: its tests share moto's state and run in order.
    fileParallelism: false,
  },
});
