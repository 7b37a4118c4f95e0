/**
 * "Committed, but the reply was lost": the Neon endpoint runs a request to its COMMIT and then
 * drops the connection (fault `commit-then-drop`, at a known request). The Worker sees a network
 * failure and cannot tell it from a request that never ran, so every request it retries must be
 * safe to repeat. For the lock, a delete batch, the finishing request and the blob claim: no row
 * is lost, nothing is applied twice in a way that matters, and the lock is free afterwards.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { seedChatsWithBlobs, wholeOrGone as wholeOrGoneOf } from './chats-with-blobs';
import { countRows, fixedBatches, provisionEnv, q, runNamed, setFault, sql, testDb, type TestEnv } from './support';

const N = 30;
const NOW = new Date('2026-11-01T12:00:00.000Z');
const JOB = 'delete-stale-empty-chats';

let e: TestEnv;
let id = 'u';
beforeEach(async () => {
  e = await provisionEnv(fixedBatches(1));
  id = `rl${e.id}`; // R2 keys derive from it, and the bucket is shared with other test files
  vi.spyOn(console, 'error').mockImplementation(() => {});
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

const seedChats = () => seedChatsWithBlobs(e, NOW, id, N);

const wholeOrGone = () => wholeOrGoneOf(e, id, N);

/** The run's own row says how it ended; no run of the job still holds the lock. */
async function expectRecordedAndUnlocked(runId: string, status: string) {
  expect(await q(testDb(e), sql`SELECT status FROM spacerr_jobs.job_runs WHERE id = ${runId}`)).toEqual([{ status }]);
  expect(await q(testDb(e), sql`SELECT id FROM spacerr_jobs.job_runs WHERE status = 'running'`)).toEqual([]);
}

describe('a reply lost after its commit', () => {
  it('on the lock: the retry finds the run’s own lock, the run completes, and the lock is released', async () => {
    await seedChats();
    await setFault(e, 'neon', 'commit-then-drop', { afterRequests: 0, count: 1 });
    const report = await runNamed(e, JOB, { now: NOW });
    expect(report).toMatchObject({ status: 'succeeded', more: false, counts: { chats: N } });
    expect(await wholeOrGone()).toBe(N);
    await expectRecordedAndUnlocked(report.runId, 'succeeded');
    expect((await runNamed(e, JOB, { now: NOW })).status).toBe('succeeded'); // not skipped
  });

  it('on a delete batch: its rows are gone whole with their cascade; the retry deletes the next; the report misses that batch', async () => {
    await seedChats();
    // Request 1 takes the lock, 2 and 3 are one-row batches; the 3rd batch commits and its reply is lost.
    await setFault(e, 'neon', 'commit-then-drop', { afterRequests: 2, count: 1 });
    const report = await runNamed(e, JOB, { now: NOW });
    expect(report).toMatchObject({ status: 'succeeded', more: false });
    expect(await wholeOrGone()).toBe(N); // every chat gone with its attachment, every blob queued once
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(N);
    // The batch whose reply was lost deleted its chat, but the run never heard how many rows.
    expect(report.counts.chats).toBe(N - 1);
    await expectRecordedAndUnlocked(report.runId, 'succeeded');
  });

  it('on the finishing request: the retry changes nothing, the run is recorded once and the lock is free', async () => {
    // A twin env with the same data tells how many requests come before the finishing one.
    await seedChats();
    const { subrequests } = await runNamed(e, JOB, { now: NOW });
    e = await provisionEnv(fixedBatches(1));
    await seedChats();
    await setFault(e, 'neon', 'commit-then-drop', { afterRequests: subrequests - 1, count: 1 });
    const report = await runNamed(e, JOB, { now: NOW });
    expect(report).toMatchObject({ status: 'succeeded', more: false, counts: { chats: N } });
    const [row] = await q<{ counts: Record<string, number>; subrequests: number }>(
      testDb(e),
      sql`SELECT counts, subrequests FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`,
    );
    expect(row?.counts.chats).toBe(N);
    await expectRecordedAndUnlocked(report.runId, 'succeeded');
    expect((await runNamed(e, JOB, { now: NOW })).status).toBe('succeeded'); // not skipped
  });

  it('on the blob claim: the claimed keys wait out their claim, R2 keeps every object until then, and a later run purges them all', async () => {
    await seedChats();
    let report = await runNamed(e, JOB, { now: NOW });
    expect(report.counts.chats).toBe(N);
    for (let i = 0; i < N; i++) await env.BLOBS.put(`blobs/${id}-c${i}-a0`, 'x');

    // Request 1 takes purge-deleted-blobs' lock; request 2, the claim, commits and its reply is lost.
    await setFault(e, 'neon', 'commit-then-drop', { afterRequests: 1, count: 1 });
    report = await runNamed(e, 'purge-deleted-blobs', { now: NOW });
    // The retried claim finds nothing due: the first claim pushed every key out by its claim time.
    expect(report).toMatchObject({ status: 'succeeded', more: false });
    expect(report.counts.blobs ?? 0).toBe(0);
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(N);
    expect((await env.BLOBS.list({ prefix: `blobs/${id}-` })).objects).toHaveLength(N);
    await expectRecordedAndUnlocked(report.runId, 'succeeded');

    // The claim runs out (fast-forwarded): the keys are due again and are purged, each once.
    await testDb(e).execute(sql`UPDATE spacerr_jobs.blob_deletions SET next_attempt_at = now()`);
    report = await runNamed(e, 'purge-deleted-blobs', { now: NOW });
    expect(report).toMatchObject({ status: 'succeeded', counts: { blobs: N, blob_deletions: N } });
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(0);
    expect((await env.BLOBS.list({ prefix: `blobs/${id}-` })).objects).toEqual([]);
  });
});
