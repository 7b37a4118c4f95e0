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
    const hash = files[i]?.hash;
    const state: MigrationState = recorded.some((r) => r.hash === hash)
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
