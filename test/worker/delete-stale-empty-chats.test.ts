import { beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client';
import { seedAccount } from './seed';
import { countRows, provisionEnv, q, runNamed, sql, type TestEnv, testDb } from './support';

const JOB = 'delete-stale-empty-chats';
const NOW = new Date('2026-11-01T12:00:00.000Z');

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});

const chatIds = async () => (await q<{ id: string }>(testDb(e), sql`SELECT id FROM chats ORDER BY id`)).map((r) => r.id);
const listedChats = async (db: Db) =>
  (await q<{ chat_id: string }>(db, sql`SELECT chat_id FROM spacerr_jobs.empty_chats ORDER BY chat_id`)).map((r) => r.chat_id);

describe(JOB, () => {
  it('deletes empty chats older than 15 minutes; keeps 14-minute-old, exactly 15, and any chat with a message', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, {
      id: 'u',
      chats: [
        { ageMinutes: 16 }, // c0: stale, empty → deleted
        { ageMinutes: 14 }, // c1: too young
        { ageMinutes: 15 }, // c2: exactly the threshold: not older than it
        { ageMinutes: 100_000, messages: 1 }, // c3: ancient but has a message
        { ageMinutes: 20, inProject: true }, // c4: stale, empty, in a project → deleted
      ],
    });
    await seedAccount(db, NOW, { id: 'other', chats: [{ ageMinutes: 30, messages: 2 }] });

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'succeeded', more: false, counts: { chats: 2, attachments: 0 } });
    expect(await chatIds()).toEqual(['other-c0', 'u-c1', 'u-c2', 'u-c3']);
    expect(await countRows(db, 'messages')).toBe(3);
  });

  it('takes the attachments of an abandoned chat with it and queues their blobs', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, {
      id: 'u',
      chats: [
        { ageMinutes: 60, attachments: 2 },
        { ageMinutes: 60, messages: 1, attachments: 1 },
      ],
    });
    const report = await runNamed(e, JOB, { now: NOW });
    expect(report.counts).toEqual({ chats: 1, attachments: 2 });
    const queued = await q<{ blob_key: string }>(db, sql`SELECT blob_key FROM spacerr_jobs.blob_deletions ORDER BY blob_key`);
    expect(queued.map((r) => r.blob_key)).toEqual(s.blobKeys.slice(0, 2));
    expect(await countRows(db, 'attachments')).toBe(1);
  });

  it('treats a chat whose messages were all deleted as empty again, and heals a stale entry', async () => {
    const db = testDb(e);
    const listed = async (id: string) => (await q(db, sql`SELECT 1 FROM spacerr_jobs.empty_chats WHERE chat_id = ${id}`)).length === 1;
    await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60, messages: 2 }, { ageMinutes: 60 }] });
    expect(await listed('u-c0')).toBe(false);
    await db.execute(sql`DELETE FROM messages WHERE chat_id = 'u-c0'`);
    expect(await listed('u-c0')).toBe(true);
    // An entry wrongly left in empty_chats for a chat with messages must not get the chat deleted.
    await db.execute(sql`INSERT INTO messages (id, chat_id, role) VALUES ('m-late', 'u-c1', 'user')`);
    expect(await listed('u-c1')).toBe(false);
    await db.execute(sql`INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at) SELECT id, created_at FROM chats WHERE id = 'u-c1'`);

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report.counts.chats).toBe(1);
    expect(await chatIds()).toEqual(['u-c1']);
    expect(await listed('u-c1')).toBe(false);
  });

  it('keeps an old empty chat a message was moved into, and deletes the chat it left empty', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, {
      id: 'u',
      chats: [
        { ageMinutes: 60, messages: 2 }, // c0: both messages move out → empty, old → deleted
        { ageMinutes: 60 }, // c1: old and empty until the messages move in → kept
        { ageMinutes: 60, messages: 2 }, // c2: one of its two messages moves out → kept
      ],
    });
    expect(await listedChats(db)).toEqual(['u-c1']);
    // One statement moves three rows: the chat each one leaves is judged after all of them moved.
    await db.execute(sql`UPDATE public.messages SET chat_id = 'u-c1' WHERE id IN ('u-c0-m0', 'u-c0-m1', 'u-c2-m0')`);
    expect(await listedChats(db)).toEqual(['u-c0']);

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report.counts.chats).toBe(1);
    expect(await q(db, sql`SELECT id FROM public.chats ORDER BY id`)).toEqual([{ id: 'u-c1' }, { id: 'u-c2' }]);
    expect(await q(db, sql`SELECT id, chat_id FROM public.messages ORDER BY id`)).toEqual([
      { id: 'u-c0-m0', chat_id: 'u-c1' },
      { id: 'u-c0-m1', chat_id: 'u-c1' },
      { id: 'u-c2-m0', chat_id: 'u-c1' },
      { id: 'u-c2-m1', chat_id: 'u-c2' },
    ]);
    expect(await listedChats(db)).toEqual([]);
  });

  it('calls the move trigger only when chat_id changes: a streamed content update leaves empty_chats alone', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, {
      id: 'u',
      chats: [
        { ageMinutes: 60, messages: 1 },
        { ageMinutes: 60, messages: 1 },
      ],
    });
    // Stale entries for both chats (they have messages): the move function, were it called for a
    // message of u-c1 that stays there, would delete u-c1's entry. Nothing else touches them.
    await db.execute(
      sql`INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at) SELECT id, created_at FROM public.chats WHERE id IN ('u-c0', 'u-c1')`,
    );
    await db.execute(sql`UPDATE public.messages SET content = '{"text":"streamed"}' WHERE id = 'u-c1-m0'`);
    await db.execute(sql`UPDATE public.messages SET chat_id = chat_id, content = '{"text":"edited"}' WHERE id = 'u-c1-m0'`);
    expect(await listedChats(db)).toEqual(['u-c0', 'u-c1']);
    // A real move does call it: the chat moved into loses its entry, the chat left empty keeps one.
    await db.execute(sql`UPDATE public.messages SET chat_id = 'u-c1' WHERE id = 'u-c0-m0'`);
    expect(await listedChats(db)).toEqual(['u-c0']);
  });

  it('dry run counts and deletes nothing', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60, attachments: 1 }, { ageMinutes: 60 }, { ageMinutes: 1 }] });
    const report = await runNamed(e, JOB, { now: NOW, dryRun: true });
    expect(report).toMatchObject({ status: 'succeeded', dryRun: true, counts: { chats: 2, attachments: 1 } });
    expect(await countRows(db, 'chats')).toBe(3);
    expect(await countRows(db, 'blob_deletions')).toBe(0);
  });
});
