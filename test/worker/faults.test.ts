/**
 * Dependencies failing for real: the file's own Neon and Upstash endpoints answer 500, hang or
 * drop the connection. Whatever happens, every row is either deleted with its cascade and outbox
 * entries or untouched, the failure is reported, and the next healthy run finishes the work.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ACTIVE_STREAMS_KEY, streamKey } from '../../src/redis/streams';
import { seedAccount } from './seed';
import { fixedBatches, provisionEnv, q, runNamed, setFault, sql, testDb, type TestEnv, testRedis } from './support';

const N = 60;
const NOW = new Date('2026-11-01T12:00:00.000Z');

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv(fixedBatches(1));
});

/** Every chat is either fully present (with its attachment) or fully gone (blob queued). */
async function expectWholeOrGone(db = testDb(e)) {
  const rows = await q<{ id: string; chat: boolean; attachment: boolean; queued: boolean }>(
    db,
    sql`
    SELECT a.id, c.id IS NOT NULL AS chat, att.id IS NOT NULL AS attachment, b.blob_key IS NOT NULL AS queued
    FROM (SELECT 'u-c' || g AS id, 'blobs/u-c' || g || '-a0' AS key FROM generate_series(0, ${N - 1}::int) g) a
    LEFT JOIN chats c ON c.id = a.id
    LEFT JOIN attachments att ON att.blob_key = a.key
    LEFT JOIN spacerr_jobs.blob_deletions b ON b.blob_key = a.key`,
  );
  for (const r of rows) expect([r.id, r.chat, r.attachment, r.queued]).toEqual([r.id, r.chat, r.chat, !r.chat]);
  return rows.filter((r) => !r.chat).length;
}

describe('Postgres behind the Neon endpoint failing', () => {
  it('down before the run: the run fails with a clear error, deletes nothing; the next healthy run does the work', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: Array.from({ length: N }, () => ({ ageMinutes: 60, attachments: 1 })) });
    await setFault(e, 'neon', 'http500');
    const failed = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringMatching(/HTTP status 500/) });
    await setFault(e, 'neon', 'none');
    expect(await expectWholeOrGone()).toBe(0);
    let deleted = 0;
    for (let more = true; more;) {
      const ok = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
      expect(ok.status).toBe('succeeded');
      deleted += ok.counts.chats ?? 0;
      more = ok.more;
    }
    expect(deleted).toBe(N);
    expect(await expectWholeOrGone()).toBe(N);
  });

  for (const fault of ['http500', 'reset'] as const) {
    it(`${fault} mid-run, between batches: no half-done batch, the run fails, a later run completes`, async () => {
      const db = testDb(e);
      await seedAccount(db, NOW, { id: 'u', chats: Array.from({ length: N }, () => ({ ageMinutes: 60, attachments: 1 })) });
      // Request 1 takes the lock and 2-4 are three one-row batches; from the 5th request on, the
      // endpoint fails (retries included) until told otherwise. Counted, never timed: the run
      // cannot finish before the fault lands.
      await setFault(e, 'neon', fault, { afterRequests: 4 });
      const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
      await setFault(e, 'neon', 'none');
      expect(report.status).toBe('failed');
      const deleted = await expectWholeOrGone();
      expect(deleted).toBe(3);
      // The failed run could not record its end while Postgres was down: its lock is held until
      // the lease runs out. Fast-forward that lease instead of waiting for it.
      const [row] = await q<{ status: string }>(db, sql`SELECT status FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`);
      expect(['running', 'failed']).toContain(row?.status);
      await db.execute(sql`UPDATE spacerr_jobs.job_runs SET lease_until = now() - interval '1 second' WHERE status = 'running'`);
      let next = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
      while (next.more) next = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
      expect(next.status).toBe('succeeded');
      expect(await expectWholeOrGone()).toBe(N);
    });
  }

  it('a hung endpoint costs a bounded wait, not the invocation', { timeout: 60_000 }, async () => {
    await seedAccount(testDb(e), NOW, { id: 'u', chats: [{ ageMinutes: 60 }] });
    await setFault(e, 'neon', 'hang');
    const started = Date.now();
    const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
    await setFault(e, 'neon', 'none');
    expect(report.status).toBe('failed');
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('Redis behind the Upstash endpoint failing', () => {
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
    expect(await q(db, sql`SELECT id FROM users`)).toEqual([]);
    expect(await q(db, sql`SELECT chat_id FROM spacerr_jobs.stream_deletions`)).toEqual([{ chat_id: 'gone-c0' }]);
    expect(await q(db, sql`SELECT status FROM spacerr_jobs.job_runs WHERE status = 'running'`)).toEqual([]);

    await setFault(e, 'upstash', 'none');
    expect((await runNamed(e, 'clear-stale-streams', { now: NOW })).status).toBe('succeeded');
    expect(await redis.get(streamKey('gone-c0'))).toBeNull();
    expect(await q(db, sql`SELECT chat_id FROM spacerr_jobs.stream_deletions`)).toEqual([]);
  });
});
