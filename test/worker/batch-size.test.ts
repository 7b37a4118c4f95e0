/**
 * Batch sizes that follow BATCH_TARGET_MS (src/run/batch-size.ts), through the real jobs and the
 * real database. How long a batch "took" comes from the run's clock, given here: a clock that
 * stands still (every batch far under the target) or one that moves 400 ms whenever it is read
 * (every batch over the 250 ms target). The sizes then follow from the rule alone, on any machine.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { seedAccount } from './seed';
import { countRows, provisionEnv, q, runNamed, sql, testDb, type TestEnv } from './support';

const NOW = new Date('2026-11-01T12:00:00.000Z');
const still = () => 0;
function slow() {
  let t = 0;
  return () => (t += 400);
}

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv({ DELETE_BATCH_SIZE: '50' });
});

/** `n` sources whose attachment is gone, on one message. */
async function seedOrphanedSources(n: number) {
  const db = testDb(e);
  await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60, messages: 1 }] });
  await db.execute(sql`INSERT INTO public.message_sources (id, message_id, attachment_id)
    SELECT 's' || g, 'u-c0-m0', NULL FROM generate_series(1, ${n}) g`);
}

describe('batch sizes by time', () => {
  it('grows fast batches ×4 each: 3000 orphaned sources go in 4 batches instead of 60', async () => {
    await seedOrphanedSources(3000);

    const report = await runNamed(e, 'delete-orphaned-message-sources', { now: NOW, clock: still });

    // 50, 200, 800, then 3200 asked and 1950 found: not full, the last.
    expect(report).toMatchObject({ status: 'succeeded', more: false, subrequests: 2 + 4, counts: { message_sources: 3000 } });
    expect(await countRows(testDb(e), 'message_sources')).toBe(0);
  });

  it('with BATCH_TARGET_MS=0 every batch keeps its size, and the same backlog outlasts the budget', async () => {
    e = await provisionEnv({ DELETE_BATCH_SIZE: '50', BATCH_TARGET_MS: '0' });
    await seedOrphanedSources(3000);

    const report = await runNamed(e, 'delete-orphaned-message-sources', { now: NOW, clock: still });

    // 45 subrequests: lock and finish, then 43 batches of 50.
    expect(report).toMatchObject({ status: 'succeeded', more: true, subrequests: 45, counts: { message_sources: 43 * 50 } });
    expect(await countRows(testDb(e), 'message_sources')).toBe(3000 - 43 * 50);
  });

  it('shrinks slow batches (to a tenth of the first size at least), and never grows the account job past DELETE_BATCH_SIZE', async () => {
    // The account job starts at a quarter of DELETE_BATCH_SIZE: 8 users, at most 32.
    e = await provisionEnv({ DELETE_BATCH_SIZE: '32' });
    const db = testDb(e);
    const stale = (prefix: string, n: number) =>
      db.execute(sql`INSERT INTO public.users (id, email, deactivated_at)
        SELECT ${prefix} || g, ${prefix} || g || '@example.com', ${NOW.toISOString()}::timestamptz - interval '40 days' - g * interval '1 minute'
        FROM generate_series(1, ${n}) g`);
    await stale('gone', 20);
    await seedAccount(db, NOW, { id: 'kept', deactivatedDaysAgo: 3 });

    // Every batch takes 400 ms against a 250 ms target: 8, then 5, 3, 1 (the floor), 1, 1, 1, and
    // a last batch of 1 that finds none.
    const slowRun = await runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW, clock: slow() });
    expect(slowRun).toMatchObject({ status: 'succeeded', more: false, subrequests: 2 + 8, counts: { users: 20 } });

    await stale('again', 100);
    // Instant batches: 8, then 32 (×4), then it stays at its bound of 32: 8 + 32 + 32 + 28.
    const fastRun = await runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW, clock: still });
    expect(fastRun).toMatchObject({ status: 'succeeded', more: false, subrequests: 2 + 4, counts: { users: 100 } });
    expect(await q(db, sql`SELECT id FROM public.users`)).toEqual([{ id: 'kept' }]);
  });

  it('grows the empty-chat job up to 10× EMPTY_CHAT_BATCH_SIZE', async () => {
    e = await provisionEnv({ EMPTY_CHAT_BATCH_SIZE: '10' });
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: Array.from({ length: 450 }, () => ({ ageMinutes: 60 })) });

    const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW, clock: still });

    // 10, 40, then the bound of 100 each: 10 + 40 + 4 × 100 = 450, and a last batch that finds none.
    expect(report).toMatchObject({ status: 'succeeded', more: false, subrequests: 2 + 7, counts: { chats: 450 } });
    expect(await countRows(db, 'chats')).toBe(0);
  });
});
