/**
 * The blob outbox on Vercel Blob (Spacerr's store), against the env's local Blob API with faults
 * at a known request (its first call: the purge job's delete): the API's errors decide by their
 * structure — `rate_limited` backs off at least its `retry-after`, `store_suspended` parks at once,
 * a dropped connection backs off, and a delete that succeeded but whose reply was lost is retried
 * and counts as done. And a move from R2 to Vercel Blob with files still queued: each file is
 * deleted from the store it was queued with.
 */
import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/http/app';
import { insertUser, seedChatWithFiles } from '../layouts/app-rows';
import { countRows, provisionEnv, q, runNamed, setBlobFault, sql, testDb, type TestEnv } from '../worker/support';
import { putFiles, storedFiles } from './blob-files';

const NOW = new Date('2026-11-01T12:00:00.000Z');
const JOB = 'purge-deleted-blobs';
const AUTH = { Authorization: 'Bearer test-cron-secret-0123456789' };

let e: TestEnv;
let tag = 0;
let user: string;
beforeEach(async () => {
  e = await provisionEnv();
  user = `bf${++tag}${e.id}`;
  vi.spyOn(console, 'log').mockImplementation(() => {});
  vi.spyOn(console, 'error').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

/** A chat of `user` with `files` attached, deleted by the app: its files are queued. Returns their pathnames. */
async function queueFiles(chat: string, files: string[]): Promise<string[]> {
  const db = testDb(e);
  const { keys } = await seedChatWithFiles(db, { userId: user, chatId: `${user}-${chat}`, createdAt: NOW, files });
  await db.execute(sql`DELETE FROM "chat" WHERE id = ${`${user}-${chat}`}`);
  return keys;
}

const outbox = () =>
  q<{ blob_key: string; store: string; attempts: number; last_error: string | null; parked: boolean; due_in_s: number }>(
    testDb(e),
    sql`SELECT blob_key, store, attempts, last_error, parked_at IS NOT NULL AS parked,
               extract(epoch FROM next_attempt_at - now())::float8 AS due_in_s
        FROM spacerr_jobs.blob_deletions ORDER BY blob_key`,
  );
const makeDue = () => testDb(e).execute(sql`UPDATE spacerr_jobs.blob_deletions SET next_attempt_at = now()`);

beforeEach(async () => {
  await insertUser(testDb(e), user, null);
});

describe('Vercel Blob answering with an error', () => {
  it('rate_limited: the rows back off for at least its retry-after (300 s, past the first 60 s backoff), not parked; then purged', async () => {
    const keys = await queueFiles('c', ['a.pdf', 'b.pdf']);
    await putFiles(e, keys);
    await setBlobFault(e, 'rate-limited', { count: 1 });
    const report = await runNamed(e, JOB, { now: NOW });
    expect(report).toMatchObject({ status: 'failed', error: expect.stringMatching(/Vercel Blob delete of 2 keys failed: .*rate_limited/) });
    const rows = await outbox();
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(row).toMatchObject({
        store: 'vercel-blob',
        attempts: 1,
        parked: false,
        last_error: expect.stringContaining('rate_limited (HTTP 429)'),
      });
      expect(row.due_in_s).toBeGreaterThan(290);
    }
    expect(await storedFiles(e)).toEqual(keys);
    await makeDue();
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { blobs: 2 } });
    expect(await storedFiles(e)).toEqual([]);
  });

  it('store_suspended: parked at once (one attempt), the alarm stands; requeued once the store is back, purged', async () => {
    const keys = await queueFiles('c', ['a.pdf']);
    await putFiles(e, keys);
    await setBlobFault(e, 'suspended', { count: 1 });
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'failed' });
    expect(await outbox()).toMatchObject([{ attempts: 1, parked: true, last_error: expect.stringContaining('store_suspended') }]);
    const health = await createApp().request('/api/internal/health', { headers: AUTH }, e as Env);
    expect(await health.json()).toMatchObject({ alarms: [expect.objectContaining({ code: 'blobs_parked', count: 1 })] });

    const requeue = await createApp().request(`/api/internal/jobs/${JOB}/requeue`, { method: 'POST', headers: AUTH }, e as Env);
    expect(await requeue.json()).toEqual({ job: JOB, requeued: 1 });
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { blobs: 1 } });
    expect(await storedFiles(e)).toEqual([]);
  });

  it('a dropped connection: the rows back off (transient), not parked', async () => {
    const keys = await queueFiles('c', ['a.pdf']);
    await putFiles(e, keys);
    await setBlobFault(e, 'reset', { count: 1 });
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'failed' });
    const [row] = await outbox();
    expect(row).toMatchObject({ attempts: 1, parked: false });
    expect(row!.due_in_s).toBeGreaterThan(50);
    expect(await storedFiles(e)).toEqual(keys);
  });

  it('a delete that succeeded but whose reply was lost: the rows stay, and the next run deletes again (gone counts as done)', async () => {
    const keys = await queueFiles('c', ['a.pdf', 'b.pdf']);
    await putFiles(e, keys);
    await setBlobFault(e, 'done-then-drop', { count: 1 });
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'failed' });
    expect(await storedFiles(e)).toEqual([]);
    expect(await outbox()).toMatchObject([{ attempts: 1 }, { attempts: 1 }]);
    await makeDue();
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { blobs: 2, blob_deletions: 2 } });
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(0);
  });
});

describe('the owner of a queued file', () => {
  it("is the chat's user when the app deletes a message alone; unknown (NULL) in the chat's own cascade", async () => {
    const db = testDb(e);
    const kept = await seedChatWithFiles(db, { userId: user, chatId: `${user}-kept`, createdAt: NOW, files: ['m.pdf'] });
    await db.execute(sql`DELETE FROM "message" WHERE id = ${kept.messageId}`);
    const cascaded = await queueFiles('gone', ['c.pdf']);
    expect(await q(db, sql`SELECT blob_key, owner_id FROM spacerr_jobs.blob_deletions ORDER BY blob_key`)).toEqual(
      [
        { blob_key: kept.keys[0], owner_id: user },
        { blob_key: cascaded[0], owner_id: null },
      ].sort((a, b) => (a.blob_key! < b.blob_key! ? -1 : 1)),
    );
  });
});

describe('a move from R2 to Vercel Blob with files still queued', () => {
  it('deletes each file from the store it was queued with', async () => {
    // Under BLOB_STORE=r2, with R2 failing: the files are claimed (recorded as R2's) and stay queued.
    const inR2 = await queueFiles('old', ['old.pdf']);
    for (const k of inR2) await env.BLOBS.put(k, 'x');
    const failingR2 = {
      ...e,
      BLOB_STORE: 'r2',
      BLOBS: { delete: () => Promise.reject(new Error('R2 is down (injected)')), list: env.BLOBS.list.bind(env.BLOBS) },
    } as unknown as TestEnv;
    expect(await runNamed(failingR2, JOB, { now: NOW })).toMatchObject({ status: 'failed' });
    expect(await outbox()).toMatchObject([{ blob_key: inR2[0], store: 'r2', attempts: 1 }]);

    // BLOB_STORE=vercel-blob from here on: new files are queued for Vercel Blob. The same pathname
    // exists in both stores, so a delete in the wrong store would show.
    const inVercel = await queueFiles('new', ['new.pdf']);
    await putFiles(e, [...inVercel, ...inR2]);
    await makeDue();
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { blobs: 2 } });
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(0);
    expect(await env.BLOBS.head(inR2[0]!)).toBeNull();
    expect(await storedFiles(e)).toEqual(inR2);
  });
});

describe('the sweep of an erased user on R2', () => {
  it("lists the bucket under the user's prefix and deletes what no row names, never another user's", async () => {
    const db = testDb(e);
    const gone = `${user}r`;
    await insertUser(db, gone, new Date('2026-09-01T00:00:00.000Z'));
    const mine = [`chat-attachments/${gone}/1-never-sent.png`, `chat-attachments/${gone}/2-draft.txt`];
    const theirs = [`chat-attachments/${gone}0/1-other.png`];
    for (const k of [...mine, ...theirs]) await env.BLOBS.put(k, 'x');
    const r2 = { ...e, BLOB_STORE: 'r2' } as unknown as TestEnv;
    await runNamed(r2, 'delete-stale-deactivated-accounts', { now: NOW });
    expect(await runNamed(r2, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { swept_files: 2, sweeps_finished: 1 } });
    const left = (await env.BLOBS.list({ prefix: `chat-attachments/${gone}` })).objects.map((o) => o.key);
    expect(left).toEqual(theirs);
  });
});
