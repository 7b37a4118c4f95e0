/**
 * Which of `drizzle/`'s migrations a database has. It reads what drizzle's migrator records in
 * `spacerr_jobs.__drizzle_migrations` (the sha256 of each .sql file and the journal's `when` as
 * `created_at`) and judges each migration the way that migrator would treat it: it applies a
 * migration only when its `when` is later than the newest recorded `created_at`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import pg from 'pg';

export type MigrationState =
  /** Recorded with the same hash. */
  | 'applied'
  /** Not recorded, newer than every recorded one: `--migrate` applies it. */
  | 'pending'
  /** Recorded under its timestamp with another hash: the file was edited after it was applied. */
  | 'changed'
  /** Not recorded but older than a recorded one: drizzle's migrator would skip it for ever. */
  | 'out_of_order';

export interface MigrationStatus {
  tag: string;
  when: number;
  state: MigrationState;
}

/**
 * Migrations rewritten in place when the app map took over what they installed on the app's
 * tables (src/app-map/triggers.ts): the sha256 of the text a deployment of the earlier version
 * applied (test/support/pre-map/). A database that recorded it has the migration: the installer
 * replaces the triggers that text created, and drizzle's migrator never re-runs it.
 */
const FORMER_HASHES: Record<string, string[]> = {
  '0001_app_triggers': ['936903a1e04b3b60ab56d4aae164326ac1672d495c10973da8ea7be39f515699'],
  '0003_messages_moved': ['3b0c7c79c20bf5dfebf7ccd6af1969b8bea75a0d55fa1cf2847758dd9fe6e6a6'],
};

interface Journal {
  entries: Array<{ tag: string; when: number }>;
}

/** Compares `folder`'s migrations with what `databaseUrl` recorded. Reads only. */
export async function migrationStatus(databaseUrl: string, folder: string): Promise<MigrationStatus[]> {
  const journal = JSON.parse(readFileSync(join(folder, 'meta/_journal.json'), 'utf8')) as Journal;
  // drizzle's own reader, so the hashes are computed exactly as its migrator records them.
  const files = readMigrationFiles({ migrationsFolder: folder });
  const recorded = await recordedMigrations(databaseUrl);
  const newest = Math.max(-Infinity, ...recorded.map((r) => r.createdAt));
  return journal.entries.map((entry, i) => {
    const hashes = [files[i]?.hash, ...(FORMER_HASHES[entry.tag] ?? [])];
    const state: MigrationState = recorded.some((r) => hashes.includes(r.hash))
      ? 'applied'
      : recorded.some((r) => r.createdAt === entry.when)
        ? 'changed'
        : entry.when > newest
          ? 'pending'
          : 'out_of_order';
    return { tag: entry.tag, when: entry.when, state };
  });
}

async function recordedMigrations(databaseUrl: string): Promise<Array<{ hash: string; createdAt: number }>> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 15_000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ exists: boolean }>(
      `SELECT to_regclass('spacerr_jobs.__drizzle_migrations') IS NOT NULL AS exists`,
    );
    if (!rows[0]?.exists) return [];
    const recorded = await client.query<{ hash: string; created_at: string }>(
      'SELECT hash, created_at FROM spacerr_jobs.__drizzle_migrations',
    );
    return recorded.rows.map((r) => ({ hash: r.hash, createdAt: Number(r.created_at) }));
  } finally {
    await client.end();
  }
}
