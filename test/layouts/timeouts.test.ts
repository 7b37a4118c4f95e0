/**
 * An account whose deletion outlasts the statement timeout (review item 8), on every shipped
 * layout through the map. Its cascade is made slow deterministically: a test-only trigger on the
 * chat table waits, for that account's chats only, on an advisory lock a session of the test
 * holds, so its delete cannot finish until the test releases it. Nothing is timed by a sleep: the
 * only clock is Postgres's STATEMENT_TIMEOUT_MS (short here), which ends every attempt that
 * includes the slow account, whatever the machine's speed.
 */
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { APP } from '../../src/app-map/app';
import { provisionEnv, q, runNamed, Session, type TestEnv, testDb } from '../worker/support';
import { idsOf, insertRow, insertUser, seedChatWithFiles } from './app-rows';

const DAY = 86_400_000;
const LOCK = 8_008;
const JOB = 'delete-stale-deactivated-accounts';
const layout = inject('layout');
const chat = APP.role('chat');

describe(`on the ${layout} layout, an account whose deletion outlasts STATEMENT_TIMEOUT_MS`, () => {
  let e: TestEnv;
  let db: ReturnType<typeof testDb>;
  const now = new Date();
  const ago = (days: number, minutes = 0) => new Date(now.getTime() - days * DAY - minutes * 60_000);

  beforeAll(async () => {
    // Batches of 4 accounts, fixed; every statement of a batch ends after 1.5 s on the server.
    e = await provisionEnv({ BATCH_TARGET_MS: '0', DELETE_BATCH_SIZE: '4', STATEMENT_TIMEOUT_MS: '1500' });
    db = testDb(e);
    const userId = `"${chat.colName('userId')}"`;
    await db.execute(
      sql.raw(`CREATE FUNCTION "${APP.schema}".test_slow_chat_delete() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.${userId}::text = 'slow' THEN PERFORM pg_advisory_xact_lock(${LOCK}); END IF;
          RETURN OLD;
        END $$`),
    );
    await db.execute(
      sql.raw(`CREATE TRIGGER test_slow_chat_delete BEFORE DELETE ON "${APP.schema}"."${chat.name}"
        FOR EACH ROW EXECUTE FUNCTION "${APP.schema}".test_slow_chat_delete()`),
    );
  });

  it('sets the slow one aside with an alarm naming it, deletes the rest in the same run, and never commits it late', async () => {
    // 'slow' is the oldest, so it is in the first batch with three others; six fast accounts in all.
    await insertUser(db, 'slow', ago(41));
    for (let i = 0; i < 3; i++) await seedChatWithFiles(db, { userId: 'slow', chatId: `slow-c${i}`, createdAt: ago(50), files: [] });
    const fast = ['f1', 'f2', 'f3', 'f4', 'f5', 'f6'];
    for (const [i, id] of fast.entries()) {
      await insertUser(db, id, ago(40, -i));
      await seedChatWithFiles(db, { userId: id, chatId: `${id}-c`, createdAt: ago(50), files: [] });
    }
    await insertUser(db, 'live', null);
    await insertRow(db, 'chat', { id: 'live-c', userId: 'live', createdAt: ago(1) });

    const holder = await Session.open(e);
    const watch = await Session.open(e);
    try {
      await holder.query(`SELECT pg_advisory_lock(${LOCK})`);
      const report = await runNamed(e, JOB, { now });

      // The run succeeds: every fast account is gone with its chat, in this one run.
      expect(report).toMatchObject({ status: 'succeeded', more: false, counts: { users: fast.length, chats: fast.length } });
      expect(await idsOf(db, 'user')).toEqual(['live', 'slow']);
      expect(await idsOf(db, 'chat')).toEqual(['live-c', 'slow-c0', 'slow-c1', 'slow-c2']);
      // Set aside, by Postgres's own timeout (57014), not the client's 10 s abort.
      const [aside] = await q<{ user_id: string; batch_size: number; set_aside: boolean; run_id: string; last_error: string }>(
        db,
        sql`SELECT user_id, batch_size, set_aside_at IS NOT NULL AS set_aside, run_id, last_error FROM spacerr_jobs.slow_accounts`,
      );
      expect(aside).toEqual({
        user_id: 'slow',
        batch_size: 1,
        set_aside: true,
        run_id: report.runId,
        last_error: expect.stringMatching(/cancelled by Postgres after STATEMENT_TIMEOUT_MS \(1500 ms\)/),
      });
      expect(await q(db, sql`SELECT count(*)::int AS n FROM spacerr_jobs.slow_accounts`)).toEqual([{ n: 1 }]);
      expect(report.alarms).toEqual([
        expect.objectContaining({ job: JOB, code: 'accounts_set_aside', count: 1, message: expect.stringContaining(': slow.') }),
      ]);
      // Cancelled on the server: no statement still waits behind the lock to commit once it is free.
      const waiting = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'`;
      expect(await watch.query(waiting)).toEqual([{ n: 0 }]);

      // A later run leaves it out: no batch waits on it again (the lock is still held), nothing to do.
      const again = await runNamed(e, JOB, { now });
      expect(again).toMatchObject({ status: 'succeeded', more: false, counts: { users: 0 } });
      expect(again.alarms?.[0]?.code).toBe('accounts_set_aside');
      expect((await q<{ run_id: string }>(db, sql`SELECT run_id FROM spacerr_jobs.slow_accounts`))[0]?.run_id).toBe(report.runId);
    } finally {
      await holder.query(`SELECT pg_advisory_unlock(${LOCK})`);
      await Promise.all([holder.close(), watch.close()]);
    }
    // Released: still there, so no attempt the Worker gave up on committed behind its back.
    expect(await idsOf(db, 'user')).toEqual(['live', 'slow']);
    expect((await idsOf(db, 'chat')).filter((c) => c.startsWith('slow-'))).toEqual(['slow-c0', 'slow-c1', 'slow-c2']);

    // The operator deletes it in steps: its chats first, then the user, and the alarm clears.
    const steps = await runNamed(e, JOB, { now, target: 'slow' });
    expect(steps).toMatchObject({ status: 'succeeded', more: false, counts: { users: 1, chats: 3, messages: 3 } });
    expect(steps.alarms).toBeUndefined();
    expect(await idsOf(db, 'user')).toEqual(['live']);
    expect(await idsOf(db, 'chat')).toEqual(['live-c']);
    expect(await q(db, sql`SELECT user_id FROM spacerr_jobs.slow_accounts`)).toEqual([]);
  });

  it('refuses to delete in steps an account that is not due (a live user keeps everything)', async () => {
    const report = await runNamed(e, JOB, { now, target: 'live' });
    expect(report).toMatchObject({ status: 'failed', error: expect.stringMatching(/account live is not due for deletion/) });
    expect(await idsOf(db, 'user')).toContain('live');
    expect(await idsOf(db, 'chat')).toContain('live-c');
  });
});
