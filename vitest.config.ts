import { readFileSync } from 'node:fs';
import { cloudflareTest } from '@cloudflare/vitest-plugin';
import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { type AppSource, LAYOUTS, layoutMapFile, layoutSource, ownAppSource, testLayout } from './scripts/stack/migrate.ts';
import { unitProject } from './vitest.unit.config';

/**
 * Tests inside workerd. The Worker under test bundles the map of the app layout its databases have
 * (src/app-map/index.ts): `worker` runs test/worker/ on APP_LAYOUT's (snake-plural by default);
 * `spacerr` runs test/spacerr/ on Spacerr's layout only; `layout:<name>` runs test/layouts/, written through the map, once on each shipped layout (and as
 * `layout:app` on the owner's own app when APP_MIGRATIONS is set).
 */
function workerProject(
  name: string,
  include: string[],
  source: AppSource,
  vars: Record<string, string> = {},
): TestProjectInlineConfiguration {
  return {
    plugins: [
      cloudflareTest(({ inject }) => {
        const stack = inject('stack');
        return {
          wrangler: { configPath: './wrangler.toml' },
          miniflare: {
            // Worker-level tests (SELF, exports.default) use the shared `spacerr_self`
            // database; unit-level tests get a database of their own from the control server.
            bindings: {
              CRON_SECRET: 'test-cron-secret-0123456789',
              DATABASE_URL: stack.selfBindings.DATABASE_URL,
              NEON_HTTP_ENDPOINT: stack.selfBindings.NEON_HTTP_ENDPOINT,
              UPSTASH_REDIS_REST_URL: stack.selfBindings.UPSTASH_REDIS_REST_URL,
              UPSTASH_REDIS_REST_TOKEN: stack.selfBindings.UPSTASH_REDIS_REST_TOKEN,
              // `npm run dev` writes its local Stripe endpoint into .dev.vars, which the pool also
              // reads: the tests start with Stripe erasure off, and turn it on per env.
              STRIPE_SECRET_KEY: '',
              STRIPE_API_URL: '',
              BLOB_READ_WRITE_TOKEN: stack.selfBindings.BLOB_READ_WRITE_TOKEN,
              VERCEL_BLOB_API_URL: stack.selfBindings.VERCEL_BLOB_API_URL,
              // test/worker and test/layouts check R2 (Miniflare's bucket); test/spacerr runs
              // on Vercel Blob, Spacerr's store. Either test can switch with BLOB_STORE.
              BLOB_STORE: 'r2',
              ...vars,
            },
          },
        };
      }),
    ],
    define: { SPACERR_APP_MAP: readFileSync(source.mapFile, 'utf8') },
    test: {
      name,
      include,
      // `npm run soak -- --seconds N` (scripts/soak.ts) sets SOAK_SECONDS; npm test soaks a minute.
      // TEST_NOW=<ISO instant> adds that instant to the ones the schedule tests fix (test/support/instants.ts).
      provide: { soakSeconds: Number(process.env.SOAK_SECONDS ?? 60), testNow: process.env.TEST_NOW ?? '', layout: source.name },
      testTimeout: 30_000,
    },
  };
}

const HEARTBEATS = { STREAM_STATE: 'heartbeats' };

export default defineConfig({
  test: {
    // Once for the whole run (root level, no `extends`): starts Postgres, Redis and the endpoints.
    globalSetup: ['./test/global-setup.ts'],
    projects: [
      unitProject,
      {
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts', 'scripts/**/*.test.ts'],
          environment: 'node',
          // The scripts these tests run (doctor, receipt, migrations) read the test layout's map.
          env: { APP_MAP_FILE: layoutMapFile(testLayout()) },
          setupFiles: ['./test/support/node-map.ts'],
          testTimeout: 30_000,
        },
      },
      // test/worker/ and test/layouts/ drive the stream state the `heartbeats` way (STREAM_STATE);
      // test/spacerr/ runs on wrangler.toml's default, `resumable-stream`, as Spacerr does.
      workerProject('worker', ['test/worker/**/*.test.ts'], layoutSource(testLayout()), HEARTBEATS),
      // What only Spacerr's own layout has (file parts in `message.parts`, `activeStreamId`, its
      // blob prefixes): test/spacerr/ runs once, on the bundled Spacerr map.
      workerProject('spacerr', ['test/spacerr/**/*.test.ts'], layoutSource('spacerr'), { BLOB_STORE: 'vercel-blob' }),
      ...LAYOUTS.map((layout) => workerProject(`layout:${layout}`, ['test/layouts/**/*.test.ts'], layoutSource(layout), HEARTBEATS)),
      // APP_MIGRATIONS=<your prisma/migrations> [APP_MAP_FILE=<its map>]: test/layouts/ on your own app too.
      ...[ownAppSource()]
        .filter((s) => s !== undefined)
        .map((s) => workerProject('layout:app', ['test/layouts/**/*.test.ts'], s, HEARTBEATS)),
    ],
  },
});
