import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // tfjs backends are process-global; one worker per file keeps them apart.
    pool: 'forks',
    // CI sets BNN_REQUIRE_ALL_TESTS=1: any skipped test then fails the run (test/helpers/requireAllTests.ts).
    reporters:
      process.env.BNN_REQUIRE_ALL_TESTS === '1' ? ['default', './test/helpers/requireAllTests.ts'] : ['default'],
  },
});
