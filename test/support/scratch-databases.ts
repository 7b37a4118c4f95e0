/**
 * Databases of one node test file's own on the stack's Postgres: `scratchDatabases(prefix)`
 * (called at the file's top level) gives a function creating `<prefix>_<name>_<pid>`, and drops
 * every one of them after the file.
 */
import pg from 'pg';
import { afterAll, inject } from 'vitest';
import { createDatabase } from '../../scripts/stack/migrate.ts';

export function scratchDatabases(prefix: string): (name: string) => Promise<string> {
  const created: string[] = [];
  afterAll(async () => {
    const admin = new pg.Client({ connectionString: inject('stack').postgresUrl });
    await admin.connect();
    for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  });
  return (name) => {
    const full = `${prefix}_${name}_${process.pid}`;
    created.push(full);
    return createDatabase(inject('stack').postgresUrl, full);
  };
}

/** `use` with a client of its own on `url`, closed after. */
export async function withDb<T>(url: string, use: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await use(c);
  } finally {
    await c.end();
  }
}
