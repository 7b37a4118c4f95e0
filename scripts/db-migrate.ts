/**
 * `npm run db:migrate`: applies `drizzle/` to DATABASE_URL (a Neon or any Postgres URL), then installs
 * the triggers and indexes the app map (app-map.json) asks for on the app's tables, online.
 * `-- --around "<command>"` runs the app's own migration command in between (scripts/db/around.ts).
 */
import { parseArgs } from 'node:util';
import { migrateAround } from './db/around.ts';
import { migrateDatabase, readMap } from './stack/migrate.ts';

const USAGE = `usage: npm run db:migrate [-- --around "<the app's migrate command>"]

Applies the Worker's migrations to DATABASE_URL and installs its triggers and indexes on the app's
tables (app-map.json). The triggers on UPDATE name the columns they watch, which keeps the app's
streamed updates free of them but makes Postgres refuse an ALTER COLUMN … TYPE of those columns:
run the app's migrations through --around, e.g.

  npm run db:migrate -- --around "npx prisma migrate deploy"

which unpins those triggers, runs the command, and installs everything again (also when the
command fails; its exit code is then this command's).`;

function usage(message?: string): never {
  if (message) console.error(`${message}\n\n${USAGE}`);
  else console.log(USAGE);
  process.exit(message ? 2 : 0);
}

let around: string | undefined;
try {
  const { values } = parseArgs({ options: { around: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) usage();
  around = values.around;
} catch (err) {
  usage((err as Error).message);
}
if (around !== undefined && around.trim() === '') usage('--around: expected the command that applies the app’s migrations');

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set. Set it to your Neon connection string: DATABASE_URL=postgres://… npm run db:migrate');
  process.exit(1);
}
const where = `${new URL(url).host}${new URL(url).pathname}`;
if (around === undefined) {
  await migrateDatabase(url);
  console.log(`migrations applied to ${where}`);
} else {
  const code = await migrateAround(url, readMap(), around, (line) => console.log(line));
  console.log(`migrations applied to ${where}, the Worker's triggers installed again`);
  process.exitCode = code;
}
