import { defineConfig } from 'vitest/config';

/**
 * `npm run test:browser`: the status page in Debian's Chromium (scripts/status/chromium.ts),
 * against the Worker under `wrangler dev` on a local stack of its own (scripts/status/local.ts).
 * Apart from `npm test`, which needs no browser; `.ci/run` runs both.
 */
export default defineConfig({
  test: {
    name: 'browser',
    include: ['test/browser/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    hookTimeout: 180_000,
    fileParallelism: false,
  },
});
