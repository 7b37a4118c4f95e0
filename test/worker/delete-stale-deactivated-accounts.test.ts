import { beforeEach, describe, expect, it } from 'vitest';
import { ACTIVE_STREAMS_KEY, streamKey } from '../../src/redis/streams';
import { seedAccount } from './seed';
import { countRows, provisionEnv, q, runNamed, sql, type TestEnv, testDb, testRedis } from './support';

const JOB = 'delete-stale-deactivated-accounts';
const NOW = new Date('2026-11-01T00:00:00.000Z');
const DAY = 86_400_000;

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});

const userIds = async () => (await q<{ id: string }>(testDb(e), sql`SELECT id FROM users ORDER BY id`)).map((r) => r.id);

describe(JOB, () => {
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
    expect(await userIds()).toEqual(['active', 'ancient-active', 'd29', 'd30']);
  });

  it('deletes everything an account owns, queues its blobs and clears its stream state; others untouched', async () => {
    const db = testDb(e);
    const redis = testRedis(e);
    const spec = {
      chats: [
        { ageMinutes: 100, messages: 3, attachments: 2, inProject: true },
        { ageMinutes: 50, messages: 2, attachments: 1 },
        { ageMinutes: 60, messages: 0, attachments: 1 },
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
    expect(report.counts).toMatchObject({ users: 1, projects: 1, chats: 3, messages: 5, attachments: 4, message_sources: 3 });
    // Nothing anywhere references the purged account.
    const [refs] = await q<Record<string, number>>(
      db,
      sql`
      SELECT (SELECT count(*)::int FROM users WHERE id = 'gone') AS users,
             (SELECT count(*)::int FROM projects WHERE user_id = 'gone') AS projects,
             (SELECT count(*)::int FROM chats WHERE user_id = 'gone') AS chats,
             (SELECT count(*)::int FROM messages WHERE chat_id LIKE 'gone-%') AS messages,
             (SELECT count(*)::int FROM attachments WHERE user_id = 'gone') AS attachments,
             (SELECT count(*)::int FROM message_sources WHERE message_id LIKE 'gone-%') AS sources`,
    );
    expect(refs).toEqual({ users: 0, projects: 0, chats: 0, messages: 0, attachments: 0, sources: 0 });
    // Every one of its blob keys is in the outbox, and only those.
    const queued = await q<{ blob_key: string }>(db, sql`SELECT blob_key FROM spacerr_jobs.blob_deletions ORDER BY blob_key`);
    expect(queued.map((r) => r.blob_key)).toEqual([...gone.blobKeys].sort());
    // Stream state of its chats that had messages is gone; the other account's is intact.
    for (const chatId of gone.chatIds.slice(0, 2)) {
      expect(await redis.zscore(ACTIVE_STREAMS_KEY, chatId)).toBeNull();
      expect(await redis.get(streamKey(chatId))).toBeNull();
    }
    for (const chatId of kept.chatIds) expect(await redis.get(streamKey(chatId))).toBe(`stream-${chatId}`);
    expect(await countRows(db, 'stream_deletions')).toBe(0);
    // The other account is whole.
    expect(await countRows(db, 'messages')).toBe(5);
    expect(await countRows(db, 'attachments')).toBe(4);
    expect(await countRows(db, 'message_sources')).toBe(3);
  });

  it('dry run counts what it would delete and deletes nothing', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'gone', deactivatedDaysAgo: 40, chats: [{ ageMinutes: 10, messages: 2, attachments: 1 }] });
    const report = await runNamed(e, JOB, { now: NOW, dryRun: true });
    expect(report).toMatchObject({
      status: 'succeeded',
      dryRun: true,
      counts: { users: 1, chats: 1, messages: 2, attachments: 1, message_sources: 1 },
    });
    expect(await userIds()).toEqual(['gone']);
    expect(await countRows(db, 'blob_deletions')).toBe(0);
  });
});
