/**
 * The Worker in the app's database (issue 15): its footprint on the app's schema, the doctor, and
 * the move of a deployment of the legacy layout. Real Postgres, fresh databases of this file's own.
 * The embedded Postgres ships no pg_dump, so the app's schema is dumped from the catalogs: every
 * relation, column, constraint, index, trigger, function and sequence in public, one line each.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { INDEXES, TRIGGERS } from '../../scripts/doctor/contract.ts';
import {
  applyAppSchema,
  createDatabase,
  MIGRATIONS_DIR,
  MIGRATIONS_TABLE,
  migrateDatabase,
  migrateLegacy,
  testMap,
  WORKER_SCHEMA,
} from '../../scripts/stack/migrate.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const created: string[] = [];

afterAll(async () => {
  const admin = new pg.Client({ connectionString: inject('stack').postgresUrl });
  await admin.connect();
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  await admin.end();
});

async function database(name: string): Promise<string> {
  const full = `footprint_${name}_${process.pid}`;
  created.push(full);
  return createDatabase(inject('stack').postgresUrl, full);
}

async function withDb<T>(url: string, use: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await use(c);
  } finally {
    await c.end();
  }
}

/** The schema-only dump of `schema`, from the catalogs: a sorted set of definition lines. */
async function dumpSchema(url: string, schema = 'public'): Promise<string[]> {
  return withDb(url, async (c) => {
    const { rows } = await c.query<{ line: string }>(
      `SELECT 'relation ' || c.relname || ' ' || c.relkind::text AS line
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind <> 'i'
       UNION ALL
       SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
              || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
              || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname = $1 AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
       UNION ALL
       SELECT 'constraint ' || c.relname || ' ' || con.conname || ' ' || pg_get_constraintdef(con.oid)
         FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1
       UNION ALL
       SELECT 'index ' || pg_get_indexdef(i.indexrelid)
         FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1
       UNION ALL
       SELECT 'trigger ' || pg_get_triggerdef(t.oid)
         FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND NOT t.tgisinternal
       UNION ALL
       SELECT 'function ' || p.oid::regprocedure::text
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1
       UNION ALL
       SELECT 'type ' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname = $1 AND t.typtype IN ('e', 'd', 'c') AND t.typrelid = 0`,
      [schema],
    );
    return rows.map((r) => r.line).sort();
  });
}

/** Applies drizzle/'s migrations up to and including `tag`, as a deployment of that version did. */
async function migrateUpTo(url: string, tag: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spacerr-migrations-'));
  try {
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    const journalFile = join(dir, 'meta/_journal.json');
    const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: Array<{ tag: string }> };
    const last = journal.entries.findIndex((e) => e.tag === tag);
    expect(last, tag).toBeGreaterThanOrEqual(0);
    writeFileSync(journalFile, JSON.stringify({ ...journal, entries: journal.entries.slice(0, last + 1) }));
    await withDb(url, (c) =>
      migrate(drizzle(c), { migrationsFolder: dir, migrationsSchema: WORKER_SCHEMA, migrationsTable: MIGRATIONS_TABLE }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function schemas(url: string): Promise<string[]> {
  return withDb(url, async (c) =>
    (
      await c.query<{ nspname: string }>(
        `SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1`,
      )
    ).rows.map((r) => r.nspname),
  );
}

interface DoctorResult {
  code: number;
  out: string;
}

function doctor(databaseUrl: string): Promise<DoctorResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts/doctor.ts')],
      { env: { ...process.env, DATABASE_URL: databaseUrl }, cwd: ROOT },
      (err, stdout, stderr) => done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out: stdout + stderr }),
    );
  });
}

describe("the Worker's footprint on the app's schema", () => {
  it('differs only by the documented triggers and indexes; everything else is in spacerr_jobs', async () => {
    const url = await database('fresh');
    await applyAppSchema(url);
    const before = await dumpSchema(url);
    await migrateDatabase(url, testMap());
    const after = await dumpSchema(url);

    expect(before.filter((l) => !after.includes(l))).toEqual([]); // nothing of the app's changed or went
    const added = after.filter((l) => !before.includes(l));
    const documented = [...TRIGGERS.map((t) => `trigger ${t.name} on ${t.table}`), ...INDEXES.map((i) => `index ${i.name} on ${i.table}`)];
    const describe = (line: string) => {
      const trigger = /^trigger CREATE TRIGGER (\S+) .* ON public\.(\S+) /.exec(line);
      if (trigger) return `trigger ${trigger[1]} on ${trigger[2]}`;
      const index = /^index CREATE INDEX (\S+) ON public\.(\S+) /.exec(line);
      return index ? `index ${index[1]} on ${index[2]}` : line;
    };
    for (const line of added) expect(documented, line).toContain(describe(line));
    // Every trigger is there; of the indexes, the two partial ones the fixture (Prisma) lacks.
    expect(added.filter((l) => l.startsWith('trigger')).length).toBe(TRIGGERS.length);
    expect(
      added
        .filter((l) => l.startsWith('index'))
        .map(describe)
        .sort(),
    ).toEqual(['index message_sources_orphaned_idx on message_sources', 'index users_deactivated_at_idx on users']);
    expect(await schemas(url)).toEqual(['public', 'spacerr_jobs']);
    const worker = await dumpSchema(url, 'spacerr_jobs');
    for (const table of [
      'job_runs',
      'blob_deletions',
      'stream_deletions',
      'message_source_checks',
      'empty_chats',
      '__drizzle_migrations',
    ]) {
      expect(worker).toContain(`relation ${table} r`);
    }
  });
});

describe('npm run doctor', () => {
  it('passes on a migrated database: one ✓ line per check, exit 0', async () => {
    const url = await database('doctor_ok');
    await applyAppSchema(url);
    await migrateDatabase(url, testMap());
    const r = await doctor(url);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain('✗');
    expect(r.out).toContain('✓ foreign key messages.chat_id → chats ON DELETE CASCADE');
    expect(r.out).toContain('✓ schema spacerr_jobs at the latest migration');
    expect(r.out).toMatch(/all \d+ checks passed/);
  });

  it('fails with the fix when a contract foreign key loses its cascade, or a needed index is dropped', async () => {
    const url = await database('doctor_broken');
    await applyAppSchema(url);
    await migrateDatabase(url, testMap());
    await withDb(url, async (c) => {
      await c.query(`ALTER TABLE chats DROP CONSTRAINT chats_user_id_fkey,
                     ADD CONSTRAINT chats_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL`);
      await c.query(`DROP INDEX messages_chat_id_idx`);
    });
    const r = await doctor(url);
    expect(r.code).toBe(1);
    expect(r.out).toContain('✗ foreign key chats.user_id → users ON DELETE CASCADE: is ON DELETE SET NULL (chats_user_id_fkey)');
    expect(r.out).toContain(
      'fix: ALTER TABLE public.chats DROP CONSTRAINT chats_user_id_fkey, ADD CONSTRAINT chats_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;',
    );
    expect(r.out).toContain('fix: Prisma (model of chats): user User @relation(fields: [userId], references: [id], onDelete: Cascade)');
    expect(r.out).toContain('✗ index on messages (chat_id)');
    expect(r.out).toContain('fix: CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_chat_id_idx ON public.messages (chat_id);');
    expect(r.out).toContain('fix: Prisma (model of messages): @@index([chatId])');
    expect(r.out).toContain('2 of ');
  });

  it('fails on a database the Worker never migrated: no triggers, schema not at the latest migration', async () => {
    const url = await database('doctor_unmigrated');
    await applyAppSchema(url);
    const r = await doctor(url);
    expect(r.code).toBe(1);
    expect(r.out).toContain('✗ trigger attachments_enqueue_blob_deletions on attachments: missing');
    expect(r.out).toContain('✗ schema spacerr_jobs not at the latest migration');
  });
});

describe('a deployment of the legacy layout (Worker tables in public, chats.has_messages)', () => {
  it('moves to spacerr_jobs by migration, losing no outbox row, stream deletion, source check or run', async () => {
    const url = await database('legacy');
    await migrateLegacy(url); // drizzle/legacy: 0000-0002, as deployed before
    await withDb(url, async (c) => {
      await c.query(`INSERT INTO users (id, email) VALUES ('u', 'u@x')`);
      await c.query(
        `INSERT INTO chats (id, user_id, created_at) VALUES ('empty', 'u', now() - interval '1 day'), ('busy', 'u', now()), ('gone', 'u', now())`,
      );
      await c.query(`INSERT INTO messages (id, chat_id, role) VALUES ('m1', 'busy', 'user'), ('m2', 'gone', 'user')`);
      await c.query(`INSERT INTO attachments (id, user_id, chat_id, blob_key) VALUES ('a1', 'u', 'busy', 'k1'), ('a2', 'u', 'busy', 'k2')`);
      await c.query(`DELETE FROM attachments WHERE id = 'a1'`); // queued by the legacy trigger
      await c.query(`UPDATE blob_deletions SET attempts = 3, last_error = 'R2 down'`);
      await c.query(`DELETE FROM chats WHERE id = 'gone'`); // queued in stream_deletions
      await c.query(`INSERT INTO message_source_checks (attachment_id) VALUES ('a2')`);
      await c.query(`INSERT INTO job_runs (id, job, trigger, started_at, finished_at, status, counts)
                     VALUES ('r1', 'purge-deleted-blobs', 'scheduled', now() - interval '1 hour', now(), 'succeeded', '{"blobs": 7}')`);
    });

    await migrateDatabase(url, testMap());

    await withDb(url, async (c) => {
      const q = async (text: string) => (await c.query(text)).rows;
      expect(await q(`SELECT blob_key, attempts, last_error FROM spacerr_jobs.blob_deletions`)).toEqual([
        { blob_key: 'k1', attempts: 3, last_error: 'R2 down' },
      ]);
      expect(await q(`SELECT chat_id FROM spacerr_jobs.stream_deletions`)).toEqual([{ chat_id: 'gone' }]);
      expect(await q(`SELECT attachment_id FROM spacerr_jobs.message_source_checks`)).toEqual([{ attachment_id: 'a2' }]);
      expect(await q(`SELECT id, counts FROM spacerr_jobs.job_runs`)).toEqual([{ id: 'r1', counts: { blobs: 7 } }]);
      expect(await q(`SELECT chat_id FROM spacerr_jobs.empty_chats`)).toEqual([{ chat_id: 'empty' }]);
      // Nothing of the Worker's is left in public, and no column of its on an app table.
      expect(await q(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)).toEqual(
        ['attachments', 'chats', 'message_sources', 'messages', 'projects', 'users'].map((table_name) => ({ table_name })),
      );
      expect(
        await q(`SELECT column_name FROM information_schema.columns WHERE table_name = 'chats' AND column_name = 'has_messages'`),
      ).toEqual([]);
      expect(await q(`SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'`)).toEqual([]);
      // The outbox keeps working: identity sequence moved with its table, triggers re-created.
      await c.query(`DELETE FROM attachments WHERE id = 'a2'`);
      expect(await q(`SELECT blob_key FROM spacerr_jobs.blob_deletions ORDER BY id`)).toEqual([{ blob_key: 'k1' }, { blob_key: 'k2' }]);
    });
    expect(await schemas(url)).toEqual(['public', 'spacerr_jobs']);
    const r = await doctor(url);
    expect(r.code, r.out).toBe(0);
  });
});

describe('a database migrated before messages moved between chats kept empty_chats (0003_messages_moved)', () => {
  it('lists the chats that earlier moves left without messages; the doctor then passes', async () => {
    const url = await database('before_moves');
    await applyAppSchema(url);
    await migrateUpTo(url, '0002_account_events');
    const listed = (c: pg.Client) =>
      c.query<{ chat_id: string }>(`SELECT chat_id FROM spacerr_jobs.empty_chats ORDER BY 1`).then((r) => r.rows.map((row) => row.chat_id));
    await withDb(url, async (c) => {
      await c.query(`INSERT INTO public.users (id, email) VALUES ('u', 'u@x')`);
      await c.query(`INSERT INTO public.chats (id, user_id) VALUES ('left', 'u'), ('target', 'u'), ('kept', 'u')`);
      await c.query(
        `INSERT INTO public.messages (id, chat_id, role) VALUES ('m1', 'left', 'user'), ('m2', 'kept', 'user'), ('m3', 'kept', 'user')`,
      );
      await c.query(`UPDATE public.messages SET chat_id = 'target' WHERE id IN ('m1', 'm2')`);
      expect(await listed(c)).toEqual(['target']); // what moves did before the trigger: 'left' unlisted
    });

    await migrateDatabase(url, testMap());

    // 'left' is listed again; 'target' keeps its stale entry, which the job heals (its NOT EXISTS
    // sees the messages), and 'kept' still has a message.
    expect(await withDb(url, listed)).toEqual(['left', 'target']);
    const r = await doctor(url);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('✓ trigger messages_moved_update_empty_chats on messages');
  });
});
