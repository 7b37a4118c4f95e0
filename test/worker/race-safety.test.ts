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
      const run = runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
      await pause(300); // the job reaches u-c0 while the insert is uncommitted
      await app.query('COMMIT');
      const report = await run;
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

describe('a reactivation racing the account job', () => {
  it('never deletes a user whose reactivation is in flight as the job runs', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW(), { id: 'back', deactivatedDaysAgo: 45, chats: [{ ageMinutes: 10, messages: 1 }] });
    await seedAccount(db, NOW(), { id: 'gone', deactivatedDaysAgo: 45 });
    const app = await Session.open(e);
    try {
      await app.query('BEGIN');
      await app.query(`UPDATE users SET deactivated_at = NULL WHERE id = 'back'`);
      const run = runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW() });
      await pause(300);
      await app.query('COMMIT');
      expect((await run).counts.users).toBe(1);
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
