/**
 * The Worker in the app's database: its footprint on the app's schema, the doctor, and
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
import { describe, expect, it } from 'vitest';
import { installNeeds } from '../../scripts/doctor/contract.ts';
import {
  applyAppSchema,
  layoutMapFile,
  MIGRATIONS_DIR,
  MIGRATIONS_TABLE,
  migrateDatabase,
  migrateLegacy,
  readMap,
  testLayout,
  testMap,
  WORKER_SCHEMA,
} from '../../scripts/stack/migrate.ts';
import type { InstalledObject } from '../../src/app-map/triggers.ts';
import { scratchDatabases, withDb } from '../support/scratch-databases.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const database = scratchDatabases('footprint');

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

/**
 * The texts of drizzle/0001 and 0003 as the version before the app map shipped them: they created
 * the triggers on the app's tables that the installer (src/app-map/triggers.ts) now replaces.
 */
const PRE_MAP_DIR = join(ROOT, 'test/support/pre-map');

/**
 * Applies drizzle/'s migrations up to and including `tag`, as a deployment of that version did:
 * with `preMap`, the version before the app map (its 0001 and 0003 texts).
 */
async function migrateUpTo(url: string, tag: string, opts: { preMap?: boolean } = {}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spacerr-migrations-'));
  try {
    cpSync(MIGRATIONS_DIR, dir, { recursive: true });
    if (opts.preMap) cpSync(PRE_MAP_DIR, dir, { recursive: true });
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

/** `npm run doctor` on `databaseUrl`, against the test layout's map (APP_MAP_FILE) unless `args` give --map. */
function doctor(databaseUrl: string, args: string[] = [], extraEnv: Record<string, string> = {}): Promise<DoctorResult> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [join(ROOT, 'scripts/doctor.ts'), ...args],
      { env: { ...process.env, DATABASE_URL: databaseUrl, APP_MAP_FILE: layoutMapFile(testLayout()), ...extraEnv }, cwd: ROOT },
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
    const objects = installNeeds(testMap()).map((n) => n.object);
    const of = <K extends InstalledObject['kind']>(kind: K) =>
      objects.filter((o): o is Extract<InstalledObject, { kind: K }> => o.kind === kind);
    const documented = [
      ...of('trigger').map((t) => `trigger ${t.name} on ${t.table}`),
      ...of('index').map((i) => `index ${i.name} on ${i.table}`),
    ];
    const describe = (line: string) => {
      const trigger = /^trigger CREATE TRIGGER (\S+) .* ON public\.(\S+) /.exec(line);
      if (trigger) return `trigger ${trigger[1]} on ${trigger[2]}`;
      const index = /^index CREATE INDEX (\S+) ON public\.(\S+) /.exec(line);
      return index ? `index ${index[1]} on ${index[2]}` : line;
    };
    for (const line of added) expect(documented, line).toContain(describe(line));
    // Every trigger is there, each named with the Worker's prefix; of the indexes, only those
    // whose column no index of the app's leads with (snake-plural's Prisma schema has the others),
    // and the orphaned sources' partial one.
    expect(
      added
        .filter((l) => l.startsWith('trigger'))
        .map(describe)
        .sort(),
    ).toEqual(
      of('trigger')
        .map((t) => `trigger ${t.name} on ${t.table}`)
        .sort(),
    );
    expect(of('trigger').every((t) => t.name.startsWith('spacerr_jobs_'))).toBe(true);
    expect(
      added
        .filter((l) => l.startsWith('index'))
        .map(describe)
        .sort(),
    ).toEqual([
      'index spacerr_jobs_message_sources_orphaned_idx on message_sources',
      'index spacerr_jobs_users_deactivated_at_idx on users',
    ]);
    expect(await schemas(url)).toEqual(['public', 'spacerr_jobs']);
    const worker = await dumpSchema(url, 'spacerr_jobs');
    for (const table of [
      'job_runs',
      'blob_deletions',
      'stream_deletions',
      'message_source_checks',
      'empty_chats',
      'slow_accounts',
      '__drizzle_migrations',
    ]) {
      expect(worker).toContain(`relation ${table} r`);
    }
    for (const f of of('function')) expect(worker).toContain(`function spacerr_jobs.${f.name}()`);
  });
});

describe('npm run doctor', () => {
  it('passes on a migrated database: one ✓ line per check, every check derived from the map, exit 0', async () => {
    const url = await database('doctor_ok');
    await applyAppSchema(url);
    await migrateDatabase(url, testMap());
    const r = await doctor(url);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toContain('✗');
    expect(r.out).toContain(`app map: fixtures/${testLayout()}/app-map.json`);
    expect(r.out).toContain(
      '✓ table "public"."messages" (message: model Message): id text, chat_id text, created_at timestamp(6) with time zone',
    );
    expect(r.out).toContain('✓ foreign key messages.chat_id → chats ON DELETE CASCADE (messages_chat_id_fkey)');
    expect(r.out).toContain('✓ foreign key attachments.message_id → messages ON DELETE SET NULL (attachments_message_id_fkey)');
    expect(r.out).toContain('- note: off: message.parts: model Message has no field parts');
    expect(r.out).toContain('✓ function spacerr_jobs.message_updated() SECURITY DEFINER');
    expect(r.out).toContain('✓ trigger spacerr_jobs_message_updated on messages');
    expect(r.out).toContain('✓ index on messages (chat_id): messages_chat_id_idx');
    expect(r.out).toContain('✓ index on users (deactivated_at): spacerr_jobs_users_deactivated_at_idx');
    expect(r.out).toContain('✓ schema spacerr_jobs at the latest migration');
    // One ✓ line per check: the map's tables, relations, the installer's objects, the migrations.
    const map = testMap();
    const checks = Object.keys(map.roles).length + map.relations.length + installNeeds(map).length + 1;
    expect(r.out.split('\n').filter((l) => l.startsWith('✓')).length).toBe(checks);
    expect(r.out).toContain(`all ${checks} checks passed`);
  });

  it('fails with the fix when a foreign key loses its cascade, an index is dropped, a function is not SECURITY DEFINER', async () => {
    const url = await database('doctor_broken');
    await applyAppSchema(url);
    await migrateDatabase(url, testMap());
    await withDb(url, async (c) => {
      await c.query(`ALTER TABLE chats DROP CONSTRAINT chats_user_id_fkey,
                     ADD CONSTRAINT chats_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE SET NULL`);
      await c.query(`DROP INDEX messages_chat_id_idx`);
      await c.query(`ALTER FUNCTION spacerr_jobs.add_emptied_chats() SECURITY INVOKER`);
      await c.query(`ALTER TABLE messages ALTER COLUMN created_at TYPE timestamp(3)`);
    });
    const r = await doctor(url, ['--map', `fixtures/${testLayout()}/app-map.json`]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('✗ foreign key chats.user_id → users ON DELETE CASCADE: is ON DELETE SET NULL (chats_user_id_fkey)');
    expect(r.out).toContain(
      'fix: ALTER TABLE "public"."chats" DROP CONSTRAINT "chats_user_id_fkey", ADD CONSTRAINT "chats_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE CASCADE;',
    );
    expect(r.out).toContain('fix: Prisma (model Chat): user User @relation(fields: [userId], references: [id], onDelete: Cascade)');
    expect(r.out).toContain('✗ index on messages (chat_id): missing');
    expect(r.out).toContain('fix: CREATE INDEX CONCURRENTLY "spacerr_jobs_messages_chat_id_idx" ON "public"."messages" ("chat_id");');
    expect(r.out).toContain('fix: Prisma (model Message): @@index([chatId])');
    expect(r.out).toContain('✗ function spacerr_jobs.add_emptied_chats() SECURITY DEFINER: is not SECURITY DEFINER');
    expect(r.out).toContain(
      '✗ table "public"."messages" (message: model Message): created_at is timestamp(3) without time zone, expected timestamp(6) with time zone',
    );
    expect(r.out).toContain('fix: Prisma (model Message): createdAt DateTime @map("created_at") @db.Timestamptz(6)');
    expect(r.out).toMatch(/\n4 of \d+ checks failed/);
  });

  it('fails on a database the Worker never migrated: no triggers, no functions, schema not at the latest migration', async () => {
    const url = await database('doctor_unmigrated');
    await applyAppSchema(url);
    const r = await doctor(url);
    expect(r.code).toBe(1);
    expect(r.out).toContain('✗ trigger spacerr_jobs_attachment_blobs on attachments: missing');
    expect(r.out).toContain('✗ trigger spacerr_jobs_message_updated on messages: missing');
    expect(r.out).toContain('✗ function spacerr_jobs.queue_attachment_blobs() SECURITY DEFINER: missing');
    expect(r.out).toContain('✗ schema spacerr_jobs not at the latest migration');
  });

  it("checks Spacerr's own layout with --map: every reference to the user, SET NULL noted, unlinked data warned", async () => {
    const url = await database('doctor_spacerr');
    await applyAppSchema(url, 'spacerr');
    const map = readMap(layoutMapFile('spacerr'));
    await migrateDatabase(url, map);
    const args = ['--map', 'fixtures/spacerr/app-map.json'];
    const r = await doctor(url, args);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('app map: fixtures/spacerr/app-map.json (from fixtures/spacerr/prisma/schema)');
    expect(r.out).toContain(
      '✓ table "public"."user" (user: model User): id text, deactivatedAt timestamp(3) without time zone, email text',
    );
    expect(r.out).toContain('✓ foreign key message.chatId → chat ON DELETE CASCADE (message_chatId_fkey)');
    expect(r.out).toContain('✓ user reference session.userId → user ON DELETE CASCADE (session_userId_fkey)');
    expect(r.out).toContain(
      '✓ user reference deactivation_feedback.userId → user ON DELETE SET NULL (deactivation_feedback_userId_fkey)\n    note: its rows survive their user',
    );
    expect(r.out).toContain('! warning: "public"."verification": identifier can hold a user\'s email');
    expect(r.out).toContain('- note: off: attachment: model Attachment not found');
    expect(r.out).toContain('✓ trigger spacerr_jobs_message_part_blobs on message');
    expect(r.out).toContain('✓ function spacerr_jobs.queue_message_source_blobs() SECURITY DEFINER');
    // The map names a per-user prefix: the user table's trigger records the sweeps.
    expect(r.out).toContain('✓ trigger spacerr_jobs_blob_sweeps on user');
    expect(r.out).toContain('✓ function spacerr_jobs.queue_blob_sweeps() SECURITY DEFINER');
    expect(r.out).toContain('✓ index on user (deactivatedAt): user_deactivatedAt_idx');
    expect(r.out).toMatch(/all \d+ checks passed/);

    await withDb(url, (c) =>
      c.query(`ALTER TABLE "session" DROP CONSTRAINT "session_userId_fkey",
               ADD CONSTRAINT "session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "user"("id") ON DELETE RESTRICT`),
    );
    const broken = await doctor(url, args);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain(
      '✗ user reference session.userId → user ON DELETE RESTRICT (session_userId_fkey): deleting a user fails while session has a row of theirs, so every account batch would fail',
    );
    expect(broken.out).toContain(
      'fix: ALTER TABLE "public"."session" DROP CONSTRAINT "session_userId_fkey", ADD CONSTRAINT "session_userId_fkey" FOREIGN KEY ("userId") REFERENCES "public"."user"("id") ON DELETE CASCADE;',
    );
    expect(broken.out).toContain('fix: Prisma (model Session): user User @relation(fields: [userId], references: [id], onDelete: Cascade)');
    expect(broken.out).toMatch(/\n1 of \d+ checks failed/);
  });
});

describe('npm run doctor on the one app column the Worker writes (contract §2, §4)', () => {
  it("fails, with the GRANT, when the Worker's role cannot UPDATE the chat's activeStreamId; passes once granted", async () => {
    const url = await database('doctor_stream_grant');
    await applyAppSchema(url, 'spacerr');
    await migrateDatabase(url, readMap(layoutMapFile('spacerr')));
    // A Worker role that can read everything but was granted no UPDATE on the app's tables.
    const role = `worker_${process.pid}`;
    await withDb(url, (c) =>
      c.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pw';
               GRANT USAGE ON SCHEMA public, spacerr_jobs TO ${role};
               GRANT SELECT ON ALL TABLES IN SCHEMA public, spacerr_jobs TO ${role}`),
    );
    const asWorker = Object.assign(new URL(url), { username: role, password: 'pw' }).toString();
    const args = ['--map', 'fixtures/spacerr/app-map.json'];
    const line = "UPDATE on chat.activeStreamId for the Worker's role (stale streams are reset there)";

    const denied = await doctor(asWorker, args);
    expect(denied.code).toBe(1);
    expect(denied.out).toContain(`✗ ${line}: ${role} lacks SELECT or UPDATE on it, so every run of clear-stale-streams would fail`);
    expect(denied.out).toContain(`fix: GRANT SELECT ("id", "activeStreamId"), UPDATE ("activeStreamId") ON "public"."chat" TO "${role}";`);

    await withDb(url, (c) => c.query(`GRANT SELECT ("id", "activeStreamId"), UPDATE ("activeStreamId") ON "public"."chat" TO ${role}`));
    const granted = await doctor(asWorker, args);
    expect(granted.out).toContain(`✓ ${line}`);
    expect(granted.out).not.toContain(`✗ ${line}`);
    // The heartbeat layout writes no app column: no such check.
    const heartbeats = await doctor(asWorker, args, { STREAM_STATE: 'heartbeats' });
    expect(heartbeats.out).not.toContain(line);
  });
});

describe('npm run doctor on the data the message-source rules delete (contract §5.6)', () => {
  it('warns with counts of sources without an attachment and of sources citing another message’s file; checks still pass', async () => {
    const url = await database('doctor_sources');
    await applyAppSchema(url);
    await migrateDatabase(url, testMap());
    const clean = await doctor(url);
    expect(clean.code, clean.out).toBe(0);
    expect(clean.out).not.toContain('message source(s)');

    await withDb(url, async (c) => {
      await c.query(`INSERT INTO users (id, email) VALUES ('u', 'u@x')`);
      await c.query(`INSERT INTO chats (id, user_id) VALUES ('c', 'u')`);
      await c.query(`INSERT INTO messages (id, chat_id, role) VALUES ('m1', 'c', 'user'), ('m2', 'c', 'assistant'), ('m3', 'c', 'user')`);
      await c.query(`INSERT INTO attachments (id, user_id, chat_id, message_id, blob_key) VALUES ('a1', 'u', 'c', 'm1', 'blobs/a1')`);
      // s1: the upload's own source. s2: the reply citing it. s3: stored without a file.
      await c.query(
        `INSERT INTO message_sources (id, message_id, attachment_id) VALUES ('s1', 'm1', 'a1'), ('s2', 'm2', 'a1'), ('s3', 'm1', NULL)`,
      );
    });
    const r = await doctor(url);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/all \d+ checks passed/);
    expect(r.out).toContain(
      '! warning: "public"."message_sources": 1 message source(s) with attachment_id NULL; delete-orphaned-message-sources deletes every such row at its next run',
    );
    expect(r.out).toContain(
      '! warning: "public"."message_sources": 1 message source(s) of another message than their attachment\'s message_id; each is deleted once its attachment is re-checked (moved to another message) (contract §5.6)',
    );

    // The file moves to another message: the trigger queues it, and the next run deletes both sources.
    await withDb(url, (c) => c.query(`UPDATE attachments SET message_id = 'm3' WHERE id = 'a1'`));
    const moved = await doctor(url);
    expect(moved.code, moved.out).toBe(0);
    expect(moved.out).toContain(
      "2 message source(s) of another message than their attachment's message_id; each is deleted once its attachment is re-checked (moved to another message), and 2 of them are queued for that re-check now: the next run deletes them",
    );
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

/** The triggers on the app's tables that are not the Worker's current ones (the prefix). */
async function unprefixedTriggers(c: pg.Client): Promise<string[]> {
  const { rows } = await c.query<{ tgname: string }>(
    `SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND NOT t.tgisinternal AND t.tgname NOT LIKE 'spacerr\\_jobs\\_%' ORDER BY 1`,
  );
  return rows.map((r) => r.tgname);
}

async function workerFunctions(c: pg.Client): Promise<string[]> {
  const { rows } = await c.query<{ proname: string }>(
    `SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'spacerr_jobs' ORDER BY 1`,
  );
  return rows.map((r) => r.proname);
}

/** The installer's trigger functions, and the one a migration creates (drizzle/0007: the blob queues' requeue). */
const installedFunctions = () =>
  [...installNeeds(testMap()).flatMap((n) => (n.object.kind === 'function' ? [n.object.name] : [])), 'requeue_parked_blobs'].sort();

describe('a database migrated by the version before the app map (its drizzle/0001 and 0003 created the triggers)', () => {
  it('lists the chats that earlier moves left without messages (migrated up to 0002); the doctor then passes', async () => {
    const url = await database('before_moves');
    await applyAppSchema(url);
    await migrateUpTo(url, '0002_account_events', { preMap: true });
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
    await withDb(url, async (c) => {
      expect(await listed(c)).toEqual(['left', 'target']);
      expect(await unprefixedTriggers(c)).toEqual([]);
      expect(await workerFunctions(c)).toEqual(installedFunctions());
    });
    const r = await doctor(url);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('✓ trigger spacerr_jobs_message_updated on messages');
    expect(r.out).toContain('✓ schema spacerr_jobs at the latest migration, 0008_stripe_customers');
  });

  it('keeps its rows when migrated up to 0003, and ends with the new triggers only', async () => {
    const url = await database('pre_map');
    await applyAppSchema(url);
    await migrateUpTo(url, '0003_messages_moved', { preMap: true });
    await withDb(url, async (c) => {
      expect(await unprefixedTriggers(c)).toContain('messages_moved_update_empty_chats');
      await c.query(`INSERT INTO public.users (id, email) VALUES ('u', 'u@x')`);
      await c.query(`INSERT INTO public.chats (id, user_id) VALUES ('empty', 'u'), ('busy', 'u')`);
      await c.query(`INSERT INTO public.messages (id, chat_id, role) VALUES ('m1', 'busy', 'user')`);
      await c.query(
        `INSERT INTO public.attachments (id, user_id, chat_id, blob_key) VALUES ('a1', 'u', 'busy', 'k1'), ('a2', 'u', 'busy', 'k2')`,
      );
      await c.query(`DELETE FROM public.attachments WHERE id = 'a1'`); // queued by the old trigger
    });

    await migrateDatabase(url, testMap());

    await withDb(url, async (c) => {
      const q = async (text: string) => (await c.query(text)).rows;
      expect(await q(`SELECT chat_id FROM spacerr_jobs.empty_chats ORDER BY 1`)).toEqual([{ chat_id: 'empty' }]);
      expect(await q(`SELECT blob_key FROM spacerr_jobs.blob_deletions ORDER BY id`)).toEqual([{ blob_key: 'k1' }]);
      expect(await unprefixedTriggers(c)).toEqual([]);
      expect(await workerFunctions(c)).toEqual(installedFunctions());
      // The new triggers do the old ones' work: one delete queues one key, once.
      await c.query(`DELETE FROM public.attachments WHERE id = 'a2'`);
      expect(await q(`SELECT blob_key FROM spacerr_jobs.blob_deletions ORDER BY id`)).toEqual([{ blob_key: 'k1' }, { blob_key: 'k2' }]);
      await c.query(`DELETE FROM public.messages WHERE id = 'm1'`);
      expect(await q(`SELECT chat_id FROM spacerr_jobs.empty_chats ORDER BY 1`)).toEqual([{ chat_id: 'busy' }, { chat_id: 'empty' }]);
    });
    const r = await doctor(url);
    expect(r.code, r.out).toBe(0);
  });
});

describe('db:migrate again on a database it installed', () => {
  const listed = (c: pg.Client) =>
    c.query<{ chat_id: string }>(`SELECT chat_id FROM spacerr_jobs.empty_chats ORDER BY 1`).then((r) => r.rows.map((row) => row.chat_id));
  /** `migrateDatabase` again, and what its steps were. */
  const again = async (url: string) => {
    const steps: string[] = [];
    await migrateDatabase(url, testMap(), { onStep: (t) => steps.push(t.what) });
    return steps;
  };
  const BACKFILL = 'list the chats that are empty now';

  async function installed(name: string): Promise<string> {
    const url = await database(name);
    await applyAppSchema(url);
    await migrateDatabase(url, testMap());
    await withDb(url, (c) => c.query(`INSERT INTO public.users (id, email) VALUES ('u', 'u@x')`));
    return url;
  }

  it('scans the chats once: a second run leaves the list to the triggers that kept it', async () => {
    const url = await installed('again');
    await withDb(url, (c) => c.query(`INSERT INTO public.chats (id, user_id) VALUES ('new', 'u')`));
    expect(await again(url)).not.toContain(BACKFILL);
    await withDb(url, async (c) => {
      expect(await listed(c)).toEqual(['new']);
      await c.query(`INSERT INTO public.chats (id, user_id) VALUES ('newer', 'u')`);
      expect(await listed(c)).toEqual(['new', 'newer']);
    });
  });

  it.each([
    ['dropped', `DROP TRIGGER spacerr_jobs_chat_inserted ON public.chats`],
    ['disabled', `ALTER TABLE public.chats DISABLE TRIGGER spacerr_jobs_chat_inserted`],
  ])('scans again when a trigger that keeps the list was %s meanwhile, then leaves it to the triggers', async (what, statement) => {
    const url = await installed(`again_${what}`);
    await withDb(url, async (c) => {
      await c.query(statement);
      await c.query(`INSERT INTO public.chats (id, user_id) VALUES ('missed', 'u')`);
      expect(await listed(c)).toEqual([]);
    });
    expect(await again(url)).toContain(BACKFILL);
    await withDb(url, async (c) => {
      expect(await listed(c)).toEqual(['missed']);
      await c.query(`INSERT INTO public.chats (id, user_id) VALUES ('after', 'u')`);
      expect(await listed(c)).toEqual(['after', 'missed']);
    });
    expect(await again(url)).not.toContain(BACKFILL);
  });
});
