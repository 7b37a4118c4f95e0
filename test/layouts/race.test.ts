/**
 * Races between the app's own transactions that decide whether a chat is empty, forced at known
 * points: one transaction holds its change open (a real Postgres session), the other is sent, and
 * the test waits until Postgres shows it waiting for a lock, or finished, before the first
 * commits. No sleep decides anything. Run on every shipped layout, through the map.
 */
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { APP } from '../../src/app-map/app';
import { provisionEnv, q, runNamed, Session, type TestEnv, testDb } from '../worker/support';
import { insertRow, insertUser, runOn, sessionDb } from './app-rows';

const DAY = 86_400_000;
const layout = inject('layout');
const chat = APP.role('chat');
const message = APP.role('message');

/** Resolves once `pending` settled or the session with `pid` waits for a lock (polled, bounded). */
async function blockedOrDone(watch: Session, pid: number, pending: Promise<unknown>): Promise<'blocked' | 'done'> {
  let settled = false;
  void pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 2000; i++) {
    if (settled) return 'done';
    const [row] = await watch.query<{ w: string | null }>(`SELECT wait_event_type AS w FROM pg_stat_activity WHERE pid = $1`, [pid]);
    if (row?.w === 'Lock') return 'blocked';
  }
  throw new Error('the second transaction neither finished nor waited for a lock');
}

describe(`on the ${layout} layout, the last message of a chat deleted while another is being saved`, () => {
  let e: TestEnv;
  let db: ReturnType<typeof testDb>;
  const now = new Date();

  beforeAll(async () => {
    e = await provisionEnv({ BATCH_TARGET_MS: '0' });
    db = testDb(e);
    await insertUser(db, 'racer');
  });

  /** Whether `chatId` is listed as empty, and how many messages it holds. */
  const state = async (chatId: string) => {
    const [row] = await q<{ listed: boolean; messages: number }>(
      db,
      sql`SELECT EXISTS (SELECT 1 FROM spacerr_jobs.empty_chats WHERE chat_id = ${chatId}) AS listed,
                 (SELECT count(*)::int FROM ${message.table} WHERE ${message.col('chatId')} = ${chatId}) AS messages`,
    );
    return row;
  };

  for (const first of ['delete', 'insert'] as const) {
    it(`never lists the chat as empty while it holds a committed message (${first} first)`, async () => {
      const chatId = `race-${first}`;
      await insertRow(db, 'chat', { id: chatId, userId: 'racer', createdAt: new Date(now.getTime() - DAY) });
      await insertRow(db, 'message', { id: `${chatId}-m1`, chatId });
      const deleting = await Session.open(e);
      const inserting = await Session.open(e);
      const watch = await Session.open(e);
      try {
        const [holder, waiter] = first === 'delete' ? [deleting, inserting] : [inserting, deleting];
        const [{ pid }] = (await waiter.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`)) as [{ pid: number }];
        const deleteLast = () => runOn(deleting, sql`DELETE FROM ${message.table} WHERE ${message.id} = ${`${chatId}-m1`}`);
        const saveNext = () =>
          insertRow(sessionDb(inserting), 'message', {
            id: `${chatId}-m2`,
            chatId,
            ...(message.has('parts') ? { parts: JSON.stringify([{ type: 'text', text: 'streamed reply' }]) } : {}),
          });
        await holder.query('BEGIN');
        await (first === 'delete' ? deleteLast() : saveNext());
        await waiter.query('BEGIN');
        const second = first === 'delete' ? saveNext() : deleteLast();
        // The first commits only once the second is under way: waiting for it, or done.
        await blockedOrDone(watch, pid, second);
        await holder.query('COMMIT');
        await second;
        await waiter.query('COMMIT');
      } finally {
        await Promise.all([deleting.close(), inserting.close(), watch.close()]);
      }

      expect(await state(chatId)).toEqual({ listed: false, messages: 1 });
      // And the empty-chat job, which trusts the list, keeps the chat and its message.
      await runNamed(e, 'delete-stale-empty-chats', { now });
      expect(await q(db, sql`SELECT ${chat.id} AS id FROM ${chat.table} WHERE ${chat.id} = ${chatId}`)).toEqual([{ id: chatId }]);
      expect((await state(chatId))?.messages).toBe(1);
    });
  }
});
