import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

export const MIGRATIONS_DIR = resolve(import.meta.dirname, '../../drizzle');
/** The layout before the Worker had a schema of its own: its tables in public (kept to test the move). */
export const LEGACY_MIGRATIONS_DIR = resolve(MIGRATIONS_DIR, 'legacy');
/** The Worker's schema; drizzle's migrator keeps its journal there too. */
export const WORKER_SCHEMA = 'spacerr_jobs';
export const MIGRATIONS_TABLE = '__drizzle_migrations';
/** Stands for the app's Prisma migrations: the app's tables, which the Worker's migrations expect. */
export const APP_SCHEMA_SQL = resolve(import.meta.dirname, 'app-schema.sql');

/** Applies every migration in `drizzle/` that `databaseUrl` has not seen yet. */
export async function migrateDatabase(databaseUrl: string): Promise<void> {
  await withClient(databaseUrl, (client) =>
    migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR, migrationsSchema: WORKER_SCHEMA, migrationsTable: MIGRATIONS_TABLE }),
  );
}

/** Applies the legacy layout's migrations (drizzle/legacy, journal in drizzle.__drizzle_migrations). */
export async function migrateLegacy(databaseUrl: string): Promise<void> {
  await withClient(databaseUrl, (client) => migrate(drizzle(client), { migrationsFolder: LEGACY_MIGRATIONS_DIR }));
}

/** Creates the app's tables (scripts/stack/app-schema.sql), as the app's own migrations would. */
export async function applyAppSchema(databaseUrl: string): Promise<void> {
  await withClient(databaseUrl, (client) => client.query(readFileSync(APP_SCHEMA_SQL, 'utf8')));
}

/**
 * Creates the app's tables unless the database has them (a dev database from an earlier run, or
 * one the legacy layout created): dev's stand-in for the app having run its migrations.
 */
export async function ensureAppSchema(databaseUrl: string): Promise<boolean> {
  const { rows } = await withClient(databaseUrl, (client) =>
    client.query<{ present: boolean }>(`SELECT to_regclass('public.users') IS NOT NULL AS present`),
  );
  if (rows[0]?.present) return false;
  await applyAppSchema(databaseUrl);
  return true;
}

/** Creates database `name` on the server of `adminUrl` (dropping any old one) and returns its URL. */
export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    const from = template ? ` TEMPLATE ${pg.escapeIdentifier(template)}` : '';
    await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}${from}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates database `name` with the app's tables and every Worker migration, as dev and tests use it. */
export async function createAppDatabase(adminUrl: string, name: string): Promise<string> {
  const url = await createDatabase(adminUrl, name);
  await applyAppSchema(url);
  await migrateDatabase(url);
  return url;
}

async function withClient<T>(databaseUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SET client_min_messages = warning');
    return await use(client);
  } finally {
    await client.end();
  }
}
