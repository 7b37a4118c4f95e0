/**
 * Faults in the middle of a run, where faults.test.ts is thin: the endpoint failing between two
 * batches (after N requests), the Postgres backend killed in the middle of a DELETE, Redis down
 * while runs race for the lock, and an R2 binding that throws. Each checks: no partial batch, no
 * row gone without its cascade and outbox entry, the run recorded `failed` with a clear error
 * and one error log line, and the next healthy run completes the work.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import type { RunReport } from '../../src/run/runner';
import { seedChatsWithBlobs, wholeOrGone as wholeOrGoneOf } from './chats-with-blobs';
import { seedAccount } from './seed';
import { countRows, fixedBatches, provisionEnv, q, runNamed, Session, setFault, sql, testDb, type TestEnv } from './support';

const N = 30;
const NOW = new Date('2026-11-01T12:00:00.000Z');
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let e: TestEnv;
let errors: MockInstance;
/** The seeded user; R2 keys derive from it, and the bucket is shared with other test files. */
let id = 'u';
beforeEach(async () => {
  id = 'u';
  e = await provisionEnv(fixedBatches(1));
  errors = vi.spyOn(console, 'error').mockImplementation(() => {});
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

const seedChats = () => seedChatsWithBlobs(e, NOW, id, N);

const wholeOrGone = () => wholeOrGoneOf(e, id, N);

/** The run is recorded failed with its error, and logged once at error level. */
async function expectRecordedFailure(report: RunReport, error: RegExp) {
  expect(report).toMatchObject({ status: 'failed', error: expect.stringMatching(error) });
  const [row] = await q<{ status: string; error: string }>(
    testDb(e),
    sql`SELECT status, error FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`,
  );
  expect(row).toEqual({ status: 'failed', error: report.error });
  const lines = errors.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
  expect(lines.filter((l) => l.event === 'job_run' && l.runId === report.runId)).toEqual([
    expect.objectContaining({ status: 'failed', error: report.error }),
  ]);
}

async function drain(job: string, targetEnv: TestEnv = e) {
  let report: RunReport;
  do report = await runNamed(targetEnv, job, { now: NOW });
  while (report.status === 'succeeded' && report.more);
  expect(report.status).toBe('succeeded');
}

describe('Postgres failing in the middle of a run', () => {
  it('between batches: every attempt at batch 6 fails; batches 1-5 stand whole, the run is recorded failed', async () => {
    await seedChats();
    // Request 1 takes the lock, 2-6 are five one-row batches; the 7th and its two retries fail.
    await setFault(e, 'neon', 'http500', { afterRequests: 6, count: 3 });
    const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
    await expectRecordedFailure(report, /HTTP status 500/);
    expect(await wholeOrGone()).toBe(5);
    await drain('delete-stale-empty-chats');
    expect(await wholeOrGone()).toBe(N);
  });

  it('a transient failure between batches is retried within the budget and the run succeeds', async () => {
    await seedChats();
    await setFault(e, 'neon', 'reset', { afterRequests: 4, count: 1 });
    const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
    // Without the retry the dropped connection would have failed the run.
    expect(report.status).toBe('succeeded');
    expect(await wholeOrGone()).toBe(report.counts.chats);
  });

  it('a request that hangs mid-run times out (10 s), is retried, and the run completes whole', { timeout: 60_000 }, async () => {
    await seedChats();
    await setFault(e, 'neon', 'hang', { afterRequests: 4, count: 1 });
    const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
    expect(report.status).toBe('succeeded');
    expect(report.counts.chats).toBeGreaterThanOrEqual(3);
    expect(await wholeOrGone()).toBe(report.counts.chats);
  });

  it(
    'mid-statement: the backend running the DELETE is terminated; its batch rolls back whole and is retried',
    { timeout: 60_000 },
    async () => {
      await seedChats();
      // The app holds the outbox table: the job's DELETE removes its chat, cascades to the attachment,
      // and then waits inside the outbox trigger, in the middle of the statement.
      const app = await Session.open(e);
      const admin = await Session.open(e);
      try {
        await app.query('BEGIN');
        await app.query('LOCK TABLE spacerr_jobs.blob_deletions IN EXCLUSIVE MODE');
        const run = runNamed(e, 'delete-stale-empty-chats', { now: NOW });
        let pids: Array<{ pid: number }> = [];
        for (let i = 0; i < 100 && pids.length === 0; i++) {
          await pause(50);
          pids = await admin.query(
            `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%delete%chats%'`,
          );
        }
        expect(pids).toHaveLength(1);
        await admin.query('SELECT pg_terminate_backend($1)', [pids[0]!.pid]);
        await app.query('COMMIT');
        // The killed statement rolled back whole; its error (SQLSTATE 57P01, admin shutdown) is
        // transient, so the batch is sent again on a fresh backend and the run goes on.
        const report = await run;
        expect(report.status).toBe('succeeded');
        expect(await wholeOrGone()).toBe(report.counts.chats);
      } finally {
        await app.close();
        await admin.close();
      }
      await drain('delete-stale-empty-chats');
      expect(await wholeOrGone()).toBe(N);
    },
  );
});

describe('Postgres failing as the run finishes', () => {
  /** Runs the empty-chat job in a fresh env whose finishing request (and `count - 1` after it) gets 500. */
  async function runWithFailingFinish(count: number) {
    // Same data in a twin env tells how many requests come before the finishing one.
    await seedChats();
    const { subrequests } = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
    e = await provisionEnv(fixedBatches(1));
    await seedChats();
    await setFault(e, 'neon', 'http500', { afterRequests: subrequests - 1, count });
    return runNamed(e, 'delete-stale-empty-chats', { now: NOW });
  }

  it('one failed finishing request is retried: the run is recorded and the lock released', async () => {
    const report = await runWithFailingFinish(1);
    expect(report).toMatchObject({ status: 'succeeded', more: false });
    const [row] = await q<{ status: string }>(testDb(e), sql`SELECT status FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`);
    expect(row?.status).toBe('succeeded');
    expect((await runNamed(e, 'delete-stale-empty-chats', { now: NOW })).status).toBe('succeeded'); // not skipped
  });

  it('the work stands, the run says failed (record), the lock holds until the lease runs out, then the next run takes over', async () => {
    const report = await runWithFailingFinish(2); // the finishing request and its one retry fail
    expect(report).toMatchObject({ status: 'failed', phase: 'record', error: expect.stringMatching(/could not be recorded/) });
    expect(await wholeOrGone()).toBe(N); // the batches committed; only the record failed
    const lines = errors.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
    expect(lines).toContainEqual(expect.objectContaining({ event: 'job_run_record_failed', runId: report.runId }));

    // Within the lease the lock is still held; once it has run out the next run takes over.
    expect(await runNamed(e, 'delete-stale-empty-chats', { now: NOW })).toMatchObject({ status: 'skipped', heldBy: report.runId });
    await testDb(e).execute(sql`UPDATE spacerr_jobs.job_runs SET lease_until = now() - interval '1 second' WHERE id = ${report.runId}`);
    expect((await runNamed(e, 'delete-stale-empty-chats', { now: NOW })).status).toBe('succeeded');
    const [row] = await q<{ status: string }>(testDb(e), sql`SELECT status FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`);
    expect(row?.status).toBe('abandoned');
  });
});

describe('Redis down', () => {
  it('the lock lives in Postgres: racing runs of a Postgres-only job still get one winner; the Redis job fails cleanly', async () => {
    await seedChats();
    // The app deleted a chat that had streamed: its stream state is queued for clear-stale-streams.
    await seedAccount(testDb(e), NOW, { id: 'app', chats: [{ ageMinutes: 5, messages: 1 }] });
    await testDb(e).execute(sql`DELETE FROM chats WHERE id = 'app-c0'`);
    await setFault(e, 'upstash', 'reset');
    const racing = await Promise.all(Array.from({ length: 10 }, () => runNamed(e, 'delete-stale-empty-chats', { now: NOW })));
    expect(racing.filter((r) => !['succeeded', 'skipped'].includes(r.status))).toEqual([]);
    const working = racing.filter((r) => (r.counts.chats ?? 0) > 0);
    expect(working.map((r) => r.counts.chats)).toEqual([N]); // one run did all the work, once
    expect(await wholeOrGone()).toBe(N);

    const streams = await runNamed(e, 'clear-stale-streams', { now: NOW });
    await expectRecordedFailure(streams, /.+/);
    expect(await countRows(testDb(e), 'stream_deletions')).toBeGreaterThan(0); // kept for the next run
    await setFault(e, 'upstash', 'none');
    await drain('clear-stale-streams');
    expect(await countRows(testDb(e), 'stream_deletions')).toBe(0);
  });
});

describe('R2 throwing', () => {
  it('leaves the outbox rows with attempts and the error, deletes no object; the next healthy run purges', async () => {
    id = `r2${e.id}`;
    await seedChats();
    await drain('delete-stale-empty-chats');
    for (let i = 0; i < N; i++) await env.BLOBS.put(`blobs/${id}-c${i}-a0`, 'x');
    const broken = {
      ...e,
      BLOBS: new Proxy(env.BLOBS, {
        get: (target, prop) =>
          prop === 'delete'
            ? () => Promise.reject(new Error('R2 is down (injected)'))
            : (target[prop as keyof R2Bucket] as (...a: unknown[]) => unknown).bind(target),
      }),
    } as TestEnv;
    const report = await runNamed(broken, 'purge-deleted-blobs', { now: NOW });
    await expectRecordedFailure(report, /R2 is down/);
    const outbox = await q<{ attempts: number; last_error: string }>(
      testDb(e),
      sql`SELECT attempts, last_error FROM spacerr_jobs.blob_deletions`,
    );
    expect(outbox).toHaveLength(N);
    for (const row of outbox) expect(row).toEqual({ attempts: 1, last_error: expect.stringContaining('R2 is down') });
    expect((await env.BLOBS.list({ prefix: `blobs/${id}-` })).objects).toHaveLength(N);

    // The backoff has passed (fast-forwarded), R2 is back.
    await testDb(e).execute(sql`UPDATE spacerr_jobs.blob_deletions SET next_attempt_at = now()`);
    await drain('purge-deleted-blobs');
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(0);
    expect((await env.BLOBS.list({ prefix: `blobs/${id}-` })).objects).toEqual([]);
  });
});
