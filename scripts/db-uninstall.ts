/**
 * `npm run db:uninstall`: removes everything the Worker installed in the app's database — its
 * triggers and indexes on the app's tables (named `spacerr_jobs_…`), their functions and every
 * table of the schema `spacerr_jobs` (outbox, run history, migration journal). The app's own
 * tables and rows are not touched. Asks for `--yes`: queued file deletions are lost with it.
 */
import pg from 'pg';
import { uninstallAppObjects } from './db/app-objects.ts';
import { readMap } from './stack/migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set. Set it to your Neon connection string: DATABASE_URL=postgres://… npm run db:uninstall -- --yes');
  process.exit(1);
}
if (!process.argv.includes('--yes')) {
  console.error(
    'db:uninstall drops the schema spacerr_jobs (queued blob deletions, run history) and the Worker’s triggers and indexes ' +
      'on the app’s tables. Run it again with --yes: npm run db:uninstall -- --yes',
  );
  process.exit(2);
}
const client = new pg.Client({ connectionString: url });
await client.connect();
try {
  await uninstallAppObjects(client, readMap(), (line) => console.log(`  ${line}`));
} finally {
  await client.end();
}
console.log(`spacerr-jobs removed from ${new URL(url).host}${new URL(url).pathname}`);
