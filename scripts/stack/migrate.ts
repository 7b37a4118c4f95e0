import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import type { AppMap } from '../../src/app-map/types.ts';
import { type InstallReport, installAppObjects, type StepTiming } from '../db/app-objects.ts';

export const MIGRATIONS_DIR = resolve(import.meta.dirname, '../../drizzle');
/** The layout before the Worker had a schema of its own: its tables in public (kept to test the move). */
export const LEGACY_MIGRATIONS_DIR = resolve(MIGRATIONS_DIR, 'legacy');
/** The Worker's schema; drizzle's migrator keeps its journal there too. */
export const WORKER_SCHEMA = 'spacerr_jobs';
export const MIGRATIONS_TABLE = '__drizzle_migrations';
const ROOT = resolve(import.meta.dirname, '../..');
/** The map the Worker bundles (written by `npm run map`). */
export const APP_MAP_FILE = join(ROOT, 'app-map.json');

/**
 * The app layouts the project ships, each a Prisma schema with its migrations and the map derived
 * from it (fixtures/<layout>/): Spacerr's own, Prisma's defaults without @@map, and snake_case
 * plural tables. They stand for the app's Prisma migrations in tests, `npm run dev` and the bench.
 */
export const LAYOUTS = ['spacerr', 'prisma-defaults', 'snake-plural'] as const;
export type Layout = (typeof LAYOUTS)[number];

/** The layout the test stack uses: APP_LAYOUT, or snake-plural. */
export function testLayout(): Layout {
  const layout = process.env.APP_LAYOUT ?? 'snake-plural';
  if (!(LAYOUTS as readonly string[]).includes(layout)) throw new Error(`APP_LAYOUT must be one of ${LAYOUTS.join(', ')}, got ${layout}`);
  return layout as Layout;
}

export const layoutDir = (layout: Layout) => join(ROOT, 'fixtures', layout);
export const layoutMigrations = (layout: Layout) => join(layoutDir(layout), 'prisma', 'migrations');
/** The map of a shipped layout. */
export function layoutMapFile(layout: Layout): string {
  return join(layoutDir(layout), 'app-map.json');
}

/** An app map file: `file`, else APP_MAP_FILE from the environment, else the bundled app-map.json. */
export function readMap(file: string = process.env.APP_MAP_FILE || APP_MAP_FILE): AppMap {
  return JSON.parse(readFileSync(file, 'utf8')) as AppMap;
}

/**
 * Applies every migration in `drizzle/` that `databaseUrl` has not seen yet, then installs the
 * triggers and indexes the app map asks for on the app's tables (scripts/db/app-objects.ts).
 * Returns the installer's report (its steps, and the lock timeouts it gave way on); `onStep` hears
 * when each step ran.
 */
export async function migrateDatabase(
  databaseUrl: string,
  map: AppMap = readMap(),
  opts: { onStep?: (timing: StepTiming) => void } = {},
): Promise<InstallReport> {
  return withClient(databaseUrl, async (client) => {
    const startMs = performance.now();
    await migrate(drizzle(client), {
      migrationsFolder: MIGRATIONS_DIR,
      migrationsSchema: WORKER_SCHEMA,
      migrationsTable: MIGRATIONS_TABLE,
    });
    const endMs = performance.now();
    opts.onStep?.({
      what: "drizzle's migrations (spacerr_jobs' own tables)",
      startMs,
      endMs,
      retries: 0,
      longestTransactionMs: endMs - startMs,
    });
    return installAppObjects(client, map, () => {}, opts.onStep);
  });
}

/** The `migration.sql` files of a Prisma `migrations/` folder, in the order Prisma applies them. */
export function prismaMigrationFiles(folder: string): string[] {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new Error(`${folder}: not a Prisma migrations folder`);
  const files = readdirSync(folder)
    .filter((d) => statSync(join(folder, d)).isDirectory())
    .sort()
    .map((d) => join(folder, d, 'migration.sql'))
    .filter((f) => existsSync(f));
  if (files.length === 0) throw new Error(`${folder}: no <migration>/migration.sql in it`);
  return files;
}

/** Applies a Prisma `migrations/` folder, each `<migration>/migration.sql` in order, as `prisma migrate deploy` would. */
export async function applyPrismaMigrations(databaseUrl: string, folder: string): Promise<void> {
  await withClient(databaseUrl, async (client) => {
    for (const file of prismaMigrationFiles(folder)) await client.query(readFileSync(file, 'utf8'));
  });
}

/** Applies the legacy layout's migrations (drizzle/legacy, journal in drizzle.__drizzle_migrations). */
export async function migrateLegacy(databaseUrl: string): Promise<void> {
  await withClient(databaseUrl, (client) => migrate(drizzle(client), { migrationsFolder: LEGACY_MIGRATIONS_DIR }));
}

/** Creates the app's tables of a shipped layout, from its Prisma migrations. */
export async function applyAppSchema(databaseUrl: string, layout: Layout = testLayout()): Promise<void> {
  await applyPrismaMigrations(databaseUrl, layoutMigrations(layout));
}

/**
 * Creates the app's tables unless the database has them (a dev database from an earlier run, or
 * one the legacy layout created): dev's stand-in for the app having run its migrations.
 */
export async function ensureAppSchema(databaseUrl: string, map: AppMap, migrations: string): Promise<boolean> {
  const user = map.roles.user;
  const { rows } = await withClient(databaseUrl, (client) =>
    client.query<{ present: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS present`, [
      `${pg.escapeIdentifier(map.schema)}.${pg.escapeIdentifier(user?.table ?? '')}`,
    ]),
  );
  if (rows[0]?.present) return false;
  await applyPrismaMigrations(databaseUrl, migrations);
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

/** Creates database `name` with a layout's app tables and every Worker migration, as dev and tests use it. */
export async function createAppDatabase(adminUrl: string, name: string, layout: Layout = testLayout()): Promise<string> {
  const url = await createDatabase(adminUrl, name);
  await applyAppSchema(url, layout);
  await migrateDatabase(url, readMap(layoutMapFile(layout)));
  return url;
}

/** Runs `use` on one connection to `databaseUrl` (notices below warning silenced), closed after. */
export async function withClient<T>(databaseUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SET client_min_messages = warning');
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Where a test database's app tables and the Worker's map come from. */
export interface AppSource {
  /** `spacerr`, `prisma-defaults`, `snake-plural`, or `app` for the owner's own. */
  name: string;
  /** A Prisma `migrations/` folder. */
  migrations: string;
  mapFile: string;
}

export const layoutSource = (layout: Layout): AppSource => ({
  name: layout,
  migrations: layoutMigrations(layout),
  mapFile: layoutMapFile(layout),
});

/**
 * The owner's own app for the tests' stack: APP_MIGRATIONS (the app's Prisma `migrations/` folder)
 * with the map APP_MAP_FILE, else the bundled app-map.json (`npm run map` wrote it from the app's
 * schema). Unset: none, and the tests run on the shipped layouts only.
 */
export function ownAppSource(): AppSource | undefined {
  const migrations = process.env.APP_MIGRATIONS;
  if (!migrations) return undefined;
  prismaMigrationFiles(resolve(migrations)); // fails now, naming the folder, rather than in every test
  return { name: 'app', migrations: resolve(migrations), mapFile: resolve(process.env.APP_MAP_FILE || APP_MAP_FILE) };
}

/** Creates database `name` with a source's app tables and every Worker migration and trigger. */
export async function createSourceDatabase(adminUrl: string, name: string, source: AppSource): Promise<string> {
  const url = await createDatabase(adminUrl, name);
  await applyPrismaMigrations(url, source.migrations);
  await migrateDatabase(url, readMap(source.mapFile));
  return url;
}

/** The map of the layout the test stack uses (APP_LAYOUT). */
export function testMap(): AppMap {
  return readMap(layoutMapFile(testLayout()));
}
