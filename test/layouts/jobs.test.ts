/**
 * The two deleting jobs' rules on every shipped layout, written through the map
 * (test/layouts/app-rows.ts): the thresholds, what an erased account takes with it, the files
 * queued, the stream state cleared, the list of empty chats kept true, and the dry runs. Counts
 * of a role the layout lacks (`attachments` outside snake-plural) are asserted only where it exists.
 */
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { APP } from '../../src/app-map/app';
import { ACTIVE_STREAMS_KEY, streamKey } from '../../src/redis/streams';
import { provisionEnv, q, runNamed, sql, type TestEnv, testDb, testRedis } from '../worker/support';
import { countOf, idsOf, insertRow, listedEmpty, messagesByChat, moveMessages, queuedKeys, seedAccount } from './app-rows';

const layout = inject('layout');
const DAY = 86_400_000;
const chat = APP.role('chat');
const message = APP.role('message');
const withAttachments = APP.has('attachment');

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});

describe(`delete-stale-deactivated-accounts on the ${layout} layout`, () => {
  const JOB = 'delete-stale-deactivated-accounts';
  const NOW = new Date('2026-11-01T00:00:00.000Z');

  it('deletes users deactivated more than 30 days ago, keeps 29 days, exactly 30 days and active users', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'd31', deactivatedDaysAgo: 31 });
    await seedAccount(db, NOW, { id: 'd29', deactivatedDaysAgo: 29 });
    await seedAccount(db, NOW, { id: 'd30', deactivatedAt: new Date(NOW.getTime() - 30 * DAY) });
    await seedAccount(db, NOW, { id: 'd30plus1ms', deactivatedAt: new Date(NOW.getTime() - 30 * DAY - 1) });
    await seedAccount(db, NOW, { id: 'active', deactivatedDaysAgo: null });
    await seedAccount(db, NOW, { id: 'ancient-active', deactivatedDaysAgo: null, chats: [{ ageMinutes: 5_000_000, messages: 1 }] });

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'succeeded', more: false });
    expect(report.counts.users).toBe(2);
    expect(await idsOf(db, 'user')).toEqual(['active', 'ancient-active', 'd29', 'd30']);
  });

  it('deletes everything an account owns, queues its files and clears its stream state; others untouched', async () => {
    const db = testDb(e);
    const redis = testRedis(e);
    const spec = {
      chats: [
        { ageMinutes: 100, messages: 3, files: 2, inProject: true },
        { ageMinutes: 50, messages: 2, files: 1 },
        { ageMinutes: 60, messages: 0, files: 1 },
      ],
    };
    const gone = await seedAccount(db, NOW, { id: 'gone', deactivatedDaysAgo: 45, ...spec });
    const kept = await seedAccount(db, NOW, { id: 'kept', deactivatedDaysAgo: 3, ...spec });
    for (const chatId of [...gone.chatIds, ...kept.chatIds]) {
      await redis.zadd(ACTIVE_STREAMS_KEY, { score: NOW.getTime(), member: chatId });
      await redis.set(streamKey(chatId), `stream-${chatId}`);
    }

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report.status).toBe('succeeded');
    // users 1, projects 1, chats 3, messages 5, message_sources 3 (one per file on a message), attachments 4 where the layout has them.
    expect(gone.rows).toMatchObject({
      users: 1,
      chats: 3,
      messages: 5,
      message_sources: 3,
      ...(withAttachments ? { attachments: 4 } : {}),
    });
    expect(report.counts).toMatchObject(gone.rows);
    // Nothing anywhere references the purged account.
    expect(await idsOf(db, 'user')).toEqual(['kept']);
    expect(await idsOf(db, 'chat')).toEqual(kept.chatIds);
    expect(await idsOf(db, 'message')).toEqual([...kept.messageIds].sort());
    for (const role of ['project', 'attachment', 'messageSource'] as const) {
      if (!APP.has(role)) continue;
      expect(
        (await idsOf(db, role)).filter((id) => id.startsWith('gone')),
        role,
      ).toEqual([]);
      expect(await countOf(db, role), role).toBe(
        kept.rows[role === 'project' ? 'projects' : role === 'attachment' ? 'attachments' : 'message_sources'],
      );
    }
    // Every one of its files is in the outbox, and only those (4 where a chat without messages has one, else 3).
    expect(gone.keys).toHaveLength(withAttachments ? 4 : 3);
    expect(await queuedKeys(db)).toEqual([...gone.keys].sort());
    // Stream state of its chats that had messages is gone; the other account's is intact.
    for (const chatId of gone.chatIds.slice(0, 2)) {
      expect(await redis.zscore(ACTIVE_STREAMS_KEY, chatId)).toBeNull();
      expect(await redis.get(streamKey(chatId))).toBeNull();
    }
    for (const chatId of kept.chatIds) expect(await redis.get(streamKey(chatId))).toBe(`stream-${chatId}`);
    expect(await q(db, sql`SELECT chat_id FROM spacerr_jobs.stream_deletions`)).toEqual([]);
    // The other account is whole.
    expect(await countOf(db, 'message')).toBe(5);
  });

  it('dry run counts what it would delete and deletes nothing', async () => {
    const db = testDb(e);
    const gone = await seedAccount(db, NOW, { id: 'gone', deactivatedDaysAgo: 40, chats: [{ ageMinutes: 10, messages: 2, files: 1 }] });
    const report = await runNamed(e, JOB, { now: NOW, dryRun: true });
    expect(gone.rows).toMatchObject({
      users: 1,
      chats: 1,
      messages: 2,
      message_sources: 1,
      ...(withAttachments ? { attachments: 1 } : {}),
    });
    expect(report).toMatchObject({ status: 'succeeded', dryRun: true, counts: gone.rows });
    expect(await idsOf(db, 'user')).toEqual(['gone']);
    expect(await queuedKeys(db)).toEqual([]);
  });
});

describe(`delete-stale-empty-chats on the ${layout} layout`, () => {
  const JOB = 'delete-stale-empty-chats';
  const NOW = new Date('2026-11-01T12:00:00.000Z');
  const listed = async (id: string) => (await listedEmpty(testDb(e))).includes(id);

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
    expect(await idsOf(db, 'chat')).toEqual(['other-c0', 'u-c1', 'u-c2', 'u-c3']);
    expect(await countOf(db, 'message')).toBe(3);
  });

  // Only a layout with an attachments table can hold a file in a chat without messages
  // (Spacerr's files are parts of a message): elsewhere an empty chat has no file to take, and the
  // test is not defined (rather than skipped).
  if (withAttachments) {
    it('takes the attachments of an abandoned chat with it and queues their files', async () => {
      const db = testDb(e);
      const s = await seedAccount(db, NOW, {
        id: 'u',
        chats: [
          { ageMinutes: 60, files: 2 },
          { ageMinutes: 60, messages: 1, files: 1 },
        ],
      });
      const report = await runNamed(e, JOB, { now: NOW });
      expect(report.counts).toEqual({ chats: 1, attachments: 2 });
      expect(await queuedKeys(db)).toEqual(s.keys.slice(0, 2));
      expect(await countOf(db, 'attachment')).toBe(1);
    });
  }

  it('keeps a chat whose files sit on its message, and queues nothing', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60, messages: 1, files: 2 }, { ageMinutes: 60 }] });
    const report = await runNamed(e, JOB, { now: NOW });
    expect(report.counts).toMatchObject({ chats: 1, attachments: 0 });
    expect(await idsOf(db, 'chat')).toEqual(['u-c0']);
    expect(await queuedKeys(db)).toEqual([]);
  });

  it('treats a chat whose messages were all deleted as empty again, and heals a stale entry', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60, messages: 2 }, { ageMinutes: 60 }] });
    expect(await listed('u-c0')).toBe(false);
    await db.execute(sql`DELETE FROM ${message.table} WHERE ${message.col('chatId')} = 'u-c0'`);
    expect(await listed('u-c0')).toBe(true);
    // An entry wrongly left in empty_chats for a chat with messages must not get the chat deleted.
    await insertRow(db, 'message', { id: 'm-late', chatId: 'u-c1' });
    expect(await listed('u-c1')).toBe(false);
    await db.execute(
      sql`INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at) SELECT ${chat.id}, ${chat.instant('createdAt')} FROM ${chat.table} WHERE ${chat.id} = 'u-c1'`,
    );

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report.counts.chats).toBe(1);
    expect(await idsOf(db, 'chat')).toEqual(['u-c1']);
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
    expect(await listedEmpty(db)).toEqual(['u-c1']);
    // One statement moves three rows: the chat each one leaves is judged after all of them moved.
    await db.execute(moveMessages(['u-c0-m0', 'u-c0-m1', 'u-c2-m0'], 'u-c1'));
    expect(await listedEmpty(db)).toEqual(['u-c0']);

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report.counts.chats).toBe(1);
    expect(await idsOf(db, 'chat')).toEqual(['u-c1', 'u-c2']);
    expect(await messagesByChat(db)).toEqual([
      { id: 'u-c0-m0', chatId: 'u-c1' },
      { id: 'u-c0-m1', chatId: 'u-c1' },
      { id: 'u-c2-m0', chatId: 'u-c1' },
      { id: 'u-c2-m1', chatId: 'u-c2' },
    ]);
    expect(await listedEmpty(db)).toEqual([]);
  });

  it('calls the move trigger only when the chat changes: a streamed update of a message leaves empty_chats alone', async () => {
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
      sql`INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at)
          SELECT ${chat.id}, ${chat.instant('createdAt')} FROM ${chat.table} WHERE ${chat.id} IN ('u-c0', 'u-c1')`,
    );
    // What a streamed update writes: the parts where the layout has them, else another mapped column.
    const content = (text: string) =>
      message.has('parts')
        ? sql`${message.col('parts')} = ${JSON.stringify([{ type: 'text', text }])}::jsonb`
        : sql`${message.col('createdAt')} = ${message.col('createdAt')}`;
    await db.execute(sql`UPDATE ${message.table} SET ${content('streamed')} WHERE ${message.id} = 'u-c1-m0'`);
    await db.execute(
      sql`UPDATE ${message.table} SET ${message.col('chatId')} = ${message.col('chatId')}, ${content('edited')} WHERE ${message.id} = 'u-c1-m0'`,
    );
    expect(await listedEmpty(db)).toEqual(['u-c0', 'u-c1']);
    // A real move does call it: the chat moved into loses its entry, the chat left empty keeps one.
    await db.execute(moveMessages(['u-c0-m0'], 'u-c1'));
    expect(await listedEmpty(db)).toEqual(['u-c0']);
  });

  it('dry run counts and deletes nothing', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60, files: 1 }, { ageMinutes: 60 }, { ageMinutes: 1 }] });
    const report = await runNamed(e, JOB, { now: NOW, dryRun: true });
    expect(report).toMatchObject({ status: 'succeeded', dryRun: true, counts: { chats: 2, attachments: withAttachments ? 1 : 0 } });
    expect(await countOf(db, 'chat')).toBe(3);
    expect(await queuedKeys(db)).toEqual([]);
  });
});
