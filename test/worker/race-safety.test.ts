/**
 * Race safety (docs/contract.md, §7) with real concurrency: the app's transaction runs on its own Postgres
 * connection (Session) while the job runs through the Neon endpoint. These tests fail if the
 * jobs' row locking (FOR UPDATE SKIP LOCKED on the candidate rows, with READ COMMITTED's re-check
 * of the predicate) is removed.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { seedAccount } from './seed';
import { fixedBatches, provisionEnv, q, runNamed, Session, sql, testDb, type TestEnv } from './support';

const NOW = () => new Date();
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});

describe('a first message racing the empty-chat job', () => {
  it('is never deleted with its chat when its insert is in flight as the job runs', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW(), { id: 'u', chats: [{ ageMinutes: 60 }, { ageMinutes: 60 }] });
    const app = await Session.open(e);
    try {
      await app.query('BEGIN');
      await app.query(`INSERT INTO messages (id, chat_id, role) VALUES ('m-race', 'u-c0', 'user')`);
      // The whole run happens while the insert is uncommitted (the job never waits on the app).
      const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
      await app.query('COMMIT');
      expect(report.counts.chats).toBe(1); // u-c1 only
    } finally {
      await app.close();
    }
    expect(await q(db, sql`SELECT id, chat_id FROM messages`)).toEqual([{ id: 'm-race', chat_id: 'u-c0' }]);
    expect(await q(db, sql`SELECT id FROM chats`)).toEqual([{ id: 'u-c0' }]);
  });

  it('loses no committed message when many first messages land while the job deletes', async () => {
    e = await provisionEnv(fixedBatches(5));
    const db = testDb(e);
    const chatIds = (await seedAccount(db, NOW(), { id: 'u', chats: Array.from({ length: 60 }, () => ({ ageMinutes: 60 })) })).chatIds;
    // Every other chat gets a first message, each in its own transaction, racing three job runs.
    const inserts = chatIds
      .filter((_, i) => i % 2 === 0)
      .map(async (chatId, i) => {
        await pause(i * 3);
        try {
          await db.execute(sql`INSERT INTO messages (id, chat_id, role) VALUES (${`m-${chatId}`}, ${chatId}, 'user')`);
          return { chatId, committed: true };
        } catch (err) {
          // The job deleted the chat first: the app is told (foreign key violation), nothing is lost.
          expect(String((err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code)).toBe('23503');
          return { chatId, committed: false };
        }
      });
    const runs = [0, 40, 80].map(async (delay) => {
      await pause(delay);
      return runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
    });
    const outcomes = await Promise.all(inserts);
    await Promise.all(runs);

    const messages = new Set((await q<{ chat_id: string }>(db, sql`SELECT chat_id FROM messages`)).map((r) => r.chat_id));
    const chats = new Set((await q<{ id: string }>(db, sql`SELECT id FROM chats`)).map((r) => r.id));
    for (const o of outcomes) {
      expect(messages.has(o.chatId)).toBe(o.committed);
      if (o.committed) expect(chats.has(o.chatId)).toBe(true);
    }
  });
});

describe('a message moved into an empty chat racing the empty-chat job', () => {
  it('never deletes the chat while the move is in flight, and lists the chat it left once it commits', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW(), { id: 'u', chats: [{ ageMinutes: 60, messages: 1 }, { ageMinutes: 60 }] });
    const app = await Session.open(e);
    try {
      await app.query('BEGIN');
      await app.query(`UPDATE public.messages SET chat_id = 'u-c1' WHERE id = 'u-c0-m0'`);
      // The whole run happens while the move is uncommitted (the job never waits on the app).
      const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
      await app.query('COMMIT');
      // u-c1 is skipped (the move holds its row, KEY SHARE for the foreign key, and its empty_chats
      // row); u-c0 was not empty in the job's snapshot.
      expect(report.counts.chats).toBe(0);
    } finally {
      await app.close();
    }
    expect(await q(db, sql`SELECT id, chat_id FROM public.messages`)).toEqual([{ id: 'u-c0-m0', chat_id: 'u-c1' }]);
    expect(await q(db, sql`SELECT id FROM public.chats ORDER BY id`)).toEqual([{ id: 'u-c0' }, { id: 'u-c1' }]);
    // After the commit the list is true: the chat moved into is off it, the one left empty is on it.
    expect(await q(db, sql`SELECT chat_id FROM spacerr_jobs.empty_chats`)).toEqual([{ chat_id: 'u-c0' }]);
    expect((await runNamed(e, 'delete-stale-empty-chats', { now: NOW() })).counts.chats).toBe(1);
    expect(await q(db, sql`SELECT id FROM public.chats`)).toEqual([{ id: 'u-c1' }]);
  });

  it('loses no committed message when many moves into old empty chats land while the job deletes', async () => {
    e = await provisionEnv({ EMPTY_CHAT_BATCH_SIZE: '10000' });
    const db = testDb(e);
    // The job's one statement locks 4000 older empty chats before it reaches the targets: a window
    // after its snapshot in which a committed move is invisible to its NOT EXISTS, and only the
    // move's delete of the target's empty_chats row makes the lock drop the chat. Without the
    // move trigger, moved messages are deleted with their chats here (2 to 19 of 150 in each of
    // 7 trials).
    await seedAccount(db, NOW(), { id: 'f', chats: Array.from({ length: 4000 }, () => ({ ageMinutes: 120 })) });
    const s = await seedAccount(db, NOW(), {
      id: 'u',
      chats: [{ ageMinutes: 1, messages: 150 }, ...Array.from({ length: 150 }, () => ({ ageMinutes: 60 }))],
    });
    const moves = s.messageIds.map(async (id, i) => {
      const to = s.chatIds[i + 1];
      await pause(i * 1.5);
      try {
        const r = await db.execute(sql`UPDATE public.messages SET chat_id = ${to} WHERE id = ${id} RETURNING id`);
        return { id, to, committed: r.rows.length === 1 };
      } catch (err) {
        // The job deleted the chat first: the app is told (foreign key violation), nothing is lost.
        expect(String((err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code)).toBe('23503');
        return { id, to, committed: false };
      }
    });
    await pause(20);
    await runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
    const outcomes = await Promise.all(moves);

    const chatOf = new Map(
      (await q<{ id: string; chat_id: string }>(db, sql`SELECT id, chat_id FROM public.messages`)).map((r) => [r.id, r.chat_id]),
    );
    expect(outcomes.filter((o) => o.committed && chatOf.get(o.id) !== o.to)).toEqual([]);
  });
});

describe('a reactivation racing the account job', () => {
  it('never deletes a user whose reactivation is in flight as the job runs', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW(), { id: 'back', deactivatedDaysAgo: 45, chats: [{ ageMinutes: 10, messages: 1 }] });
    await seedAccount(db, NOW(), { id: 'gone', deactivatedDaysAgo: 45 });
    const app = await Session.open(e);
    try {
      await app.query('BEGIN');
      await app.query(`UPDATE users SET deactivated_at = NULL WHERE id = 'back'`);
      // The whole run happens while the reactivation is uncommitted (the job never waits on the app).
      const run = await runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW() });
      await app.query('COMMIT');
      expect(run.counts.users).toBe(1);
    } finally {
      await app.close();
    }
    expect(await q(db, sql`SELECT id, deactivated_at FROM users`)).toEqual([{ id: 'back', deactivated_at: null }]);
    expect(await q(db, sql`SELECT count(*)::int AS n FROM messages`)).toEqual([{ n: 1 }]);
  });

  it('never deletes a user reactivated by a transaction that committed after the job took its snapshot', async () => {
    e = await provisionEnv(fixedBatches(1));
    const db = testDb(e);
    for (let i = 0; i < 20; i++) await seedAccount(db, NOW(), { id: `u${String(i).padStart(2, '0')}`, deactivatedDaysAgo: 40 + i });
    // Reactivate the odd users one by one while the job works through the batch-of-one loop.
    const reactivated = Array.from({ length: 10 }, (_, i) => `u${String(i * 2 + 1).padStart(2, '0')}`);
    const updates = reactivated.map(async (id, i) => {
      await pause(i * 5);
      const r = await db.execute(sql`UPDATE users SET deactivated_at = NULL WHERE id = ${id} RETURNING id`);
      return { id, applied: r.rows.length === 1 };
    });
    const report = runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW() });
    const applied = await Promise.all(updates);
    await report;
    const remaining = new Set((await q<{ id: string }>(db, sql`SELECT id FROM users`)).map((r) => r.id));
    // A reactivation that took effect means the user exists; one that found no row came too late.
    for (const a of applied) expect(remaining.has(a.id)).toBe(a.applied);
  });
});
