/**
 * The blob outbox's own faults, layout-free (the Worker's spacerr_jobs.blob_deletions and R2; the
 * layouts' faults in deleting app rows are test/layouts/faults.test.ts): an R2 binding that throws,
 * and the claim of purge-deleted-blobs committing with its reply lost (fault `commit-then-drop` at a
 * known request). The outbox is filled by the empty-chat job over chats with attachments.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import type { RunReport } from '../../src/run/report';
import { seedChatsWithBlobs } from './chats-with-blobs';
import {
  countRows,
  drain,
  expectRecordedAndUnlocked,
  expectRecordedFailure,
  fixedBatches,
  provisionEnv,
  q,
  runNamed,
  setFault,
  sql,
  testDb,
  type TestEnv,
} from './support';

const N = 30;
const NOW = new Date('2026-11-01T12:00:00.000Z');
const JOB = 'delete-stale-empty-chats';

let e: TestEnv;
let errors: MockInstance;
/** The seeded user; R2 keys derive from it, and the bucket is shared with other test files. */
let id = 'u';
beforeEach(async () => {
  e = await provisionEnv(fixedBatches(1));
  id = `fb${e.id}`;
  errors = vi.spyOn(console, 'error').mockImplementation(() => {});
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

const seedChats = () => seedChatsWithBlobs(e, NOW, id, N);

describe('R2 throwing', () => {
  it('leaves the outbox rows with attempts and the error, deletes no object; the next healthy run purges', async () => {
    await seedChats();
    await drain(e, 'delete-stale-empty-chats', NOW);
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
    await expectRecordedFailure(e, errors, report, /R2 is down/);
    const outbox = await q<{ attempts: number; last_error: string }>(
      testDb(e),
      sql`SELECT attempts, last_error FROM spacerr_jobs.blob_deletions`,
    );
    expect(outbox).toHaveLength(N);
    for (const row of outbox) expect(row).toEqual({ attempts: 1, last_error: expect.stringContaining('R2 is down') });
    expect((await env.BLOBS.list({ prefix: `blobs/${id}-` })).objects).toHaveLength(N);

    // The backoff has passed (fast-forwarded), R2 is back.
    await testDb(e).execute(sql`UPDATE spacerr_jobs.blob_deletions SET next_attempt_at = now()`);
    await drain(e, 'purge-deleted-blobs', NOW);
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(0);
    expect((await env.BLOBS.list({ prefix: `blobs/${id}-` })).objects).toEqual([]);
  });
});

describe('a reply lost after its commit', () => {
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
    await expectRecordedAndUnlocked(e, report.runId, 'succeeded');

    // The claim runs out (fast-forwarded): the keys are due again and are purged, each once.
    await testDb(e).execute(sql`UPDATE spacerr_jobs.blob_deletions SET next_attempt_at = now()`);
    report = await runNamed(e, 'purge-deleted-blobs', { now: NOW });
    expect(report).toMatchObject({ status: 'succeeded', counts: { blobs: N, blob_deletions: N } });
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(0);
    expect((await env.BLOBS.list({ prefix: `blobs/${id}-` })).objects).toEqual([]);
  });
});
