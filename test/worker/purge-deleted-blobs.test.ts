/**
 * purge-deleted-blobs against Miniflare's R2: the outbox (blob_deletions, filled by the attachments
 * trigger) is drained into real R2 deletes, failures are recorded with backoff and parking.
 */
import { env } from 'cloudflare:workers';
import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app';
import { seedAccount } from './seed';
import { countRows, provisionEnv, q, runNamed, setFault, sql, type TestEnv, testDb } from './support';

const JOB = 'purge-deleted-blobs';
const AUTH = { Authorization: 'Bearer test-cron-secret-0123456789' };
const NOW = new Date();
const real: R2Bucket = env.BLOBS;

/**
 * The BLOBS binding the job sees: delegates to Miniflare's bucket, can be made to fail (every call,
 * or only the Nth), records delete calls and their keys.
 */
function switchableBucket() {
  const state = {
    failing: false,
    failCall: 0,
    deleteCalls: [] as number[],
    deleteKeys: [] as string[][],
    /** Runs inside the next delete call, before R2 answers: a hook at a known point of the run. */
    during: undefined as (() => Promise<void>) | undefined,
  };
  const binding = {
    async delete(keys: string | string[]) {
      const during = state.during;
      state.during = undefined;
      await during?.();
      state.deleteCalls.push(Array.isArray(keys) ? keys.length : 1);
      state.deleteKeys.push(Array.isArray(keys) ? keys : [keys]);
      if (state.failing || state.deleteCalls.length === state.failCall) throw new Error('R2 is down (simulated)');
      return real.delete(keys);
    },
    put: (k: string, v: string) => real.put(k, v),
    head: (k: string) => real.head(k),
  };
  return { state, binding };
}

let e: TestEnv;
let r2: ReturnType<typeof switchableBucket>;
let tag = 0;
/** A per-test id prefix: R2 keys never collide with another test's leftovers. */
let t: (s: string) => string;
beforeEach(async () => {
  r2 = switchableBucket();
  e = await provisionEnv({ BLOBS: r2.binding });
  const n = ++tag;
  t = (s) => `t${n}${s}`;
});

const putAll = (keys: string[]) => Promise.all(keys.map((k) => real.put(k, `data of ${k}`)));
const present = async (keys: string[]) =>
  (await Promise.all(keys.map(async (k) => ((await real.head(k)) ? k : null)))).filter((k) => k !== null);
const outbox = (db = testDb(e)) =>
  q<{ blob_key: string; attempts: number; last_error: string | null; parked: boolean; due_in_s: number }>(
    db,
    sql`
    SELECT blob_key, attempts, last_error, parked_at IS NOT NULL AS parked,
           extract(epoch FROM next_attempt_at - now())::float8 AS due_in_s
    FROM spacerr_jobs.blob_deletions ORDER BY blob_key`,
  );
const makeDue = () => testDb(e).execute(sql`UPDATE spacerr_jobs.blob_deletions SET next_attempt_at = now()`);

describe(JOB, () => {
  it('purges the blobs of a deleted account and of an abandoned chat; other users keep theirs', async () => {
    const db = testDb(e);
    const gone = await seedAccount(db, NOW, {
      id: t('gone'),
      deactivatedDaysAgo: 40,
      chats: [
        { ageMinutes: 500, messages: 2, attachments: 2, inProject: true },
        { ageMinutes: 500, messages: 1, attachments: 1 },
      ],
    });
    const chatty = await seedAccount(db, NOW, {
      id: t('chatty'),
      chats: [
        { ageMinutes: 60, attachments: 2 },
        { ageMinutes: 60, messages: 1, attachments: 1 },
      ],
    });
    const other = await seedAccount(db, NOW, {
      id: t('other'),
      deactivatedDaysAgo: 3,
      chats: [{ ageMinutes: 60, messages: 1, attachments: 2 }],
    });
    await putAll([...gone.blobKeys, ...chatty.blobKeys, ...other.blobKeys]);

    expect((await runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW })).counts.attachments).toBe(3);
    expect((await runNamed(e, 'delete-stale-empty-chats', { now: NOW })).counts.attachments).toBe(2);
    expect(await countRows(db, 'blob_deletions')).toBe(5);

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({
      status: 'succeeded',
      more: false,
      // lock + claim + R2 + confirm + finish (which also checks for parked deletions).
      subrequests: 5,
      counts: { blobs: 5, blob_deletions: 5, reused_keys_kept: 0 },
    });
    expect(r2.state.deleteCalls).toEqual([5]);
    const doomed = [...gone.blobKeys, ...chatty.blobKeys.slice(0, 2)];
    expect(await present(doomed)).toEqual([]);
    expect(await present([...other.blobKeys, chatty.blobKeys[2]!])).toEqual([...other.blobKeys, chatty.blobKeys[2]!]);
    expect(await countRows(db, 'blob_deletions')).toBe(0);
  });

  it('purges the blobs of a project the app deleted itself (attachments cascade from projects)', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, {
      id: t('u'),
      chats: [
        { ageMinutes: 5, messages: 2, attachments: 2, inProject: true },
        { ageMinutes: 5, messages: 1, attachments: 1 },
      ],
    });
    await putAll(s.blobKeys);
    await db.execute(sql`DELETE FROM projects WHERE id = ${s.projectId}`);
    expect((await outbox()).map((r) => r.blob_key)).toEqual(s.blobKeys.slice(0, 2));

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'succeeded', counts: { blobs: 2, blob_deletions: 2 } });
    expect(await present(s.blobKeys)).toEqual([s.blobKeys[2]]);
    expect(await countRows(db, 'blob_deletions')).toBe(0);
  });

  it('leaves the outbox rows with attempts, error and backoff when R2 fails; a later run finishes', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: t('u'), chats: [{ ageMinutes: 5, messages: 1, attachments: 2 }] });
    await putAll(s.blobKeys);
    await db.execute(sql`DELETE FROM chats WHERE user_id = ${s.userId}`);
    r2.state.failing = true;

    const failed = await runNamed(e, JOB, { now: NOW });

    expect(failed).toMatchObject({ status: 'failed', more: true });
    expect(failed.error).toMatch(/^BlobDeleteError: R2 delete of 2 keys failed: R2 is down/);
    const rows = await outbox();
    expect(rows.map(({ blob_key, attempts, last_error, parked }) => ({ blob_key, attempts, last_error, parked }))).toEqual(
      s.blobKeys.map((blob_key) => ({ blob_key, attempts: 1, last_error: 'R2 is down (simulated)', parked: false })),
    );
    for (const r of rows) expect(r.due_in_s).toBeGreaterThan(30); // first backoff: one minute
    expect(await present(s.blobKeys)).toEqual(s.blobKeys);
    const [run] = await q(db, sql`SELECT status, error FROM spacerr_jobs.job_runs WHERE id = ${failed.runId}`);
    expect(run).toEqual({ status: 'failed', error: failed.error });

    // Not due yet: a healthy run right away leaves them alone.
    r2.state.failing = false;
    expect((await runNamed(e, JOB, { now: NOW })).counts).toEqual({});
    expect(await countRows(db, 'blob_deletions')).toBe(2);

    await makeDue();
    const retried = await runNamed(e, JOB, { now: NOW });
    expect(retried).toMatchObject({ status: 'succeeded', counts: { blobs: 2, blob_deletions: 2 } });
    expect(await present(s.blobKeys)).toEqual([]);
    expect(await countRows(db, 'blob_deletions')).toBe(0);
  });

  it('parks a row after BLOB_MAX_ATTEMPTS failures and never retries it', async () => {
    e = await provisionEnv({ BLOBS: r2.binding, BLOB_MAX_ATTEMPTS: '2' });
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: t('u'), chats: [{ ageMinutes: 5, attachments: 1 }] });
    await putAll(s.blobKeys);
    await db.execute(sql`DELETE FROM attachments`);
    r2.state.failing = true;

    expect((await runNamed(e, JOB, { now: NOW })).status).toBe('failed');
    expect(await outbox()).toMatchObject([{ attempts: 1, parked: false }]);
    await makeDue();
    expect((await runNamed(e, JOB, { now: NOW })).status).toBe('failed');
    expect(await outbox()).toMatchObject([{ attempts: 2, parked: true }]);

    r2.state.failing = false;
    await makeDue();
    const calls = r2.state.deleteCalls.length;
    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'succeeded', counts: {} });
    expect(report.counts).toEqual({});
    // The run that finds nothing more to do leaves the parked row standing as an alarm.
    expect(report.alarms).toEqual([expect.objectContaining({ code: 'blobs_parked', job: JOB, count: 1 })]);
    expect(r2.state.deleteCalls.length).toBe(calls);
    expect(await present(s.blobKeys)).toEqual(s.blobKeys);
    expect(await outbox()).toMatchObject([{ blob_key: s.blobKeys[0], attempts: 2, parked: true }]);
    expect((await runNamed(e, JOB, { now: NOW, dryRun: true })).counts).toEqual({ blobs: 0, parked: 1, sweeps: 0 });

    // R2 is fixed: the operator requeues (POST …/requeue), and the next run deletes the blob.
    const requeue = await createApp().request(`/api/internal/jobs/${JOB}/requeue`, { method: 'POST', headers: AUTH }, e as Env);
    expect([requeue.status, await requeue.json()]).toEqual([200, { job: JOB, requeued: 1 }]);
    expect(await outbox()).toMatchObject([{ blob_key: s.blobKeys[0], attempts: 0, parked: false, last_error: 'R2 is down (simulated)' }]);
    const after = await runNamed(e, JOB, { now: NOW });
    expect(after).toMatchObject({ status: 'succeeded', counts: { blobs: 1, blob_deletions: 1 } });
    expect(after.alarms).toBeUndefined();
    expect(await present(s.blobKeys)).toEqual([]);
  });

  it('counts a failed R2 call once when the request recording it committed and its reply was lost', async () => {
    // Two attempts park a row: counted twice, one failure would park it.
    e = await provisionEnv({ BLOBS: r2.binding, BLOB_MAX_ATTEMPTS: '2' });
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: t('u'), chats: [{ ageMinutes: 5, attachments: 3 }] });
    await putAll(s.blobKeys);
    await db.execute(sql`DELETE FROM attachments`);
    r2.state.failing = true;
    // Request 1 takes the lock, 2 claims; the R2 call fails; 3 records the failure: it commits,
    // its reply is lost, and the Worker sends it again.
    await setFault(e, 'neon', 'commit-then-drop', { afterRequests: 2, count: 1 });

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'failed', subrequests: 6 }); // lock, claim, R2, record twice, finish
    const rows = await outbox();
    expect(rows.map(({ attempts, parked, last_error }) => ({ attempts, parked, last_error }))).toEqual(
      s.blobKeys.map(() => ({ attempts: 1, parked: false, last_error: 'R2 is down (simulated)' })),
    );
    for (const r of rows) expect(r.due_in_s).toBeGreaterThan(30); // the first backoff (one minute), not the second
    expect(report.alarms).toBeUndefined();
  });

  it('queues a parked key afresh when its attachment comes back and is deleted again', async () => {
    e = await provisionEnv({ BLOBS: r2.binding, BLOB_MAX_ATTEMPTS: '1' });
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: t('u'), chats: [{ ageMinutes: 5, attachments: 1 }] });
    const [key] = s.blobKeys as [string];
    await db.execute(sql`DELETE FROM attachments`);
    r2.state.failing = true;
    expect((await runNamed(e, JOB, { now: NOW })).status).toBe('failed');
    expect(await outbox()).toMatchObject([{ blob_key: key, attempts: 1, parked: true }]);
    r2.state.failing = false;

    // The app stores a new object under the key, then its attachment is deleted too.
    await db.execute(sql`INSERT INTO attachments (id, user_id, blob_key) VALUES (${t('again')}, ${s.userId}, ${key})`);
    await real.put(key, 'second upload');
    await db.execute(sql`DELETE FROM attachments WHERE id = ${t('again')}`);
    expect(await outbox()).toMatchObject([{ blob_key: key, attempts: 0, last_error: null, parked: false }]);

    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { blobs: 1 } });
    expect(await present([key])).toEqual([]);
    expect(await countRows(db, 'blob_deletions')).toBe(0);
  });

  it('counts a key already gone from R2 as purged, and drops a reused key without deleting its live blob', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: t('u'), chats: [{ ageMinutes: 5, attachments: 2 }] });
    const [goneKey, reusedKey] = s.blobKeys as [string, string];
    await db.execute(sql`DELETE FROM attachments`);
    // The app reuses the second key for a new attachment and uploads it again.
    await db.execute(sql`INSERT INTO attachments (id, user_id, blob_key) VALUES (${t('new')}, ${s.userId}, ${reusedKey})`);
    await real.put(reusedKey, 'live data');
    expect(await present([goneKey])).toEqual([]);

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'succeeded', counts: { blobs: 1, blob_deletions: 2, reused_keys_kept: 1 } });
    expect(r2.state.deleteCalls).toEqual([1]);
    expect(await (await real.get(reusedKey))?.text()).toBe('live data');
    expect(await countRows(db, 'blob_deletions')).toBe(0);
  });

  it('keeps a reused key queued again while its claim was out, and deletes that new object next run', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: t('u'), chats: [{ ageMinutes: 5, attachments: 2 }] });
    const [goneKey, reusedKey] = s.blobKeys as [string, string];
    await db.execute(sql`DELETE FROM attachments`);
    await db.execute(sql`INSERT INTO attachments (id, user_id, blob_key) VALUES (${t('new')}, ${s.userId}, ${reusedKey})`);
    await real.put(reusedKey, 'new object');
    // Claimed as live (kept), then, while the run deletes the other key, the app deletes the new
    // attachment: the trigger re-arms the same outbox row, for the new object under the key.
    r2.state.during = async () => {
      await db.execute(sql`DELETE FROM attachments WHERE id = ${t('new')}`);
    };

    const first = await runNamed(e, JOB, { now: NOW });

    expect(first).toMatchObject({ status: 'succeeded', counts: { blobs: 1, reused_keys_kept: 1 } });
    expect((await outbox()).map((r) => r.blob_key)).toEqual([reusedKey]); // still queued, not confirmed away
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { blobs: 1 } });
    expect(await present([goneKey, reusedKey])).toEqual([]);
    expect(await countRows(db, 'blob_deletions')).toBe(0);
  });

  it('says a run was abandoned when its record was marked so before it finished, and leaves that record alone', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: t('u'), chats: [{ ageMinutes: 5, attachments: 1 }] });
    await db.execute(sql`DELETE FROM attachments`);
    // While the run is inside its R2 call, its lease is taken over, as a next run does once it ran out.
    r2.state.during = async () => {
      await db.execute(sql`UPDATE spacerr_jobs.job_runs SET status = 'abandoned', finished_at = now(), lease_until = NULL,
        error = 'lease expired' WHERE job = ${JOB} AND status = 'running'`);
    };

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'abandoned', counts: { blobs: 1 } });
    expect(report.error).toMatch(/lease ran out before it finished and its record says abandoned/);
    const [row] = await q(db, sql`SELECT status, error FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`);
    expect(row).toEqual({ status: 'abandoned', error: 'lease expired' });
    expect(s.blobKeys).toHaveLength(1);
  });

  it('deletes more than 1000 keys in one run, in R2 calls of at most 1000 keys', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: t('bulk') });
    const prefix = `${t('bulk')}/`;
    await db.execute(sql`INSERT INTO attachments (id, user_id, blob_key)
      SELECT ${prefix} || g, ${s.userId}, ${prefix} || g FROM generate_series(1, 1200) g`);
    const keys = Array.from({ length: 1200 }, (_, i) => `${prefix}${i + 1}`);
    for (let i = 0; i < keys.length; i += 200) await putAll(keys.slice(i, i + 200));
    await db.execute(sql`DELETE FROM attachments WHERE user_id = ${s.userId}`);
    expect(await countRows(db, 'blob_deletions')).toBe(1200);

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({
      status: 'succeeded',
      more: false,
      subrequests: 2 + 3 * 2, // lock + finish, 3 per chunk
      counts: { blobs: 1200, blob_deletions: 1200, reused_keys_kept: 0 },
    });
    expect(r2.state.deleteCalls).toEqual([1000, 200]);
    expect((await real.list({ prefix })).objects).toEqual([]);
    expect(await countRows(db, 'blob_deletions')).toBe(0);
  });

  // A clock that stands still: every batch takes "0 ms", far under BATCH_TARGET_MS, so each full
  // claim is followed by one 4× larger (up to 10,000 keys), whatever the machine's speed.
  const still = () => 0;
  const queueKeys = (prefix: string, n: number) =>
    testDb(e).execute(sql`INSERT INTO spacerr_jobs.blob_deletions (blob_key) SELECT ${prefix} || g FROM generate_series(1, ${n}) g`);

  it('claims more keys when claims are fast, and still calls R2 with at most 1000 keys', async () => {
    const prefix = `${t('grow')}/`;
    await queueKeys(prefix, 2500);
    const sample = [`${prefix}1`, `${prefix}1700`, `${prefix}2500`];
    await putAll(sample);

    const report = await runNamed(e, JOB, { now: NOW, clock: still });

    // Claims of 1000 (full: the next is 4000) and 1500 (the last): claim, R2 calls, confirm each.
    expect(report).toMatchObject({ status: 'succeeded', more: false, subrequests: 2 + (1 + 1 + 1) + (1 + 2 + 1) });
    expect(report.counts).toEqual({ blobs: 2500, blob_deletions: 2500, reused_keys_kept: 0 });
    expect(r2.state.deleteCalls).toEqual([1000, 1000, 500]);
    expect(await present(sample)).toEqual([]);
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(0);
  });

  it('when one R2 call of a large claim fails: keys R2 deleted leave, the failed call backs off, the untried are due again', async () => {
    const prefix = `${t('part')}/`;
    await queueKeys(prefix, 3500);
    r2.state.failCall = 3; // claims of 1000 (call 1), then 2500: call 2 succeeds, call 3 fails, call 4 is never made

    const failed = await runNamed(e, JOB, { now: NOW, clock: still });

    expect(failed).toMatchObject({ status: 'failed', more: true });
    expect(failed.error).toMatch(/^BlobDeleteError: R2 delete of 1000 keys failed: R2 is down/);
    expect(r2.state.deleteCalls).toEqual([1000, 1000, 1000]);
    const [deleted1, deleted2, failedCall] = r2.state.deleteKeys as [string[], string[], string[]];
    const rows = await outbox();
    const keysWith = (pred: (r: (typeof rows)[number]) => boolean) =>
      rows
        .filter(pred)
        .map((r) => r.blob_key)
        .sort();
    // Nothing R2 confirmed is left; nothing else is gone.
    expect(rows).toHaveLength(3500 - 2000);
    for (const k of [...deleted1, ...deleted2]) expect(rows.some((r) => r.blob_key === k)).toBe(false);
    expect(keysWith((r) => r.attempts === 1)).toEqual([...failedCall].sort());
    for (const r of rows.filter((r) => r.attempts === 1)) {
      expect(r).toMatchObject({ last_error: 'R2 is down (simulated)', parked: false });
      expect(r.due_in_s).toBeGreaterThan(30);
    }
    const untried = rows.filter((r) => r.attempts === 0);
    expect(untried).toHaveLength(500);
    for (const r of untried) expect(r).toMatchObject({ last_error: null, parked: false });
    for (const r of untried) expect(r.due_in_s).toBeLessThanOrEqual(0);

    // The next run takes the untried keys now and the failed ones once their backoff is over.
    r2.state.failCall = 0;
    const next = await runNamed(e, JOB, { now: NOW, clock: still });
    expect(next).toMatchObject({ status: 'succeeded', counts: { blobs: 500, blob_deletions: 500 } });
    await makeDue();
    const last = await runNamed(e, JOB, { now: NOW, clock: still });
    expect(last).toMatchObject({ status: 'succeeded', counts: { blobs: 1000, blob_deletions: 1000 } });
    expect(await countRows(testDb(e), 'blob_deletions')).toBe(0);
  });

  it('dry run counts the due keys and deletes nothing', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: t('u'), chats: [{ ageMinutes: 5, attachments: 3 }] });
    await putAll(s.blobKeys);
    await db.execute(sql`DELETE FROM attachments`);
    const report = await runNamed(e, JOB, { now: NOW, dryRun: true });
    expect(report).toMatchObject({ status: 'succeeded', dryRun: true, counts: { blobs: 3, parked: 0 } });
    expect(r2.state.deleteCalls).toEqual([]);
    expect(await present(s.blobKeys)).toEqual(s.blobKeys);
    expect(await countRows(db, 'blob_deletions')).toBe(3);
  });
});
