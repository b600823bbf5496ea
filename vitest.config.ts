import { defineConfig } from 'vitest/config';

// Quiet servers and pipeline logs during tests unless asked for.
process.env.OPSIGHT_LOG_LEVEL ??= 'warn';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Real servers (ClickHouse, Kafka) on a 2-core machine: generous timeouts, limited parallelism.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
  },
});
