/**
 * The Worker on the app's own layout: run once per shipped layout (fixtures/: Spacerr's
 * singular snake_case tables with camelCase TIMESTAMP(3) columns, Prisma's defaults without
 * @@map, snake_case plural timestamptz tables), the Worker bundling that layout's map and its
 * database created by that layout's Prisma migrations. Everything here is written through the map.
 */
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { APP } from '../../src/app-map/app';
import { MINUTE_MS } from '../../src/time';
import { provisionEnv, q, runNamed, Session, type TestEnv, testDb } from '../worker/support';
import { idsOf, insertInto, insertRow, insertUser, queuedKeys, runOn, seedChatWithFiles, sessionDb } from './app-rows';
import { HELD_COUNT } from '../../src/jobs/delete-stale-deactivated-accounts';

const DAY = 86_400_000;
const layout = inject('layout');
const user = APP.role('user');
const chat = APP.role('chat');

const seedUser = insertUser;

describe(`on the ${layout} layout`, () => {
  let e: TestEnv;
  let db: ReturnType<typeof testDb>;
  const now = new Date();

  beforeAll(async () => {
    e = await provisionEnv({ BATCH_TARGET_MS: '0' });
    db = testDb(e);
  });

  it('erases an account deactivated more than 30 days ago with what it owns, queuing its files; keeps the rest', async () => {
    await seedUser(db, 'gone', new Date(now.getTime() - 31 * DAY));
    await seedUser(db, 'stays', new Date(now.getTime() - 29 * DAY));
    await seedUser(db, 'live', null);
    const gone = await seedChatWithFiles(db, {
      userId: 'gone',
      chatId: 'gone-c',
      createdAt: new Date(now.getTime() - 40 * DAY),
      files: ['a.pdf', 'b.png'],
    });
    await seedChatWithFiles(db, { userId: 'stays', chatId: 'stays-c', createdAt: now, files: ['c.pdf'] });
    await seedChatWithFiles(db, { userId: 'live', chatId: 'live-c', createdAt: now, files: ['d.pdf'] });

    const dry = await runNamed(e, 'delete-stale-deactivated-accounts', { now, dryRun: true });
    const report = await runNamed(e, 'delete-stale-deactivated-accounts', { now });

    expect(report).toMatchObject({ status: 'succeeded', counts: { users: 1, chats: 1, messages: 1 } });
    // The dry run's `held` (accounts past retention a legal hold keeps) is no deletion: none here.
    const { [HELD_COUNT]: held, ...wouldDelete } = dry.counts;
    expect(held).toBe(0);
    for (const [key, value] of Object.entries(wouldDelete)) expect(report.counts[key], key).toBe(value);
    expect(await idsOf(db, 'user')).toEqual(['live', 'stays']);
    expect(await idsOf(db, 'chat')).toEqual(['live-c', 'stays-c']);
    expect(await queuedKeys(db)).toEqual(gone.keys.sort());
  });

  it('deletes chats without messages older than 15 minutes; keeps younger ones and chats with a message', async () => {
    await seedUser(db, 'chatter', null);
    await insertRow(db, 'chat', { id: 'old-empty', userId: 'chatter', createdAt: new Date(now.getTime() - 20 * MINUTE_MS) });
    await insertRow(db, 'chat', { id: 'new-empty', userId: 'chatter', createdAt: new Date(now.getTime() - 5 * MINUTE_MS) });
    await seedChatWithFiles(db, { userId: 'chatter', chatId: 'old-busy', createdAt: new Date(now.getTime() - DAY), files: [] });

    const report = await runNamed(e, 'delete-stale-empty-chats', { now });

    expect(report).toMatchObject({ status: 'succeeded', counts: { chats: 1 } });
    const left = await q<{ id: string }>(
      db,
      sql`SELECT ${chat.id} AS id FROM ${chat.table} WHERE ${chat.col('userId')} = 'chatter' ORDER BY 1`,
    );
    expect(left.map((r) => r.id)).toEqual(['new-empty', 'old-busy']);
  });

  it('queues the files of a message the app deletes once no row of its names them, in the deleting transaction', async () => {
    await seedUser(db, 'editor', null);
    const { messageId, keys } = await seedChatWithFiles(db, { userId: 'editor', chatId: 'editor-c', createdAt: now, files: ['e.pdf'] });
    const message = APP.role('message');
    const before = await queuedKeys(db);
    const added = async () => (await queuedKeys(db)).filter((k) => !before.includes(k));
    await db.execute(sql`DELETE FROM ${message.table} WHERE ${message.id} = ${messageId}`);
    if (APP.has('attachment')) {
      // The older layout's attachments row outlives its message (SET NULL) and still names the file.
      expect(await added()).toEqual([]);
      const a = APP.role('attachment');
      await db.execute(sql`DELETE FROM ${a.table} WHERE ${a.col('userId')} = 'editor'`);
    }
    expect(await added()).toEqual(keys);
  });
});

describe(`on the ${layout} layout, every session at TimeZone Asia/Tokyo`, () => {
  let e: TestEnv;
  let db: ReturnType<typeof testDb>;
  const now = new Date();

  beforeAll(async () => {
    e = await provisionEnv({ BATCH_TARGET_MS: '0' });
    // Before any session of this database opens: every one, the app's and the Worker's, runs at +09.
    const admin = await Session.open(e);
    await admin.query(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'Asia/Tokyo'); END $$`);
    await admin.close();
    db = testDb(e);
    expect(await q(db, sql`SHOW timezone`)).toEqual([{ TimeZone: 'Asia/Tokyo' }]);
  });

  it('deletes an empty chat only once it is 15 minutes old, and an account only once it is 30 days past', async () => {
    await seedUser(db, 'tz-stays', new Date(now.getTime() - 30 * DAY + 60 * MINUTE_MS)); // 29 d 23 h
    await seedUser(db, 'tz-gone', new Date(now.getTime() - 30 * DAY - 60 * MINUTE_MS)); // 30 d 1 h
    await seedUser(db, 'tz-chatter', null);
    await insertRow(db, 'chat', { id: 'tz-typing', userId: 'tz-chatter', createdAt: new Date(now.getTime() - MINUTE_MS) });
    await insertRow(db, 'chat', { id: 'tz-abandoned', userId: 'tz-chatter', createdAt: new Date(now.getTime() - 16 * MINUTE_MS) });

    expect(await runNamed(e, 'delete-stale-empty-chats', { now })).toMatchObject({ counts: { chats: 1 } });
    expect(await runNamed(e, 'delete-stale-deactivated-accounts', { now })).toMatchObject({ counts: { users: 1 } });

    expect(await idsOf(db, 'user')).toEqual(['tz-chatter', 'tz-stays']);
    expect(await idsOf(db, 'chat')).toEqual(['tz-typing']);
    // The copy the empty-chat list keeps is the chat's own instant, not shifted by the session's zone.
    const [copy] = await q<{ at: string }>(db, sql`SELECT created_at AS at FROM spacerr_jobs.empty_chats WHERE chat_id = 'tz-typing'`);
    expect(new Date(copy!.at).getTime()).toBe(now.getTime() - MINUTE_MS);
  });
});

describe(`on the ${layout} layout, the app's own writes with the triggers installed`, () => {
  let e: TestEnv;
  let db: ReturnType<typeof testDb>;

  beforeAll(async () => {
    e = await provisionEnv();
    db = testDb(e);
  });

  it('lets a role with DML rights on the app tables only write everything the app writes', async () => {
    const admin = await Session.open(e);
    await admin.query(`DROP ROLE IF EXISTS spacerr_app_dml`).catch(() => undefined);
    await admin.query(`CREATE ROLE spacerr_app_dml LOGIN PASSWORD 'app'`).catch(() => undefined);
    await admin.query(`GRANT USAGE ON SCHEMA "${APP.schema}" TO spacerr_app_dml`);
    await admin.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${APP.schema}" TO spacerr_app_dml`);
    await admin.close();
    const url = new URL(e.DATABASE_URL);
    url.username = 'spacerr_app_dml';
    url.password = 'app';
    const app = await Session.open({ ...e, DATABASE_URL: url.toString() });
    try {
      expect(await app.query(`SELECT current_user AS who`)).toEqual([{ who: 'spacerr_app_dml' }]);
      const appDb = sessionDb(app);
      await seedUser(appDb, 'dml-user', null);
      const { messageId } = await seedChatWithFiles(appDb, {
        userId: 'dml-user',
        chatId: 'dml-c',
        createdAt: new Date(),
        files: ['f.pdf'],
      });
      const message = APP.role('message');
      await runOn(app, sql`UPDATE ${chat.table} SET ${chat.col('createdAt')} = ${chat.col('createdAt')} WHERE ${chat.id} = 'dml-c'`);
      await runOn(app, sql`DELETE FROM ${message.table} WHERE ${message.id} = ${messageId}`);
      await runOn(app, sql`DELETE FROM ${chat.table} WHERE ${chat.id} = 'dml-c'`);
      await runOn(app, sql`DELETE FROM ${user.table} WHERE ${user.id} = 'dml-user'`);
    } finally {
      await app.close();
    }
    expect(await queuedKeys(db)).toContain('chat-attachments/dml-user/1767225600000-f.pdf');
  });
});

describe(`on the ${layout} layout, once the live schema no longer matches the bundled map`, () => {
  it('deletes nothing and fails every run, naming each difference', async () => {
    const e = await provisionEnv({ BATCH_TARGET_MS: '0' });
    const db = testDb(e);
    const now = new Date();
    await seedUser(db, 'drift-gone', new Date(now.getTime() - 40 * DAY));
    await insertRow(db, 'chat', { id: 'drift-empty', userId: 'drift-gone', createdAt: new Date(now.getTime() - DAY) });
    const [fk] = APP.map.relations.filter((r) => r.table === chat.name && r.references === user.name);
    const admin = await Session.open(e);
    try {
      // The app renamed the deactivation column and made the chat's owner key SET NULL.
      await admin.query(`ALTER TABLE "${APP.schema}"."${user.name}" RENAME COLUMN "${user.colName('deactivatedAt')}" TO "closedAt"`);
      await admin.query(`ALTER TABLE "${APP.schema}"."${chat.name}" ALTER COLUMN "${chat.colName('userId')}" DROP NOT NULL,
        DROP CONSTRAINT "${fk!.constraint}",
        ADD CONSTRAINT "${fk!.constraint}" FOREIGN KEY ("${chat.colName('userId')}") REFERENCES "${APP.schema}"."${user.name}" ON DELETE SET NULL`);
    } finally {
      await admin.close();
    }
    for (const job of ['delete-stale-deactivated-accounts', 'delete-stale-empty-chats']) {
      const report = await runNamed(e, job, { now });
      expect(report.status, job).toBe('failed');
      expect(report.error).toContain(`column ${user.name}.${user.colName('deactivatedAt')} is missing`);
      expect(report.error).toContain(`foreign key ${fk!.constraint} on ${chat.name} no longer has ON DELETE CASCADE`);
    }
    expect(await idsOf(db, 'user')).toEqual(['drift-gone']);
    expect(await idsOf(db, 'chat')).toEqual(['drift-empty']);
  });
});

describe(`on the ${layout} layout, a foreign key to the user that forbids its deletion`, () => {
  it('is known to the map as the catalog has it; an account it holds is refused with an alarm naming it, the rest go', async () => {
    const e = await provisionEnv({ BATCH_TARGET_MS: '0', DELETE_BATCH_SIZE: '10' });
    const db = testDb(e);
    const now = new Date();
    const blocking = APP.map.userReferences.filter((r) => r.onDelete === 'RESTRICT' || r.onDelete === 'NO ACTION');
    const live = await q<{ name: string }>(
      db,
      sql`SELECT conname AS name FROM pg_constraint
          WHERE contype = 'f' AND confrelid = ${`"${APP.schema}"."${user.name}"`}::regclass AND confdeltype IN ('r', 'a') ORDER BY 1`,
    );
    expect(live.map((r) => r.name)).toEqual(blocking.map((r) => r.constraint).sort());

    for (const id of ['held', 'free-1', 'free-2']) await seedUser(db, id, new Date(now.getTime() - 40 * DAY));
    for (const [i, key] of blocking.entries()) await insertInto(db, key.table, { id: `held-${i}`, [key.columns[0]!]: 'held' });

    const dry = await runNamed(e, 'delete-stale-deactivated-accounts', { now, dryRun: true });
    const report = await runNamed(e, 'delete-stale-deactivated-accounts', { now });
    expect(report).toMatchObject({ status: 'succeeded', counts: { users: blocking.length > 0 ? 2 : 3 } });
    expect(report.counts.users).toBe(dry.counts.users);
    if (blocking.length > 0) {
      expect(await idsOf(db, 'user')).toEqual(['held']);
      expect(report.alarms).toEqual([expect.objectContaining({ code: 'accounts_blocked', count: 1 })]);
      for (const key of blocking) expect(report.alarms?.[0]?.message).toContain(key.constraint);
    } else {
      expect(await idsOf(db, 'user')).toEqual([]);
      expect(report.alarms ?? []).toEqual([]);
    }
  });
});

describe(`on the ${layout} layout, what the app does to the rows naming files besides deleting them`, () => {
  let e: TestEnv;
  let db: ReturnType<typeof testDb>;
  const now = new Date();

  beforeAll(async () => {
    e = await provisionEnv();
    db = testDb(e);
  });

  it('queues a file the moment no row of its names it: a part edited away, a pathname or key changed', async () => {
    await seedUser(db, 'edits', null);
    const { messageId, keys } = await seedChatWithFiles(db, {
      userId: 'edits',
      chatId: 'edits-c',
      createdAt: now,
      files: ['kept.pdf', 'dropped.pdf'],
    });
    const [kept, dropped] = keys as [string, string];
    const message = APP.role('message');
    const before = await queuedKeys(db);
    const added = async () => (await queuedKeys(db)).filter((k) => !before.includes(k));
    if (message.has('parts')) {
      // The app edits the message: the second file part goes, the first stays (and the text changes).
      await db.execute(sql`UPDATE ${message.table} SET ${message.col('parts')} = jsonb_path_query_array(${message.col('parts')},
          '$[*] ? (!(@.type == "file" && @.providerMetadata.storage.pathname == $p))', jsonb_build_object('p', ${dropped}::text))
        WHERE ${message.id} = ${messageId}`);
      await db.execute(sql`UPDATE ${message.table} SET ${message.col('parts')} = ${message.col('parts')} || '[{"type":"text","text":"more"}]'::jsonb
        WHERE ${message.id} = ${messageId}`);
    }
    for (const role of ['messageSource', 'attachment'] as const) {
      const t = APP.has(role) ? APP.role(role) : undefined;
      const column = role === 'messageSource' ? 'pathname' : 'blobKey';
      if (!t?.has(column)) continue;
      await db.execute(sql`UPDATE ${t.table} SET ${t.col(column)} = ${`${dropped}-v2`} WHERE ${t.col(column)} = ${dropped}`);
    }
    expect(await added()).toEqual([dropped]);
    expect((await queuedKeys(db)).includes(kept)).toBe(false);
  });

  it('queues every file and every stream of the chats a TRUNCATE … CASCADE from the user table takes', async () => {
    await seedUser(db, 'truncated', null);
    const { keys } = await seedChatWithFiles(db, { userId: 'truncated', chatId: 'truncated-c', createdAt: now, files: ['t.pdf'] });
    const admin = await Session.open(e);
    try {
      await admin.query(`TRUNCATE "${APP.schema}"."${user.name}" CASCADE`);
    } finally {
      await admin.close();
    }
    expect(await queuedKeys(db)).toEqual(expect.arrayContaining(keys));
    expect(await q(db, sql`SELECT chat_id FROM spacerr_jobs.stream_deletions WHERE chat_id = 'truncated-c'`)).toEqual([
      { chat_id: 'truncated-c' },
    ]);
    expect(await q(db, sql`SELECT count(*)::int AS n FROM spacerr_jobs.empty_chats`)).toEqual([{ n: 0 }]);
  });
});

describe(`on the ${layout} layout, a chat whose primary key the app changes`, () => {
  it('keeps the list of empty chats on the new id: the old one is not counted, the new one is deleted when stale', async () => {
    const e = await provisionEnv({ BATCH_TARGET_MS: '0' });
    const db = testDb(e);
    const now = new Date();
    await seedUser(db, 'renamer', null);
    await insertRow(db, 'chat', { id: 'old-id', userId: 'renamer', createdAt: new Date(now.getTime() - DAY) });
    await db.execute(sql`UPDATE ${chat.table} SET ${chat.id} = 'new-id' WHERE ${chat.id} = 'old-id'`);
    expect(await q(db, sql`SELECT chat_id FROM spacerr_jobs.empty_chats`)).toEqual([{ chat_id: 'new-id' }]);
    expect(await runNamed(e, 'delete-stale-empty-chats', { now })).toMatchObject({ counts: { chats: 1 } });
    expect(await idsOf(db, 'chat')).toEqual([]);
  });
});

// Only where the shape exists: a layout whose attachments row keeps the chat it was uploaded to
// and the message it was sent with (snake-plural). Spacerr's files are parts of the message.
if (APP.has('attachment') && APP.role('attachment').has('messageId')) {
  describe(`on the ${layout} layout, a file uploaded in a draft chat and sent in another`, () => {
    it('is not taken by the empty-chat job with the draft: the draft stays, the file and its message too', async () => {
      const e = await provisionEnv({ BATCH_TARGET_MS: '0' });
      const db = testDb(e);
      const now = new Date();
      await seedUser(db, 'drafter', null);
      await insertRow(db, 'chat', { id: 'draft', userId: 'drafter', createdAt: new Date(now.getTime() - DAY) });
      await insertRow(db, 'chat', { id: 'sent-in', userId: 'drafter', createdAt: new Date(now.getTime() - DAY) });
      await insertRow(db, 'message', { id: 'sent-in-m', chatId: 'sent-in' });
      await insertRow(db, 'attachment', { id: 'moved', userId: 'drafter', chatId: 'draft', messageId: 'sent-in-m', blobKey: 'k-moved' });
      await insertRow(db, 'chat', { id: 'plain-draft', userId: 'drafter', createdAt: new Date(now.getTime() - DAY) });

      const dry = await runNamed(e, 'delete-stale-empty-chats', { now, dryRun: true });
      const report = await runNamed(e, 'delete-stale-empty-chats', { now });

      expect(report.counts).toMatchObject({ chats: 1, attachments: 0 });
      expect(dry.counts).toEqual(report.counts);
      expect(await idsOf(db, 'chat')).toEqual(['draft', 'sent-in']);
      expect(await idsOf(db, 'attachment')).toEqual(['moved']);
      expect(await queuedKeys(db)).toEqual([]);
    });
  });
}
