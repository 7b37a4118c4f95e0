/**
 * Legal holds (src/db/holds.ts) through the jobs' real runs against the real stack, the rows
 * written through the app map: a held account and everything it owns stay whatever their age, the
 * listing and the dry run show it, the deadline does not count it, an ended hold lets it go at the
 * next run (with account events on, only at the run its notice names), and a hold placed while a
 * batch waits on a lock the test holds is honoured by the next batch.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { APP } from '../../src/app-map/app';
import { heldOwner, liftHold, listHolds, placeHold } from '../../src/db/holds';
import { fromEnv } from '../../src/deps';
import { alarmsAt, backlogAt } from '../../src/run/alarms';
import { JOBS } from '../../src/jobs';
import { insertRow, runOn, seedAccount } from '../layouts/app-rows';
import { EVENTS_SECRET, fixedBatches, provisionEnv, q, receiverUrl, runNamed, Session, sql, type TestEnv, testDb } from './support';

const ACCOUNTS = 'delete-stale-deactivated-accounts';
const EMPTY = 'delete-stale-empty-chats';
const EVENTS = 'deliver-account-events';
const at = (s: string) => new Date(s);
const user = APP.role('user');
const chat = APP.role('chat');
const message = APP.role('message');

/** Everything an account owns that the seed writes: its user row, chats and their messages. */
async function owned(e: TestEnv, userId: string) {
  const [row] = await q<{ users: number; chats: number; messages: number }>(
    testDb(e),
    sql`SELECT (SELECT count(*)::int FROM ${user.table} WHERE ${user.id} = ${userId}) AS users,
               (SELECT count(*)::int FROM ${chat.table} WHERE ${chat.col('userId')} = ${userId}) AS chats,
               (SELECT count(*)::int FROM ${message.table} m JOIN ${chat.table} c ON c.${chat.id} = m.${message.col('chatId')}
                WHERE c.${chat.col('userId')} = ${userId}) AS messages`,
  );
  return row!;
}

/** An account deactivated at `deactivatedAt` with a chat of two messages and an empty chat, both old. */
const seedOld = (e: TestEnv, id: string, deactivatedAt: Date, now: Date) =>
  seedAccount(testDb(e), now, { id, deactivatedAt, chats: [{ ageMinutes: 100_000, messages: 2 }, { ageMinutes: 100_000 }] });

describe('a legal hold on an account past retention', () => {
  let e: TestEnv;
  beforeEach(async () => {
    e = await provisionEnv(fixedBatches(10));
  });

  it('keeps the account and all it owns, is shown held (not overdue), and lets it go at the first run after it expires', async () => {
    const april = at('2026-04-01T00:00:00Z');
    await seedOld(e, 'held', at('2025-01-10T00:00:00Z'), april);
    await seedOld(e, 'free', at('2025-01-10T00:00:00Z'), april);
    const hold = await placeHold(
      testDb(e),
      { userId: 'held', reason: 'chargeback dispute', by: 'legal', until: at('2026-06-01T00:00:00Z') },
      at('2026-03-01T00:00:00Z'),
    );
    expect(hold).toEqual({
      userId: 'held',
      reason: 'chargeback dispute',
      by: 'legal',
      since: '2026-03-01T00:00:00.000Z',
      until: '2026-06-01T00:00:00.000Z',
    });

    const dry = await runNamed(e, ACCOUNTS, { now: april, dryRun: true });
    expect(dry.counts).toMatchObject({ users: 1, chats: 2, messages: 2, held: 1 });
    const run = await runNamed(e, ACCOUNTS, { now: april });
    expect(run).toMatchObject({ status: 'succeeded', counts: { users: 1, chats: 2, messages: 2 } });
    expect(await owned(e, 'held')).toEqual({ users: 1, chats: 2, messages: 2 });
    expect(await owned(e, 'free')).toEqual({ users: 0, chats: 0, messages: 0 });
    // An operator's run for that one account (`--account`) refuses it too.
    const steps = await runNamed(e, ACCOUNTS, { now: april, target: 'held' });
    expect(steps).toMatchObject({ status: 'failed', error: expect.stringContaining('under a legal hold') });
    expect(await owned(e, 'held')).toEqual({ users: 1, chats: 2, messages: 2 });

    // Two days after the run (past DEADLINE_GRACE_HOURS): held, not overdue; no alarm stands.
    const later = { config: fromEnv(e).config, now: at('2026-04-03T00:00:00Z') };
    const backlog = await backlogAt(testDb(e), JOBS, later);
    expect(backlog.byJob.get(ACCOUNTS)).toMatchObject({ eligible: 0, held: 1, overdue: 0 });
    expect(await alarmsAt(testDb(e), JOBS, later)).toEqual([]);

    // Its empty chat stays too, whatever its age.
    expect((await runNamed(e, EMPTY, { now: april })).counts.chats).toBe(0);
    expect(await owned(e, 'held')).toEqual({ users: 1, chats: 2, messages: 2 });

    // The hold ends at 2026-06-01T00:00: the run of that instant deletes the account, and its hold record.
    expect((await runNamed(e, ACCOUNTS, { now: at('2026-05-01T00:00:00Z') })).counts.users).toBe(0);
    expect((await runNamed(e, ACCOUNTS, { now: at('2026-06-01T00:00:00Z') })).counts).toMatchObject({ users: 1, chats: 2 });
    expect(await owned(e, 'held')).toEqual({ users: 0, chats: 0, messages: 0 });
    expect(await listHolds(testDb(e))).toEqual([]);
  });

  it('keeps an active account’s empty chats until the hold is lifted', async () => {
    const now = at('2026-04-01T00:00:00Z');
    await seedAccount(testDb(e), now, { id: 'keeper', chats: [{ ageMinutes: 60 }, { ageMinutes: 60, messages: 1 }] });
    await seedAccount(testDb(e), now, { id: 'other', chats: [{ ageMinutes: 60 }] });
    await placeHold(testDb(e), { userId: 'keeper', reason: 'fraud investigation' }, now);
    expect((await runNamed(e, EMPTY, { now, dryRun: true })).counts.chats).toBe(1);
    expect((await runNamed(e, EMPTY, { now })).counts.chats).toBe(1);
    expect(await owned(e, 'keeper')).toEqual({ users: 1, chats: 2, messages: 1 });
    expect(await owned(e, 'other')).toMatchObject({ chats: 0 });

    expect(await liftHold(testDb(e), 'keeper')).toBe(true);
    expect(await liftHold(testDb(e), 'keeper')).toBe(false);
    const [ended] = await listHolds(testDb(e));
    expect(ended).toMatchObject({ userId: 'keeper', until: expect.any(String) });
    // A second past the lift: the hold ended at Postgres's clock (microseconds), and a run's `now`
    // is the Worker's, in milliseconds, which can fall inside the same millisecond.
    expect((await runNamed(e, EMPTY, { now: new Date(Date.now() + 1000) })).counts.chats).toBe(1);
    expect(await owned(e, 'keeper')).toEqual({ users: 1, chats: 1, messages: 1 });
  });

  // Where the layout's chats live in projects that cascade: erasing the owner would take the held guest's chat.
  const projectCascades =
    APP.has('project') &&
    chat.has('projectId') &&
    APP.map.relations.some((r) => r.table === chat.name && r.columns[0] === chat.colName('projectId') && r.onDelete === 'CASCADE');
  if (projectCascades) {
    it('keeps another stale account out when erasing it would cascade into the held account’s chat', async () => {
      const now = at('2026-04-01T00:00:00Z');
      const owner = await seedAccount(testDb(e), now, { id: 'owner', deactivatedAt: at('2025-01-10T00:00:00Z') });
      await seedAccount(testDb(e), now, { id: 'guest', deactivatedAt: at('2025-01-10T00:00:00Z') });
      await insertRow(testDb(e), 'chat', { id: 'guest-in-project', userId: 'guest', projectId: owner.projectId, createdAt: now });
      await insertRow(testDb(e), 'message', { id: 'guest-in-project-m', chatId: 'guest-in-project' });
      await placeHold(testDb(e), { userId: 'guest', reason: 'legal request' }, now);
      expect((await runNamed(e, ACCOUNTS, { now })).counts.users).toBe(0);
      expect(await owned(e, 'guest')).toEqual({ users: 1, chats: 1, messages: 1 });
      expect(await owned(e, 'owner')).toMatchObject({ users: 1 });
    });
  }
});

describe('a hold placed while a batch runs', () => {
  it('is honoured by the next batch; the batch under way deletes its account whole', async () => {
    const e = await provisionEnv(fixedBatches(1));
    const now = at('2026-04-01T00:00:00Z');
    await seedOld(e, 'first', at('2025-01-01T00:00:00Z'), now); // oldest: the first batch takes it
    await seedOld(e, 'second', at('2025-01-02T00:00:00Z'), now);
    const app = await Session.open(e);
    const watch = await Session.open(e);
    try {
      // The app holds a row of the first account's cascade: the first batch waits for it.
      await app.query('BEGIN');
      await runOn(app, sql`SELECT 1 FROM ${chat.table} WHERE ${chat.id} = 'first-c0' FOR UPDATE`);
      const running = runNamed(e, ACCOUNTS, { now });
      await waitForLockWait(watch);
      // While the batch waits: both accounts are put under hold.
      await placeHold(testDb(e), { userId: 'second', reason: 'placed mid-run' }, now);
      await placeHold(testDb(e), { userId: 'first', reason: 'placed mid-batch' }, now);
      await app.query('COMMIT');
      const report = await running;
      expect(report).toMatchObject({ status: 'succeeded', counts: { users: 1, chats: 2, messages: 2 } });
    } finally {
      await app.close();
      await watch.close();
    }
    // The batch under way had chosen and locked `first` before its hold: deleted whole. The next
    // batch read the holds and took nothing.
    expect(await owned(e, 'first')).toEqual({ users: 0, chats: 0, messages: 0 });
    expect(await owned(e, 'second')).toEqual({ users: 1, chats: 2, messages: 2 });
  });
});

/** Resolves once a backend of the database waits for a lock (the job's batch); bounded polling, no sleep. */
async function waitForLockWait(watch: Session) {
  for (let i = 0; i < 2000; i++) {
    const rows = await watch.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`,
    );
    if (rows.length > 0) return;
  }
  throw new Error('the batch never waited for the lock the test holds');
}

describe('legal holds with account events on', () => {
  it('sends no deletion notice while held; after the hold ends, the account waits DELETION_NOTICE_DAYS for the run its notice names', async () => {
    const e = await provisionEnv({ ACCOUNT_EVENTS_URL: await receiverUrl(), ACCOUNT_EVENTS_SECRET: EVENTS_SECRET } as Partial<
      Record<keyof Env, unknown>
    >);
    const march28 = at('2026-03-28T12:00:00Z'); // the next account run, 2026-04-01, is 3.5 days away
    await seedOld(e, 'held', at('2026-02-20T08:00:00Z'), march28); // deleteAfter 03-22: the run of 04-01
    await placeHold(testDb(e), { userId: 'held', reason: 'dispute', until: at('2026-03-30T00:00:00Z') }, march28);
    const notices = () =>
      q<{ run: string }>(
        testDb(e),
        sql`SELECT data->>'scheduledDeletionAt' AS run FROM spacerr_jobs.account_events
            WHERE user_id = 'held' AND type = 'account.deletion_scheduled'`,
      );

    expect((await runNamed(e, EVENTS, { now: march28 })).counts).toMatchObject({ notices: 0 });
    // The hold has ended: the notice names the first run more than 7 days (DELETION_NOTICE_DAYS) away.
    expect((await runNamed(e, EVENTS, { now: at('2026-03-30T00:10:00Z') })).counts).toMatchObject({ notices: 1, delivered: 1 });
    expect(await notices()).toEqual([{ run: '2026-05-01T00:00:00.000Z' }]);
    expect((await runNamed(e, ACCOUNTS, { now: at('2026-04-01T00:00:00Z') })).counts.users).toBe(0);
    expect(await owned(e, 'held')).toEqual({ users: 1, chats: 2, messages: 2 });
    expect((await runNamed(e, ACCOUNTS, { now: at('2026-05-01T00:00:00Z') })).counts.users).toBe(1);
    expect(await owned(e, 'held')).toEqual({ users: 0, chats: 0, messages: 0 });
  });
});

describe('heldOwner, the fragment an outbox claim adds for its owner_id', () => {
  it('is true only for an owner under an active hold at the instant given (never for NULL, an ended or another owner)', async () => {
    const e = await provisionEnv();
    const db = testDb(e);
    const now = at('2026-04-01T00:00:00Z');
    await placeHold(db, { userId: 'held', reason: 'r' }, now);
    await placeHold(db, { userId: 'until-may', reason: 'r', until: at('2026-05-01T00:00:00Z') }, now);
    const claimable = async (instant: Date) =>
      (
        await q<{ owner: string | null }>(
          db,
          sql`SELECT d.owner_id AS owner FROM (VALUES ('held'), ('until-may'), ('free'), (NULL)) d(owner_id)
              WHERE NOT ${heldOwner(sql`d.owner_id`, sql`${instant.toISOString()}::timestamptz`)} ORDER BY 1`,
        )
      ).map((r) => r.owner);
    expect(await claimable(now)).toEqual(['free', null]);
    expect(await claimable(at('2026-05-01T00:00:00Z'))).toEqual(['free', 'until-may', null]);
  });
});
