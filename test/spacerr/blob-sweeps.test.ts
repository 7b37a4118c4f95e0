/**
 * Erasure of Spacerr's files in Vercel Blob, on Spacerr's own layout (file parts in
 * `message.parts`, `message_source` pathnames, the map's `chat-attachments/<userId>/` prefix) and
 * the env's local Vercel Blob API: the files an erased user's messages named go through the
 * outbox, and every other file under the user's prefix through the sweep — except a file of a
 * chat given to another user, which a live message source still names. A user id that is a
 * prefix of another's (`u_1`, `u_10`) never reaches the other's files.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { APP } from '../../src/app-map/app';
import { liftHold, placeHold } from '../../src/db/holds';
import { pgArray } from '../../src/db/rows';
import { insertUser, seedChatWithFiles } from '../layouts/app-rows';
import { drain, endpointStats, EVENTS_SECRET, provisionEnv, q, receiverUrl, runNamed, sql, testDb, type TestEnv } from '../worker/support';
import { putFiles, storedFiles } from './blob-files';

const NOW = new Date('2026-11-01T12:00:00.000Z');
const DEACTIVATED = new Date('2026-09-01T00:00:00.000Z');
const ACCOUNTS = 'delete-stale-deactivated-accounts';
const JOB = 'purge-deleted-blobs';

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv({ ACCOUNT_EVENTS_URL: await receiverUrl(), ACCOUNT_EVENTS_SECRET: EVENTS_SECRET } as Partial<
    Record<keyof Env, unknown>
  >);
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

const sweeps = () =>
  q<{ owner_id: string; prefix: string; store: string | null; deleted: number; kept: number; finished: boolean }>(
    testDb(e),
    sql`SELECT owner_id, prefix, store, deleted, kept, finished_at IS NOT NULL AS finished FROM spacerr_jobs.blob_sweeps ORDER BY id`,
  );

describe('the sweep of an erased user', () => {
  it("deletes every file under the user's prefix, a never-sent upload too; keeps a given chat's file and u_10's files", async () => {
    const db = testDb(e);
    await insertUser(db, 'u_1', DEACTIVATED);
    await insertUser(db, 'u_10', null);
    const own = await seedChatWithFiles(db, { userId: 'u_1', chatId: 'u_1-c0', createdAt: DEACTIVATED, files: ['a.pdf', 'b.pdf'] });
    // A chat u_1 gave to u_10: its file keeps u_1's pathname, and its message source names it.
    const given = await seedChatWithFiles(db, { userId: 'u_1', chatId: 'u_1-given', createdAt: DEACTIVATED, files: ['given.pdf'] });
    await db.execute(sql`UPDATE "chat" SET "userId" = 'u_10' WHERE id = 'u_1-given'`);
    const other = await seedChatWithFiles(db, { userId: 'u_10', chatId: 'u_10-c0', createdAt: DEACTIVATED, files: ['x.pdf'] });
    const abandoned = ['chat-attachments/u_1/1767225600001-never-sent.png', 'chat-attachments/u_1/1767225600002-pasted.txt'];
    const othersAbandoned = ['chat-attachments/u_10/1767225600003-draft.png', 'chat-attachments/u_1x/1767225600004-y.png'];
    await putFiles(e, [...own.keys, ...given.keys, ...other.keys, ...abandoned, ...othersAbandoned]);

    expect(await runNamed(e, ACCOUNTS, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { users: 1 } });
    // No store yet: the sweep's first claim records BLOB_STORE's.
    expect(await sweeps()).toEqual([
      { owner_id: 'u_1', prefix: 'chat-attachments/u_1/', store: null, deleted: 0, kept: 0, finished: false },
    ]);
    await drain(e, JOB, NOW);

    expect(await storedFiles(e)).toEqual([...given.keys, ...othersAbandoned, ...other.keys].sort());
    // The outbox took the message's files; the sweep the rest, and kept the given chat's.
    expect(await sweeps()).toEqual([
      { owner_id: 'u_1', prefix: 'chat-attachments/u_1/', store: 'vercel-blob', deleted: 2, kept: 1, finished: true },
    ]);
    expect(await q(db, sql`SELECT blob_key FROM spacerr_jobs.blob_deletions`)).toEqual([]);

    // The erasure event's first attempt says what was cleared in the file store, and what is pending.
    expect(await runNamed(e, 'deliver-account-events', { now: NOW })).toMatchObject({ status: 'succeeded', counts: { delivered: 1 } });
    const [event] = await q<{ data: { stores: unknown } }>(
      db,
      sql`SELECT data FROM spacerr_jobs.account_events WHERE type = 'account.erased'`,
    );
    expect(event!.data.stores).toEqual({ blob: { 'vercel-blob': { filesRemoved: 2, filesKept: 1, filesPending: 0, prefixesPending: 0 } } });
  });

  it('lists page by page across runs, each Blob call counted in the run: subrequests = Neon + Blob requests', async () => {
    const db = testDb(e);
    await insertUser(db, 'u_2', DEACTIVATED);
    const files = Array.from({ length: 1001 }, (_, i) => `chat-attachments/u_2/${String(i).padStart(5, '0')}-f.png`);
    await putFiles(e, files);
    await runNamed(e, ACCOUNTS, { now: NOW });

    const before = await endpointStats(e);
    const report = await runNamed(e, JOB, { now: NOW });
    const after = await endpointStats(e);
    expect(report).toMatchObject({ status: 'succeeded', counts: { swept_files: 1001, sweeps_finished: 1 } });
    // Two pages, of 1000 and of 1 (list + delete each).
    expect(after.blobRequests - before.blobRequests).toBe(4);
    expect(report.subrequests).toBe(after.neonRequests - before.neonRequests + (after.blobRequests - before.blobRequests));
    expect(await storedFiles(e)).toEqual([]);
  });
});

const user = APP.role('user');
/** The app's own deletion of users (Spacerr's account deletion), through the map's names. */
const appDeletes = (ids: string[]) =>
  testDb(e).execute(sql`DELETE FROM ${user.table} WHERE ${user.id}::text = ANY(${pgArray(ids)}::text[])`);

describe("the sweep of a user the app deleted itself (the user table's trigger)", () => {
  it("is recorded by the app's DELETE; the next run deletes the never-sent upload, nothing under u_10's prefix", async () => {
    const db = testDb(e);
    for (const id of ['u_1', 'u_10', 'x/y']) await insertUser(db, id, null);
    const mine = ['chat-attachments/u_1/1767225600001-never-sent.png'];
    const theirs = ['chat-attachments/u_10/1767225600002-draft.png', 'chat-attachments/x/y/1767225600003-z.png'];
    await putFiles(e, [...mine, ...theirs]);

    await appDeletes(['u_1', 'x/y']);
    // An id holding a `/` gets no sweep: its prefix could lie inside another user's.
    expect(await sweeps()).toEqual([
      { owner_id: 'u_1', prefix: 'chat-attachments/u_1/', store: null, deleted: 0, kept: 0, finished: false },
    ]);

    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { swept_files: 1, sweeps_finished: 1 } });
    expect(await storedFiles(e)).toEqual(theirs);
    expect(await sweeps()).toEqual([
      { owner_id: 'u_1', prefix: 'chat-attachments/u_1/', store: 'vercel-blob', deleted: 1, kept: 0, finished: true },
    ]);
  });

  it('an id deleted again after its sweep finished (the app gave it anew) is swept again', async () => {
    const db = testDb(e);
    await insertUser(db, 'u_6', null);
    await putFiles(e, ['chat-attachments/u_6/1-first.png']);
    await appDeletes(['u_6']);
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ counts: { swept_files: 1, sweeps_finished: 1 } });

    await insertUser(db, 'u_6', null);
    await putFiles(e, ['chat-attachments/u_6/2-second.png']);
    await appDeletes(['u_6']);
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ counts: { swept_files: 1, sweeps_finished: 1 } });
    expect(await storedFiles(e)).toEqual([]);
    expect(await sweeps()).toEqual([
      { owner_id: 'u_6', prefix: 'chat-attachments/u_6/', store: 'vercel-blob', deleted: 2, kept: 0, finished: true },
    ]);
  });

  it("keeps a held user's files until the hold is lifted, and runs the others' meanwhile", async () => {
    const db = testDb(e);
    await insertUser(db, 'u_held', null);
    await insertUser(db, 'u_free', null);
    await putFiles(e, ['chat-attachments/u_free/1-a.png', 'chat-attachments/u_held/1-b.png']);
    await placeHold(db, { userId: 'u_held', reason: 'litigation' }, new Date(NOW.getTime() - 86_400_000));
    await appDeletes(['u_held', 'u_free']);

    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { swept_files: 1, sweeps_finished: 1 } });
    expect(await storedFiles(e)).toEqual(['chat-attachments/u_held/1-b.png']);
    // Not due while held: the next run has nothing to do and leaves the file.
    expect((await runNamed(e, JOB, { now: NOW })).counts).not.toHaveProperty('swept_files');
    expect(await storedFiles(e)).toEqual(['chat-attachments/u_held/1-b.png']);

    // Lifted, the hold ends now (it stays on record): the run after it sweeps the prefix.
    await liftHold(db, 'u_held');
    expect(await runNamed(e, JOB, { now: new Date(Date.now() + 60_000) })).toMatchObject({
      status: 'succeeded',
      counts: { swept_files: 1, sweeps_finished: 1 },
    });
    expect(await storedFiles(e)).toEqual([]);
  });

  it("the Worker's account batch records exactly one sweep per user and prefix; its event counts it pending", async () => {
    const db = testDb(e);
    await insertUser(db, 'u_3', DEACTIVATED);
    await insertUser(db, 'u_4', DEACTIVATED);
    expect(await runNamed(e, ACCOUNTS, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { users: 2 } });
    expect((await sweeps()).map((r) => [r.owner_id, r.prefix, r.store])).toEqual([
      ['u_3', 'chat-attachments/u_3/', null],
      ['u_4', 'chat-attachments/u_4/', null],
    ]);
    // Delivered before any sweep ran: the unclaimed prefixes count as pending in the store BLOB_STORE names.
    expect(await runNamed(e, 'deliver-account-events', { now: NOW })).toMatchObject({ status: 'succeeded', counts: { delivered: 2 } });
    const events = await q<{ data: { stores: unknown } }>(
      db,
      sql`SELECT data FROM spacerr_jobs.account_events WHERE type = 'account.erased'`,
    );
    for (const event of events) {
      expect(event.data.stores).toEqual({
        blob: { 'vercel-blob': { filesRemoved: 0, filesKept: 0, filesPending: 0, prefixesPending: 1 } },
      });
    }
  });

  it("never fails the app's DELETE: an id column the app renamed since the map", async () => {
    const db = testDb(e);
    await insertUser(db, 'u_5', null);
    await db.execute(sql`ALTER TABLE ${user.table} RENAME COLUMN ${user.id} TO "renamedId"`);
    await db.execute(sql`DELETE FROM ${user.table} WHERE "renamedId" = 'u_5'`);
    expect(await q(db, sql`SELECT 1 FROM ${user.table}`)).toEqual([]);
    expect(await sweeps()).toEqual([]);
  });
});
