/**
 * The app's own migrations against the Worker's update triggers: those triggers
 * name the columns they watch (`UPDATE OF … WHEN …`), so Postgres refuses an `ALTER COLUMN … TYPE`
 * of such a column while they are installed; `npm run db:migrate -- --around "<command>"` runs the
 * app's command with them unpinned and installs them again. On every shipped layout (and the
 * owner's own app with APP_MIGRATIONS), through the real command, on fresh databases of its own.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import {
  type AppSource,
  applyPrismaMigrations,
  LAYOUTS,
  layoutSource,
  migrateDatabase,
  ownAppSource,
  readMap,
} from '../../scripts/stack/migrate.ts';
import type { AppMap } from '../../src/app-map/types.ts';
import { alterStatement, appMigrationCommand, isPinned, typeChanges, workerUpdateTriggers } from '../support/app-migration.ts';
import { scratchDatabases, withDb } from '../support/scratch-databases.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const database = scratchDatabases('around');
const q = pg.escapeIdentifier;

async function migrated(source: AppSource, what: string): Promise<string> {
  const url = await database(`${source.name.replace(/-/g, '_')}_${what}`);
  await applyPrismaMigrations(url, source.migrations);
  await migrateDatabase(url, readMap(source.mapFile));
  return url;
}

/** `npm run db:migrate -- --around <command>` on `url` with `source`'s map. */
function dbMigrateAround(url: string, source: AppSource, command: string): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [resolve(ROOT, 'scripts/db-migrate.ts'), '--around', command],
      { env: { ...process.env, DATABASE_URL: url, APP_MAP_FILE: source.mapFile }, cwd: ROOT },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out: stdout + stderr }),
    );
  });
}

/** The definitions of the Worker's row-level UPDATE triggers. */
function updateTriggers(url: string, map: AppMap): Promise<string[]> {
  return withDb(url, (c) => workerUpdateTriggers(c, map.schema));
}

const sources = [...LAYOUTS.map(layoutSource), ...[ownAppSource()].filter((s) => s !== undefined)];

describe.each(sources)("the app's migrations on the $name layout", (source) => {
  const map = readMap(source.mapFile);

  it('refuses a type change of a watched column while the triggers are installed, as Postgres does', async () => {
    const url = await migrated(source, 'direct');
    const [chatCreated] = typeChanges(map);
    await expect(withDb(url, (c) => c.query(alterStatement(map, chatCreated!)))).rejects.toThrow(
      'cannot alter type of a column used in a trigger definition',
    );
  });

  it('applies through --around: the column types change and the triggers are pinned again', async () => {
    const url = await migrated(source, 'around');
    const changes = typeChanges(map);
    const r = await dbMigrateAround(url, source, appMigrationCommand(changes.map((c) => alterStatement(map, c))));
    expect(r.code, r.out).toBe(0);

    await withDb(url, async (c) => {
      for (const [t, column, type] of changes) {
        // The type as Postgres spells it: a temporary column of the same declared type.
        await c.query(`CREATE TEMP TABLE wanted (v ${type})`);
        const { rows } = await c.query<{ now: string; wanted: string }>(
          `SELECT format_type(a.atttypid, a.atttypmod) AS now, format_type(w.atttypid, w.atttypmod) AS wanted
           FROM pg_attribute a, pg_attribute w
           WHERE a.attrelid = $1::regclass AND a.attname = $2 AND w.attrelid = 'pg_temp.wanted'::regclass AND w.attname = 'v'`,
          [`${q(map.schema)}.${q(t.table)}`, column],
        );
        expect(rows[0]?.now, `${t.table}.${column}`).toBe(rows[0]?.wanted);
        await c.query(`DROP TABLE pg_temp.wanted`);
      }
    });
    const defs = await updateTriggers(url, map);
    expect(defs.length).toBeGreaterThan(0);
    for (const def of defs) expect(isPinned(def), def).toBe(true);
  });

  it('installs the triggers again when the command fails, and exits with its code', async () => {
    const url = await migrated(source, 'failed');
    const pinned = await updateTriggers(url, map);
    const r = await dbMigrateAround(url, source, 'exit 3');
    expect(r.code, r.out).toBe(3);
    expect(r.out).toContain('failed (exit 3)');
    expect(await updateTriggers(url, map)).toEqual(pinned);
  });
});
