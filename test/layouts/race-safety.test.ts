/**
 * Race safety (docs/contract.md, §7) with real concurrency, on every shipped layout: the app's
 * transaction runs on its own Postgres connection (Session) while the job runs through the Neon
 * endpoint. These tests fail if the jobs' row locking (FOR UPDATE SKIP LOCKED on the candidate
 * rows, with READ COMMITTED's re-check of the predicate) is removed. The in-flight cases decide
 * the interleaving by the lock the open transaction holds; the many-writers cases let real
 * writers race real runs and check only outcomes (no sleep decides what is asserted).
 */
import { sql } from 'drizzle-orm';
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { APP } from '../../src/app-map/app';
import { fixedBatches, provisionEnv, q, runNamed, Session, type TestEnv, testDb } from '../worker/support';
import {
  countOf,
  idsOf,
  insertRow,
  listedEmpty,
  messagesByChat,
  moveMessages,
  runOn,
  seedAccount,
  sessionDb,
  setDeactivatedAt,
} from './app-rows';

const layout = inject('layout');
const NOW = () => new Date();
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
const user = APP.role('user');
const sqlState = (err: unknown) => String((err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code);

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});

describe(`on the ${layout} layout, a first message racing the empty-chat job`, () => {
  it('is never deleted with its chat when its insert is in flight as the job runs', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW(), { id: 'u', chats: [{ ageMinutes: 60 }, { ageMinutes: 60 }] });
    const app = await Session.open(e);
    try {
      await app.query('BEGIN');
      await insertRow(sessionDb(app), 'message', { id: 'm-race', chatId: 'u-c0' });
      // The whole run happens while the insert is uncommitted (the job never waits on the app).
      const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
      await app.query('COMMIT');
      expect(report.counts.chats).toBe(1); // u-c1 only
    } finally {
      await app.close();
    }
    expect(await messagesByChat(db)).toEqual([{ id: 'm-race', chatId: 'u-c0' }]);
    expect(await idsOf(db, 'chat')).toEqual(['u-c0']);
  });

  it('loses no committed message when many first messages land while the job deletes', async () => {
    e = await provisionEnv(fixedBatches(5));
    const db = testDb(e);
    const { chatIds } = await seedAccount(db, NOW(), { id: 'u', chats: Array.from({ length: 60 }, () => ({ ageMinutes: 60 })) });
    await insertRow(db, 'message', { id: 'warm-up', chatId: chatIds[1]! }); // reads the table's required columns once, before the race
    // Every other chat gets a first message, each in its own transaction, racing three job runs.
    const inserts = chatIds
      .filter((_, i) => i % 2 === 0)
      .map(async (chatId, i) => {
        await pause(i * 3);
        try {
          await insertRow(db, 'message', { id: `m-${chatId}`, chatId });
          return { chatId, committed: true };
        } catch (err) {
          // The job deleted the chat first: the app is told (foreign key violation), nothing is lost.
          expect(sqlState(err)).toBe('23503');
          return { chatId, committed: false };
        }
      });
    const runs = [0, 40, 80].map(async (delay) => {
      await pause(delay);
      return runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
    });
    const outcomes = await Promise.all(inserts);
    await Promise.all(runs);

    const messages = new Set((await messagesByChat(db)).map((r) => r.chatId));
    const chats = new Set(await idsOf(db, 'chat'));
    for (const o of outcomes) {
      expect(messages.has(o.chatId)).toBe(o.committed);
      if (o.committed) expect(chats.has(o.chatId)).toBe(true);
    }
  });
});

describe(`on the ${layout} layout, a chat listed as empty while it holds a message (a stale row the job heals)`, () => {
  it('keeps it listed while its last message is being deleted as the job runs, and deletes it once that commits', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW(), { id: 'u', chats: [{ ageMinutes: 60, messages: 1 }] });
    await q(db, sql`INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at) VALUES ('u-c0', now() - interval '60 minutes')`);
    const message = APP.role('message');
    const app = await Session.open(e);
    try {
      await app.query('BEGIN');
      // The delete's trigger finds the chat already listed and adds nothing.
      await runOn(app, sql`DELETE FROM ${message.table} WHERE ${message.id} = 'u-c0-m0'`);
      // The whole run happens while the delete is uncommitted (the job never waits on the app).
      const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
      await app.query('COMMIT');
      // The message is still there in the job's snapshot: not deleted, and not healed either.
      expect(report.counts.chats).toBe(0);
    } finally {
      await app.close();
    }
    expect(await listedEmpty(db)).toEqual(['u-c0']);
    expect((await runNamed(e, 'delete-stale-empty-chats', { now: NOW() })).counts.chats).toBe(1);
    expect(await idsOf(db, 'chat')).toEqual([]);
  });
});

describe(`on the ${layout} layout, a message moved into an empty chat racing the empty-chat job`, () => {
  it('never deletes the chat while the move is in flight, and lists the chat it left once it commits', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW(), { id: 'u', chats: [{ ageMinutes: 60, messages: 1 }, { ageMinutes: 60 }] });
    const app = await Session.open(e);
    try {
      await app.query('BEGIN');
      await runOn(app, moveMessages(['u-c0-m0'], 'u-c1'));
      // The whole run happens while the move is uncommitted (the job never waits on the app).
      const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
      await app.query('COMMIT');
      // u-c1 is skipped (the move holds its row, KEY SHARE for the foreign key, and its empty_chats
      // row); u-c0 was not empty in the job's snapshot.
      expect(report.counts.chats).toBe(0);
    } finally {
      await app.close();
    }
    expect(await messagesByChat(db)).toEqual([{ id: 'u-c0-m0', chatId: 'u-c1' }]);
    expect(await idsOf(db, 'chat')).toEqual(['u-c0', 'u-c1']);
    // After the commit the list is true: the chat moved into is off it, the one left empty is on it.
    expect(await listedEmpty(db)).toEqual(['u-c0']);
    expect((await runNamed(e, 'delete-stale-empty-chats', { now: NOW() })).counts.chats).toBe(1);
    expect(await idsOf(db, 'chat')).toEqual(['u-c1']);
  });

  it('loses no committed message when many moves into old empty chats land while the job deletes', async () => {
    e = await provisionEnv({ EMPTY_CHAT_BATCH_SIZE: '10000' });
    const db = testDb(e);
    // The job's one statement locks 4000 older empty chats before it reaches the targets: a window
    // after its snapshot in which a committed move is invisible to its NOT EXISTS, and only the
    // move's delete of the target's empty_chats row makes the lock drop the chat. Without the
    // move trigger, moved messages are deleted with their chats here (2 to 19 of 150 in each of
    // 7 trials, on snake-plural).
    await seedAccount(db, NOW(), { id: 'f', chats: Array.from({ length: 4000 }, () => ({ ageMinutes: 120 })) });
    const s = await seedAccount(db, NOW(), {
      id: 'u',
      chats: [{ ageMinutes: 1, messages: 150 }, ...Array.from({ length: 150 }, () => ({ ageMinutes: 60 }))],
    });
    const moves = s.messageIds.map(async (id, i) => {
      const to = s.chatIds[i + 1]!;
      await pause(i * 1.5);
      try {
        const r = await db.execute(moveMessages([id], to));
        return { id, to, committed: r.rows.length === 1 };
      } catch (err) {
        // The job deleted the chat first: the app is told (foreign key violation), nothing is lost.
        expect(sqlState(err)).toBe('23503');
        return { id, to, committed: false };
      }
    });
    await pause(20);
    await runNamed(e, 'delete-stale-empty-chats', { now: NOW() });
    const outcomes = await Promise.all(moves);

    const chatOf = new Map((await messagesByChat(db)).map((r) => [r.id, r.chatId]));
    expect(outcomes.filter((o) => o.committed && chatOf.get(o.id) !== o.to)).toEqual([]);
  });
});

describe(`on the ${layout} layout, a reactivation racing the account job`, () => {
  it('never deletes a user whose reactivation is in flight as the job runs', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW(), { id: 'back', deactivatedDaysAgo: 45, chats: [{ ageMinutes: 10, messages: 1 }] });
    await seedAccount(db, NOW(), { id: 'gone', deactivatedDaysAgo: 45 });
    const app = await Session.open(e);
    try {
      await app.query('BEGIN');
      await runOn(app, setDeactivatedAt('back', null));
      // The whole run happens while the reactivation is uncommitted (the job never waits on the app).
      const run = await runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW() });
      await app.query('COMMIT');
      expect(run.counts.users).toBe(1);
    } finally {
      await app.close();
    }
    expect(await q(db, sql`SELECT ${user.id} AS id, ${user.col('deactivatedAt')} AS at FROM ${user.table}`)).toEqual([
      { id: 'back', at: null },
    ]);
    expect(await countOf(db, 'message')).toBe(1);
  });

  it('never deletes a user reactivated by a transaction that committed after the job took its snapshot', async () => {
    e = await provisionEnv(fixedBatches(1));
    const db = testDb(e);
    for (let i = 0; i < 20; i++) await seedAccount(db, NOW(), { id: `u${String(i).padStart(2, '0')}`, deactivatedDaysAgo: 40 + i });
    // Reactivate the odd users one by one while the job works through the batch-of-one loop.
    const reactivated = Array.from({ length: 10 }, (_, i) => `u${String(i * 2 + 1).padStart(2, '0')}`);
    const updates = reactivated.map(async (id, i) => {
      await pause(i * 5);
      const r = await db.execute(setDeactivatedAt(id, null));
      return { id, applied: r.rows.length === 1 };
    });
    const report = runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW() });
    const applied = await Promise.all(updates);
    await report;
    const remaining = new Set(await idsOf(db, 'user'));
    // A reactivation that took effect means the user exists; one that found no row came too late.
    for (const a of applied) expect(remaining.has(a.id)).toBe(a.applied);
  });
});
