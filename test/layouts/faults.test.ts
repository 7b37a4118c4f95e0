/**
 * Dependencies failing for real, on every shipped layout: the file's own Neon and Upstash
 * endpoints answer 500, hang, drop the connection, or run a request to its COMMIT and drop the
 * reply (`commit-then-drop`), each at a known request (counted, never timed); a Postgres backend
 * is terminated in the middle of a DELETE held at a lock. Whatever happens, every chat is either
 * deleted with its cascade and outbox entries or untouched, the failure is reported (recorded
 * `failed` with a clear error and one error log line), and the next healthy run finishes the work.
 *
 * The dataset is one user's N stale empty chats with one file each where the layout can hold a
 * file in a chat without messages (an attachments table, snake-plural); on the others an empty
 * chat has nothing to cascade to, and "whole or gone" is the chat alone, with nothing queued.
 * The blob outbox's own faults (R2 throwing, a lost reply to the claim) are layout-free:
 * test/worker/faults-blobs.test.ts.
 */
import { afterEach, beforeEach, describe, expect, inject, it, type MockInstance, vi } from 'vitest';
import { APP } from '../../src/app-map/app';
import { ACTIVE_STREAMS_KEY, streamKey } from '../../src/redis/streams';
import type { RunReport } from '../../src/run/report';
import {
  drain,
  expectRecordedAndUnlocked,
  expectRecordedFailure,
  fixedBatches,
  provisionEnv,
  q,
  runNamed,
  Session,
  setFault,
  sql,
  type TestEnv,
  testDb,
  testRedis,
} from '../worker/support';
import { idsOf, queuedKeys, seedAccount, wholeOrGone as wholeOrGoneOf } from './app-rows';

const layout = inject('layout');
const NOW = new Date('2026-11-01T12:00:00.000Z');
const JOB = 'delete-stale-empty-chats';
const chat = APP.role('chat');
const withFiles = APP.has('attachment');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let e: TestEnv;
let errors: MockInstance;
beforeEach(async () => {
  e = await provisionEnv(fixedBatches(1));
  errors = vi.spyOn(console, 'error').mockImplementation(() => {});
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

/** User `u`'s `n` chats an hour old, a file each where the layout can record one (`blobs/u-c<i>-a0`). */
const seedChats = (n: number, env = e) =>
  seedAccount(testDb(env), NOW, { id: 'u', chats: Array.from({ length: n }, () => ({ ageMinutes: 60, files: 1 })) });
/** Asserts each chat is whole or gone; returns how many are gone. */
const wholeOrGone = (n: number) => wholeOrGoneOf(testDb(e), 'u', n, true);
/** How many files the outbox holds: one per deleted chat where they have files, else none. */
const queuedFor = (chats: number) => (withFiles ? chats : 0);

/** A fresh env of `n` chats whose request number `after + 1` on gets `fault`, `after` counted on a twin env as the one before the finishing request. */
async function atFinishingRequest(n: number, fault: 'http500' | 'commit-then-drop', count: number) {
  await seedChats(n);
  const { subrequests } = await runNamed(e, JOB, { now: NOW });
  e = await provisionEnv(fixedBatches(1));
  await seedChats(n);
  await setFault(e, 'neon', fault, { afterRequests: subrequests - 1, count });
  return runNamed(e, JOB, { now: NOW });
}

describe(`on the ${layout} layout, Postgres behind the Neon endpoint failing`, () => {
  const N = 60;

  it('down before the run: the run fails with a clear error, deletes nothing; the next healthy run does the work', async () => {
    await seedChats(N);
    await setFault(e, 'neon', 'http500');
    const failed = await runNamed(e, JOB, { now: NOW });
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringMatching(/HTTP status 500/) });
    await setFault(e, 'neon', 'none');
    expect(await wholeOrGone(N)).toBe(0);
    let deleted = 0;
    for (let more = true; more;) {
      const ok = await runNamed(e, JOB, { now: NOW });
      expect(ok.status).toBe('succeeded');
      deleted += ok.counts.chats ?? 0;
      more = ok.more;
    }
    expect(deleted).toBe(N);
    expect(await wholeOrGone(N)).toBe(N);
  });

  for (const fault of ['http500', 'reset'] as const) {
    it(`${fault} mid-run, between batches: no half-done batch, the run fails, a later run completes`, async () => {
      const db = testDb(e);
      await seedChats(N);
      // Request 1 takes the lock and 2-4 are three one-row batches; from the 5th request on, the
      // endpoint fails (retries included) until told otherwise. Counted, never timed: the run
      // cannot finish before the fault lands.
      await setFault(e, 'neon', fault, { afterRequests: 4 });
      const report = await runNamed(e, JOB, { now: NOW });
      await setFault(e, 'neon', 'none');
      expect(report.status).toBe('failed');
      expect(await wholeOrGone(N)).toBe(3);
      // The failed run could not record its end while Postgres was down: its lock is held until
      // the lease runs out. Fast-forward that lease instead of waiting for it.
      const [row] = await q<{ status: string }>(db, sql`SELECT status FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`);
      expect(['running', 'failed']).toContain(row?.status);
      await db.execute(sql`UPDATE spacerr_jobs.job_runs SET lease_until = now() - interval '1 second' WHERE status = 'running'`);
      let next = await runNamed(e, JOB, { now: NOW });
      while (next.more) next = await runNamed(e, JOB, { now: NOW });
      expect(next.status).toBe('succeeded');
      expect(await wholeOrGone(N)).toBe(N);
    });
  }

  it('a hung endpoint costs a bounded wait, not the invocation', { timeout: 60_000 }, async () => {
    await seedChats(1);
    await setFault(e, 'neon', 'hang');
    const started = Date.now();
    const report = await runNamed(e, JOB, { now: NOW });
    await setFault(e, 'neon', 'none');
    expect(report.status).toBe('failed');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe(`on the ${layout} layout, Postgres failing in the middle of a run`, () => {
  const N = 30;

  it('between batches: every attempt at batch 6 fails; batches 1-5 stand whole, the run is recorded failed', async () => {
    await seedChats(N);
    // Request 1 takes the lock, 2-6 are five one-row batches; the 7th and its two retries fail.
    await setFault(e, 'neon', 'http500', { afterRequests: 6, count: 3 });
    const report = await runNamed(e, JOB, { now: NOW });
    await expectRecordedFailure(e, errors, report, /HTTP status 500/);
    expect(await wholeOrGone(N)).toBe(5);
    await drain(e, JOB, NOW);
    expect(await wholeOrGone(N)).toBe(N);
  });

  it('a transient failure between batches is retried within the budget and the run succeeds', async () => {
    await seedChats(N);
    await setFault(e, 'neon', 'reset', { afterRequests: 4, count: 1 });
    const report = await runNamed(e, JOB, { now: NOW });
    // Without the retry the dropped connection would have failed the run.
    expect(report.status).toBe('succeeded');
    expect(await wholeOrGone(N)).toBe(report.counts.chats);
  });

  it('a request that hangs mid-run times out (10 s), is retried, and the run completes whole', { timeout: 60_000 }, async () => {
    await seedChats(N);
    await setFault(e, 'neon', 'hang', { afterRequests: 4, count: 1 });
    const report = await runNamed(e, JOB, { now: NOW });
    expect(report.status).toBe('succeeded');
    expect(report.counts.chats).toBeGreaterThanOrEqual(3);
    expect(await wholeOrGone(N)).toBe(report.counts.chats);
  });

  it(
    'mid-statement: the backend running the DELETE is terminated; its batch rolls back whole and is retried',
    { timeout: 60_000 },
    async () => {
      await seedChats(N);
      // The app holds the stream queue: the job's DELETE removes its chat (and its file's rows,
      // where it has one) and then waits in the chats' statement trigger, which writes to that
      // queue, in the middle of the statement. (On every layout: the trigger is the Worker's.)
      const app = await Session.open(e);
      const admin = await Session.open(e);
      try {
        await app.query('BEGIN');
        await app.query('LOCK TABLE spacerr_jobs.stream_deletions IN EXCLUSIVE MODE');
        const run = runNamed(e, JOB, { now: NOW });
        let pids: Array<{ pid: number }> = [];
        // Polls Postgres for the job's statement waiting at that lock (bounded): the poll decides nothing.
        for (let i = 0; i < 100 && pids.length === 0; i++) {
          await pause(50);
          pids = await admin.query(
            `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%delete%empty_chats%'`,
          );
        }
        expect(pids).toHaveLength(1);
        await admin.query('SELECT pg_terminate_backend($1)', [pids[0]!.pid]);
        await app.query('COMMIT');
        // The killed statement rolled back whole; its error (SQLSTATE 57P01, admin shutdown) is
        // transient, so the batch is sent again on a fresh backend and the run goes on.
        const report = await run;
        expect(report.status).toBe('succeeded');
        expect(await wholeOrGone(N)).toBe(report.counts.chats);
      } finally {
        await app.close();
        await admin.close();
      }
      await drain(e, JOB, NOW);
      expect(await wholeOrGone(N)).toBe(N);
    },
  );
});

describe(`on the ${layout} layout, Postgres failing as the run finishes`, () => {
  const N = 30;

  it('one failed finishing request is retried: the run is recorded and the lock released', async () => {
    const report = await atFinishingRequest(N, 'http500', 1);
    expect(report).toMatchObject({ status: 'succeeded', more: false });
    const [row] = await q<{ status: string }>(testDb(e), sql`SELECT status FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`);
    expect(row?.status).toBe('succeeded');
    expect((await runNamed(e, JOB, { now: NOW })).status).toBe('succeeded'); // not skipped
  });

  it('the work stands, the run says failed (record), the lock holds until the lease runs out, then the next run takes over', async () => {
    const report = await atFinishingRequest(N, 'http500', 2); // the finishing request and its one retry fail
    expect(report).toMatchObject({ status: 'failed', phase: 'record', error: expect.stringMatching(/could not be recorded/) });
    expect(await wholeOrGone(N)).toBe(N); // the batches committed; only the record failed
    const lines = errors.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ event: 'job_run_record_failed', runId: report.runId }));

    // Within the lease the lock is still held; once it has run out the next run takes over.
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'skipped', heldBy: report.runId });
    await testDb(e).execute(sql`UPDATE spacerr_jobs.job_runs SET lease_until = now() - interval '1 second' WHERE id = ${report.runId}`);
    expect((await runNamed(e, JOB, { now: NOW })).status).toBe('succeeded');
    const [row] = await q<{ status: string }>(testDb(e), sql`SELECT status FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`);
    expect(row?.status).toBe('abandoned');
  });
});

describe(`on the ${layout} layout, a reply lost after its commit`, () => {
  const N = 30;

  it('on the lock: the retry finds the run’s own lock, the run completes, and the lock is released', async () => {
    await seedChats(N);
    await setFault(e, 'neon', 'commit-then-drop', { afterRequests: 0, count: 1 });
    const report = await runNamed(e, JOB, { now: NOW });
    expect(report).toMatchObject({ status: 'succeeded', more: false, counts: { chats: N } });
    expect(await wholeOrGone(N)).toBe(N);
    await expectRecordedAndUnlocked(e, report.runId, 'succeeded');
    expect((await runNamed(e, JOB, { now: NOW })).status).toBe('succeeded'); // not skipped
  });

  it('on a delete batch: its rows are gone whole with their cascade; the retry deletes the next; the report misses that batch', async () => {
    await seedChats(N);
    // Request 1 takes the lock, 2 and 3 are one-row batches; the 3rd batch commits and its reply is lost.
    await setFault(e, 'neon', 'commit-then-drop', { afterRequests: 2, count: 1 });
    const report = await runNamed(e, JOB, { now: NOW });
    expect(report).toMatchObject({ status: 'succeeded', more: false });
    expect(await wholeOrGone(N)).toBe(N); // every chat gone with its file rows, every file queued once
    expect(await queuedKeys(testDb(e))).toHaveLength(queuedFor(N));
    // The batch whose reply was lost deleted its chat, but the run never heard how many rows.
    expect(report.counts.chats).toBe(N - 1);
    await expectRecordedAndUnlocked(e, report.runId, 'succeeded');
  });

  it('on the finishing request: the retry changes nothing, the run is recorded once and the lock is free', async () => {
    const report = await atFinishingRequest(N, 'commit-then-drop', 1);
    expect(report).toMatchObject({ status: 'succeeded', more: false, counts: { chats: N } });
    const [row] = await q<{ counts: Record<string, number> }>(
      testDb(e),
      sql`SELECT counts FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`,
    );
    expect(row?.counts.chats).toBe(N);
    await expectRecordedAndUnlocked(e, report.runId, 'succeeded');
    expect((await runNamed(e, JOB, { now: NOW })).status).toBe('succeeded'); // not skipped
  });
});

describe(`on the ${layout} layout, Redis behind the Upstash endpoint failing`, () => {
  it('fails clear-stale-streams without touching Postgres jobs, and the lock (in Postgres) still holds', async () => {
    const db = testDb(e);
    const redis = testRedis(e);
    await seedAccount(db, NOW, { id: 'gone', deactivatedDaysAgo: 40, chats: [{ ageMinutes: 5, messages: 1 }] });
    await redis.zadd(ACTIVE_STREAMS_KEY, { score: NOW.getTime(), member: 'gone-c0' });
    await redis.set(streamKey('gone-c0'), 's');
    await setFault(e, 'upstash', 'http500');

    const streams = await runNamed(e, 'clear-stale-streams', { now: NOW });
    expect(streams).toMatchObject({ status: 'failed', error: expect.stringMatching(/500|injected/) });
    // The account is deleted (Postgres is fine); its stream cleanup fails and stays queued.
    const accounts = await runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW });
    expect(accounts.status).toBe('failed');
    expect(await idsOf(db, 'user')).toEqual([]);
    expect(await q(db, sql`SELECT chat_id FROM spacerr_jobs.stream_deletions`)).toEqual([{ chat_id: 'gone-c0' }]);
    expect(await q(db, sql`SELECT status FROM spacerr_jobs.job_runs WHERE status = 'running'`)).toEqual([]);

    await setFault(e, 'upstash', 'none');
    expect((await runNamed(e, 'clear-stale-streams', { now: NOW })).status).toBe('succeeded');
    expect(await redis.get(streamKey('gone-c0'))).toBeNull();
    expect(await q(db, sql`SELECT chat_id FROM spacerr_jobs.stream_deletions`)).toEqual([]);
  });

  it('the lock lives in Postgres: racing runs of a Postgres-only job still get one winner; the Redis job fails cleanly', async () => {
    const N = 30;
    await seedChats(N);
    // The app deleted a chat that had streamed: its stream state is queued for clear-stale-streams.
    await seedAccount(testDb(e), NOW, { id: 'app', chats: [{ ageMinutes: 5, messages: 1 }] });
    await testDb(e).execute(sql`DELETE FROM ${chat.table} WHERE ${chat.id} = 'app-c0'`);
    await setFault(e, 'upstash', 'reset');
    const racing = await Promise.all(Array.from({ length: 10 }, () => runNamed(e, JOB, { now: NOW })));
    expect(racing.filter((r) => !['succeeded', 'skipped'].includes(r.status))).toEqual([]);
    const working = racing.filter((r) => (r.counts.chats ?? 0) > 0);
    expect(working.map((r) => r.counts.chats)).toEqual([N]); // one run did all the work, once
    expect(await wholeOrGone(N)).toBe(N);

    const streams = await runNamed(e, 'clear-stale-streams', { now: NOW });
    await expectRecordedFailure(e, errors, streams, /.+/);
    const queued = async () => (await q(testDb(e), sql`SELECT chat_id FROM spacerr_jobs.stream_deletions`)).length;
    expect(await queued()).toBeGreaterThan(0); // kept for the next run
    await setFault(e, 'upstash', 'none');
    await drain(e, 'clear-stale-streams', NOW);
    expect(await queued()).toBe(0);
  });
});
