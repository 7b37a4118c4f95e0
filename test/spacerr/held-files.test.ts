/**
 * Files of an account under a legal hold stay queued while the hold stands, even when the app
 * deletes that account's rows itself (the purge's claim, src/jobs/purge-deleted-blobs.ts
 * `heldFile`): by the owner the trigger recorded, or, where a cascade left it NULL, by the held
 * user's prefix (`chat-attachments/<userId>/`). Once the hold ends, the next run deletes them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { APP } from '../../src/app-map/app';
import { liftHold, placeHold } from '../../src/db/holds';
import { insertUser, seedChatWithFiles } from '../layouts/app-rows';
import { provisionEnv, q, runNamed, sql, testDb, type TestEnv } from '../worker/support';
import { putFiles, storedFiles } from './blob-files';

const NOW = new Date('2026-11-01T12:00:00.000Z');
const [user, chat, message] = (['user', 'chat', 'message'] as const).map((r) => APP.role(r));
const JOB = 'purge-deleted-blobs';

let e: TestEnv;
let tag = 0;
beforeEach(async () => {
  e = await provisionEnv();
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

const queued = async () =>
  (await q<{ k: string }>(testDb(e), sql`SELECT blob_key AS k FROM spacerr_jobs.blob_deletions ORDER BY 1`)).map((r) => r.k);

describe("a held account's queued files", () => {
  it('stay queued and stored while the hold stands (owner recorded, or only the prefix after a cascade), and go once it is lifted', async () => {
    const db = testDb(e);
    const held = `hf${++tag}${e.id}`;
    // A user whose id extends the held one: its files are not the held user's.
    const other = `${held}0`;
    await insertUser(db, held, null);
    await insertUser(db, other, null);
    const alone = await seedChatWithFiles(db, { userId: held, chatId: `${held}-a`, createdAt: NOW, files: ['alone.pdf'] });
    const cascaded = await seedChatWithFiles(db, { userId: held, chatId: `${held}-b`, createdAt: NOW, files: ['cascade.pdf'] });
    const others = await seedChatWithFiles(db, { userId: other, chatId: `${other}-c`, createdAt: NOW, files: ['other.pdf'] });
    await putFiles(e, [...alone.keys, ...cascaded.keys, ...others.keys]);
    await placeHold(db, { userId: held, reason: 'legal request', by: 'counsel' }, new Date('2026-10-01T00:00:00Z'));

    // The app deletes a message alone (its owner is recorded), then the held user itself (the
    // cascade from the user leaves the owner unknown), and the other user's chat.
    await db.execute(sql`DELETE FROM ${message!.table} WHERE ${message!.id} = ${alone.messageId}`);
    await db.execute(sql`DELETE FROM ${user!.table} WHERE ${user!.id} = ${held}`);
    await db.execute(sql`DELETE FROM ${chat!.table} WHERE ${chat!.id} = ${`${other}-c`}`);
    expect(await queued()).toEqual([...alone.keys, ...cascaded.keys, ...others.keys].sort());

    const dry = await runNamed(e, JOB, { now: NOW, dryRun: true });
    expect(dry).toMatchObject({ status: 'succeeded', counts: { blobs: 1 } });
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { blobs: 1 } });
    expect(await queued()).toEqual([...alone.keys, ...cascaded.keys].sort());
    expect(await storedFiles(e)).toEqual([...alone.keys, ...cascaded.keys].sort());

    expect(await liftHold(db, held)).toBe(true);
    expect(await runNamed(e, JOB, { now: new Date(Date.now() + 60_000) })).toMatchObject({ status: 'succeeded', counts: { blobs: 2 } });
    expect(await queued()).toEqual([]);
    expect(await storedFiles(e)).toEqual([]);
  });
});
