/**
 * Account lifecycle events end to end, on every shipped layout (the users written through the map): the account job records `account.erased` in its delete
 * statement, deliver-account-events records the notices and POSTs both to a real HTTP receiver
 * (test/support/webhook-receiver.ts) that checks every signature with the standardwebhooks
 * library's own verifier. Receiver faults are real (503s, reset connections), set before the run.
 */
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { APP } from '../../src/app-map/app';
import { createApp } from '../../src/http/app';
import { endpointStats, provisionEnv, q, runNamed, Session, setFault, sql, type TestEnv, testDb } from '../worker/support';
import { runOn, seedAccount, setDeactivatedAt } from './app-rows';

const ACCOUNTS = 'delete-stale-deactivated-accounts';
const JOB = 'deliver-account-events';
const SECRET = `whsec_${btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => (i * 37 + 11) % 256)))}`;
const at = (s: string) => new Date(s);
const layout = inject('layout');
const user = APP.role('user');
/** The users left, with their deactivation time. */
const usersLeft = (env: TestEnv) =>
  q(testDb(env), sql`SELECT ${user.id} AS id, ${user.col('deactivatedAt')} AS deactivated_at FROM ${user.table} ORDER BY 1`);

interface Attempt {
  webhookId: string;
  verified: boolean;
  status: number;
  body: { type: string; timestamp: string; data: Record<string, string> } | null;
}

async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${inject('stack').controlUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`control ${method} ${path}: ${res.status}`);
  return (await res.json()) as T;
}

/** A real receiver on the Node side. */
async function startReceiver() {
  const { id, url } = await control<{ id: string; url: string }>('POST', '/receivers', { secret: SECRET });
  return {
    url,
    attempts: async () => (await control<{ attempts: Attempt[] }>('GET', `/receivers/${id}`)).attempts,
    setMode: (mode: 'ok' | 'http503' | 'reset') => control('POST', `/receivers/${id}/mode`, { mode }),
  };
}

/** Events on, against this test's receiver (the two settings are optional, so not in the generated Env). */
const withEvents = (extra: Record<string, string> = {}) =>
  provisionEnv({ ACCOUNT_EVENTS_URL: receiver.url, ACCOUNT_EVENTS_SECRET: SECRET, ...extra } as Partial<Record<keyof Env, unknown>>);

let e: TestEnv;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
beforeEach(async () => {
  receiver = await startReceiver();
  e = await withEvents();
});

const events = () =>
  q<{
    id: string;
    type: string;
    user_id: string;
    run_id: string;
    attempts: number;
    delivered: boolean;
    parked: boolean;
    last_error: string | null;
  }>(
    testDb(e),
    sql`SELECT id, type, user_id, run_id, attempts, delivered_at IS NOT NULL AS delivered, parked_at IS NOT NULL AS parked, last_error
        FROM spacerr_jobs.account_events ORDER BY user_id, created_at`,
  );
const makeDue = () => testDb(e).execute(sql`UPDATE spacerr_jobs.account_events SET next_attempt_at = now()`);
const delivered = (attempts: Attempt[]) => attempts.filter((a) => a.status === 204);

describe(`${JOB} on the ${layout} layout: account.erased`, () => {
  it('is recorded by the batch that deletes the user, delivered signed once, and not again', async () => {
    const now = at('2026-04-01T00:00:00Z');
    await seedAccount(testDb(e), now, { id: 'gone', deactivatedAt: at('2026-02-01T10:00:00Z'), chats: [{ ageMinutes: 900, messages: 1 }] });
    await seedAccount(testDb(e), now, { id: 'stays', deactivatedAt: at('2026-03-20T00:00:00Z') });
    await seedAccount(testDb(e), now, { id: 'active' });

    const run = await runNamed(e, ACCOUNTS, { now });
    expect(run.counts.users).toBe(1);
    expect(await events()).toMatchObject([{ type: 'account.erased', user_id: 'gone', run_id: run.runId, delivered: false }]);

    const report = await runNamed(e, JOB, { now });
    expect(report).toMatchObject({ status: 'succeeded', counts: { delivered: 1, failed: 0 } });
    const [attempt, ...rest] = await receiver.attempts();
    expect(rest).toEqual([]);
    expect(attempt).toMatchObject({ verified: true, status: 204, webhookId: (await events())[0]!.id });
    expect(attempt!.body!.type).toBe('account.erased');
    // Ids and times only.
    expect(Object.keys(attempt!.body!.data).sort()).toEqual(['deactivatedAt', 'erasedAt', 'runId', 'stores', 'userId']);
    expect(attempt!.body!.data).toMatchObject({ userId: 'gone', deactivatedAt: '2026-02-01T10:00:00.000Z', runId: run.runId });
    expect((await events())[0]).toMatchObject({ delivered: true, attempts: 1 });

    // Firing again delivers no repeat.
    expect((await runNamed(e, JOB, { now })).counts).toMatchObject({ delivered: 0, notices: 0 });
    expect(await receiver.attempts()).toHaveLength(1);
  });

  it('is not recorded for a user whose reactivation holds the row while the batch runs', async () => {
    const now = at('2026-04-01T00:00:00Z');
    for (const id of ['a', 'racer', 'b']) await seedAccount(testDb(e), now, { id, deactivatedAt: at('2026-02-01T00:00:00Z') });
    const app = await Session.open(e);
    try {
      // The app's reactivation is in flight (uncommitted) before the run starts: the batch must
      // skip the row it holds, then the reactivation commits.
      await app.query('BEGIN');
      await runOn(app, setDeactivatedAt('racer', null));
      const run = await runNamed(e, ACCOUNTS, { now });
      expect(run.counts.users).toBe(2);
      await app.query('COMMIT');
    } finally {
      await app.close();
    }
    expect(await usersLeft(e)).toEqual([{ id: 'racer', deactivated_at: null }]);
    expect((await events()).map((r) => [r.type, r.user_id])).toEqual([
      ['account.erased', 'a'],
      ['account.erased', 'b'],
    ]);
  });
});

describe(`${JOB} on the ${layout} layout: account.deletion_scheduled`, () => {
  it('is sent once per deactivation when the deleting run is DELETION_NOTICE_DAYS away; reactivation stops it; a new deactivation gets a new one', async () => {
    const db = testDb(e);
    const march28 = at('2026-03-28T12:00:00Z'); // the next account run is 2026-04-01, 3.5 days away
    await seedAccount(db, march28, { id: 'soon', deactivatedAt: at('2026-02-20T08:00:00Z') }); // deleteAfter 03-22: run of 04-01
    await seedAccount(db, march28, { id: 'later', deactivatedAt: at('2026-03-10T00:00:00Z') }); // deleteAfter 04-09: run of 05-01
    await seedAccount(db, march28, { id: 'active' });

    const first = await runNamed(e, JOB, { now: march28 });
    expect(first.counts).toMatchObject({ notices: 1, delivered: 1 });
    const [notice] = await receiver.attempts();
    expect(notice).toMatchObject({ verified: true, status: 204 });
    expect(notice!.body).toMatchObject({
      type: 'account.deletion_scheduled',
      data: {
        userId: 'soon',
        deactivatedAt: '2026-02-20T08:00:00.000Z',
        deleteAfter: '2026-03-22T08:00:00.000Z',
        scheduledDeletionAt: '2026-04-01T00:00:00.000Z',
      },
    });
    expect(Object.keys(notice!.body!.data).sort()).toEqual(['deactivatedAt', 'deleteAfter', 'scheduledDeletionAt', 'userId']);
    // Later runs within the window notice nobody twice.
    expect((await runNamed(e, JOB, { now: at('2026-03-30T00:00:00Z') })).counts).toMatchObject({ notices: 0, delivered: 0 });

    // The user signs in: the deleting run keeps the account and nothing more is sent.
    await db.execute(setDeactivatedAt('soon', null));
    expect((await runNamed(e, ACCOUNTS, { now: at('2026-04-01T00:00:00Z') })).counts.users).toBe(0);
    expect((await runNamed(e, JOB, { now: at('2026-04-01T00:10:00Z') })).counts).toMatchObject({ notices: 0, delivered: 0 });

    // Deactivated again: a new deactivation, a new notice (with its own webhook-id) before the run of 05-01.
    await db.execute(setDeactivatedAt('soon', at('2026-03-29T00:00:00Z')));
    expect((await runNamed(e, JOB, { now: at('2026-04-27T00:00:00Z') })).counts).toMatchObject({ notices: 2, delivered: 2 });
    const all = await receiver.attempts();
    expect(all.every((a) => a.verified && a.status === 204)).toBe(true);
    expect(new Set(all.map((a) => a.webhookId)).size).toBe(3);
    expect(all.slice(1).map((a) => [a.body!.data.userId, a.body!.data.scheduledDeletionAt])).toEqual(
      expect.arrayContaining([
        ['soon', '2026-05-01T00:00:00.000Z'],
        ['later', '2026-05-01T00:00:00.000Z'],
      ]),
    );
  });

  it('is not recorded for an account the deleting batch holds (it is being erased)', async () => {
    const march28 = at('2026-03-28T12:00:00Z');
    await seedAccount(testDb(e), march28, { id: 'held', deactivatedAt: at('2026-02-20T08:00:00Z') });
    await seedAccount(testDb(e), march28, { id: 'free', deactivatedAt: at('2026-02-20T08:00:00Z') });
    const batch = await Session.open(e);
    try {
      // What the account job's batch holds while it deletes: the user row, FOR UPDATE.
      await batch.query('BEGIN');
      await runOn(batch, sql`SELECT ${user.id} FROM ${user.table} WHERE ${user.id} = 'held' FOR UPDATE`);
      expect((await runNamed(e, JOB, { now: march28 })).counts).toMatchObject({ notices: 1 });
      await runOn(batch, sql`DELETE FROM ${user.table} WHERE ${user.id} = 'held'`);
      await batch.query('COMMIT');
    } finally {
      await batch.close();
    }
    expect((await runNamed(e, JOB, { now: march28 })).counts).toMatchObject({ notices: 0 });
    expect((await receiver.attempts()).map((a) => a.body!.data.userId)).toEqual(['free']);
  });

  it('is not recorded for an account whose reactivation is in flight; the next run re-checks it', async () => {
    const march28 = at('2026-03-28T12:00:00Z');
    await seedAccount(testDb(e), march28, { id: 'returning', deactivatedAt: at('2026-02-20T08:00:00Z') });
    await seedAccount(testDb(e), march28, { id: 'free', deactivatedAt: at('2026-02-20T08:00:00Z') });
    const app = await Session.open(e);
    try {
      // The user signs in: the app's reactivation holds the row, uncommitted, while the run records notices.
      await app.query('BEGIN');
      await runOn(app, sql`UPDATE ${user.table} SET ${user.col('deactivatedAt')} = NULL WHERE ${user.id} = 'returning'`);
      expect((await runNamed(e, JOB, { now: march28 })).counts).toMatchObject({ notices: 1 });
      await app.query('COMMIT');
    } finally {
      await app.close();
    }
    expect((await runNamed(e, JOB, { now: march28 })).counts).toMatchObject({ notices: 0 });
    expect((await receiver.attempts()).map((a) => a.body!.data.userId)).toEqual(['free']);
    expect((await events()).map((r) => r.user_id)).toEqual(['free']);
  });

  it('names the right run when the window spans two monthly runs', async () => {
    e = await withEvents({ DELETION_NOTICE_DAYS: '45' });
    const now = at('2026-03-20T12:00:00Z'); // runs within 45 days: 04-01 and 05-01
    await seedAccount(testDb(e), now, { id: 'x', deactivatedAt: at('2026-02-15T00:00:00Z') }); // deleteAfter 03-17
    await seedAccount(testDb(e), now, { id: 'y', deactivatedAt: at('2026-03-15T00:00:00Z') }); // deleteAfter 04-14
    await seedAccount(testDb(e), now, { id: 'z', deactivatedAt: at('2026-03-20T00:00:00Z') }); // deleteAfter 04-19: also 05-01
    expect((await runNamed(e, JOB, { now })).counts).toMatchObject({ notices: 3, delivered: 3 });
    const sent = Object.fromEntries((await receiver.attempts()).map((a) => [a.body!.data.userId, a.body!.data.scheduledDeletionAt]));
    expect(sent).toEqual({ x: '2026-04-01T00:00:00.000Z', y: '2026-05-01T00:00:00.000Z', z: '2026-05-01T00:00:00.000Z' });
  });
});

describe(`${JOB} on the ${layout} layout: delivery`, () => {
  it('retries while the receiver is down, then delivers every event once, with the same ids', async () => {
    const now = at('2026-04-01T00:00:00Z');
    for (const id of ['u1', 'u2', 'u3']) await seedAccount(testDb(e), now, { id, deactivatedAt: at('2026-02-01T00:00:00Z') });
    await runNamed(e, ACCOUNTS, { now });
    const ids = (await events()).map((r) => r.id).sort();

    await receiver.setMode('http503');
    expect((await runNamed(e, JOB, { now })).counts).toMatchObject({ delivered: 0, failed: 3 });
    expect(await events()).toMatchObject(ids.map(() => ({ attempts: 1, delivered: false, parked: false, last_error: 'HTTP 503' })));
    // Backing off: an immediate run sends nothing.
    expect((await runNamed(e, JOB, { now })).counts).toMatchObject({ delivered: 0 });
    expect(await receiver.attempts()).toHaveLength(3);

    await receiver.setMode('reset');
    await makeDue();
    expect((await runNamed(e, JOB, { now })).counts).toMatchObject({ delivered: 0, failed: 3 });

    await receiver.setMode('ok');
    await makeDue();
    expect((await runNamed(e, JOB, { now })).counts).toMatchObject({ delivered: 3, failed: 0 });
    expect((await runNamed(e, JOB, { now })).counts).toMatchObject({ delivered: 0 });

    const attempts = await receiver.attempts();
    expect(attempts).toHaveLength(9);
    expect(attempts.every((a) => a.verified)).toBe(true);
    // The same webhook-id on every attempt of an event; each event accepted exactly once.
    expect(new Set(attempts.map((a) => a.webhookId))).toEqual(new Set(ids));
    expect(
      delivered(attempts)
        .map((a) => a.webhookId)
        .sort(),
    ).toEqual(ids);
    expect(await events()).toMatchObject(ids.map(() => ({ attempts: 3, delivered: true, last_error: null })));
  });

  it('never counts a receiver refusing the request (a wrong URL: 404, a wrong secret: 400) as delivered', async () => {
    const now = at('2026-04-01T00:00:00Z');
    for (const [name, extra] of [
      ['wrong-url', { ACCOUNT_EVENTS_URL: `${receiver.url}-typo` }],
      ['wrong-secret', { ACCOUNT_EVENTS_SECRET: `whsec_${btoa('another-32-byte-secret-0123456789')}` }],
    ] as const) {
      const env = await withEvents(extra);
      await seedAccount(testDb(env), now, { id: name, deactivatedAt: at('2026-02-01T00:00:00Z') });
      await runNamed(env, ACCOUNTS, { now });
      const report = await runNamed(env, JOB, { now });
      expect(report.counts, name).toMatchObject({ delivered: 0, failed: 1 });
      const [event] = await q<{ delivered: boolean; attempts: number; last_error: string }>(
        testDb(env),
        sql`SELECT delivered_at IS NOT NULL AS delivered, attempts, last_error FROM spacerr_jobs.account_events`,
      );
      expect(event, name).toEqual({ delivered: false, attempts: 1, last_error: name === 'wrong-url' ? 'HTTP 404' : 'HTTP 400' });
    }
  });

  it('parks an event after ACCOUNT_EVENTS_MAX_ATTEMPTS and raises account_events_parked', async () => {
    e = await withEvents({ ACCOUNT_EVENTS_MAX_ATTEMPTS: '2' });
    const now = at('2026-04-01T00:00:00Z');
    await seedAccount(testDb(e), now, { id: 'p', deactivatedAt: at('2026-02-01T00:00:00Z') });
    await runNamed(e, ACCOUNTS, { now });
    await receiver.setMode('http503');
    expect((await runNamed(e, JOB, { now })).alarms).toBeUndefined();
    await makeDue();
    const report = await runNamed(e, JOB, { now });
    expect(report.alarms).toMatchObject([{ code: 'account_events_parked', count: 1 }]);
    expect(await events()).toMatchObject([{ attempts: 2, parked: true, delivered: false }]);
    await receiver.setMode('ok');
    await makeDue();
    expect((await runNamed(e, JOB, { now })).counts).toMatchObject({ delivered: 0 });

    // The receiver is fixed: the operator requeues, and the next run delivers the event once.
    const requeue = await createApp().request(
      `/api/internal/jobs/${JOB}/requeue`,
      { method: 'POST', headers: { Authorization: 'Bearer test-cron-secret-0123456789' } },
      e as Env,
    );
    expect([requeue.status, await requeue.json()]).toEqual([200, { job: JOB, requeued: 1 }]);
    expect(await events()).toMatchObject([{ attempts: 0, parked: false, delivered: false }]);
    const after = await runNamed(e, JOB, { now });
    expect(after.counts).toMatchObject({ delivered: 1 });
    expect(after.alarms).toBeUndefined();
    expect(await events()).toMatchObject([{ attempts: 1, parked: false, delivered: true }]);
  });

  it('counts an attempt once when the request recording it committed and its reply was lost', async () => {
    // Two attempts park an event: counted twice, one failed delivery would park it.
    e = await withEvents({ ACCOUNT_EVENTS_MAX_ATTEMPTS: '2' });
    const now = at('2026-04-01T00:00:00Z');
    for (const id of ['r1', 'r2']) await seedAccount(testDb(e), now, { id, deactivatedAt: at('2026-02-01T00:00:00Z') });
    await runNamed(e, ACCOUNTS, { now });
    await receiver.setMode('http503');
    // Request 1 takes the lock, 2 claims; the POSTs fail; 3 records them: it commits, its reply
    // is lost, and the Worker sends it again.
    await setFault(e, 'neon', 'commit-then-drop', { afterRequests: 2, count: 1 });
    const failed = await runNamed(e, JOB, { now });
    expect(failed).toMatchObject({ status: 'succeeded', counts: { delivered: 0, failed: 2 } });
    expect(failed.alarms).toBeUndefined();
    expect(await events()).toMatchObject([
      { attempts: 1, parked: false, delivered: false, last_error: 'HTTP 503' },
      { attempts: 1, parked: false, delivered: false, last_error: 'HTTP 503' },
    ]);
    const [backoff] = await q<{ min_s: number }>(
      testDb(e),
      sql`SELECT min(extract(epoch FROM next_attempt_at - now()))::float8 AS min_s FROM spacerr_jobs.account_events`,
    );
    expect(backoff!.min_s).toBeLessThan(61); // the first backoff (one minute), not the second

    // The same for a delivery: recorded once, with its one attempt.
    await receiver.setMode('ok');
    await makeDue();
    await setFault(e, 'neon', 'commit-then-drop', { afterRequests: 2, count: 1 });
    expect((await runNamed(e, JOB, { now })).counts).toMatchObject({ delivered: 2, failed: 0 });
    expect(await events()).toMatchObject([
      { attempts: 2, parked: false, delivered: true, last_error: null },
      { attempts: 2, parked: false, delivered: true, last_error: null },
    ]);
    expect(delivered(await receiver.attempts())).toHaveLength(2);
  });

  it('costs one request per attempt plus lock, one batch and finish, all counted in the budget', async () => {
    const now = at('2026-04-01T00:00:00Z');
    for (const id of ['c1', 'c2']) await seedAccount(testDb(e), now, { id, deactivatedAt: at('2026-02-01T00:00:00Z') });
    await runNamed(e, ACCOUNTS, { now });
    const before = (await endpointStats(e)).neonRequests;
    const report = await runNamed(e, JOB, { now });
    const neon = (await endpointStats(e)).neonRequests - before;
    // lock, notices + prune + claim (one batch), record the outcomes, finish.
    expect(neon).toBe(4);
    expect(report.subrequests).toBe(neon + 2);
    const idle = await runNamed(e, JOB, { now });
    expect(idle.subrequests).toBe(3); // lock, the batch (nothing claimed), finish
  });

  it('sends nothing and records nothing in a dry run', async () => {
    const now = at('2026-04-01T00:00:00Z');
    await seedAccount(testDb(e), now, { id: 'd', deactivatedAt: at('2026-02-01T00:00:00Z') });
    await runNamed(e, ACCOUNTS, { now, dryRun: true });
    expect(await events()).toEqual([]);
    await runNamed(e, ACCOUNTS, { now });
    const report = await runNamed(e, JOB, { now: at('2026-04-28T00:00:00Z'), dryRun: true });
    expect(report).toMatchObject({ status: 'succeeded', dryRun: true, counts: { due: 1, parked: 0 } });
    expect(await receiver.attempts()).toEqual([]);
    expect(await events()).toMatchObject([{ attempts: 0, delivered: false }]);
  });
});

describe(`on the ${layout} layout, account events off (no ACCOUNT_EVENTS_URL / SECRET)`, () => {
  it('records nothing, sends nothing and takes no lock', async () => {
    e = await provisionEnv();
    const now = at('2026-04-01T00:00:00Z');
    await seedAccount(testDb(e), now, { id: 'off', deactivatedAt: at('2026-02-01T00:00:00Z') });
    expect((await runNamed(e, ACCOUNTS, { now })).counts.users).toBe(1);
    expect(await events()).toEqual([]);
    const before = (await endpointStats(e)).neonRequests;
    const report = await runNamed(e, JOB, { now });
    expect(report).toMatchObject({ status: 'skipped', subrequests: 0, error: 'not configured' });
    expect((await endpointStats(e)).neonRequests).toBe(before);
    expect(await receiver.attempts()).toEqual([]);
  });
});
