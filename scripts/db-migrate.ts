/**
 * `npm run db:migrate`: applies `drizzle/` to DATABASE_URL (a Neon or any Postgres URL), then installs
 * the triggers and indexes the app map (app-map.json) asks for on the app's tables, online.
 */
import { migrateDatabase } from './stack/migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('DATABASE_URL is not set. Set it to your Neon connection string: DATABASE_URL=postgres://… npm run db:migrate');
  process.exit(1);
}
await migrateDatabase(url);
console.log(`migrations applied to ${new URL(url).host}${new URL(url).pathname}`);
