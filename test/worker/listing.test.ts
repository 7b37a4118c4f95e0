/**
 * GET /api/internal/jobs and /health as an operator reads them: next scheduled times, backlog
 * figures that match the rows really waiting, and the alarms they raise. The listing reasons about
 * schedules, so it runs at fixed instants (the Worker's clock frozen there, test/support/instants.ts),
 * the awkward ones included, never at whatever time the suite happens to run.
 */
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { parseConfig } from '../../src/settings';
import { createApp } from '../../src/http/app';
import { nextRunAt } from '../../src/run/schedule';
import { testInstants, waitingForItsRun } from '../support/instants';
import { seedAccount } from './seed';
import { provisionEnv, sql, type TestEnv, testDb } from './support';

const SECRET = 'listing-test-secret-0123456789';
const app = createApp();
let e: TestEnv;

const get = async (path: string) => {
  const res = await app.request(path, { headers: { Authorization: `Bearer ${SECRET}` } }, e as Env);
  return { status: res.status, body: (await res.json()) as any };
};

describe.each(testInstants(inject('testNow')))('at %s', (instant) => {
  beforeAll(async () => {
    // Date alone is faked: the requests to Postgres and Redis run on real timers.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date(instant) });
    e = await provisionEnv({ CRON_SECRET: SECRET });
    const db = testDb(e);
    const now = new Date();
    await seedAccount(db, now, { id: 'late', deactivatedDaysAgo: 400 }); // overdue: missed a scheduled run
    // Eligible, and waiting for a run still to come (or inside its grace): a day past the window
    // is overdue from 06:00 on the 1st, so its time comes from the schedule.
    await seedAccount(db, now, { id: 'due', deactivatedAt: waitingForItsRun(now, parseConfig(e as unknown as Record<string, unknown>)) });
    await seedAccount(db, now, { id: 'recent', deactivatedDaysAgo: 3 }); // not yet eligible
    await seedAccount(db, now, {
      id: 'active',
      chats: [{ ageMinutes: 60 }, { ageMinutes: 60 }, { ageMinutes: 60 }, { ageMinutes: 1 }, { ageMinutes: 60, messages: 1 }],
    });
    await db.execute(sql`INSERT INTO spacerr_jobs.blob_deletions (blob_key, parked_at) VALUES ('k1', NULL), ('k2', NULL), ('k3', now())`);
    await db.execute(sql`INSERT INTO spacerr_jobs.stream_deletions (chat_id) VALUES ('gone-chat')`);
    await db.execute(sql`INSERT INTO message_sources (id, message_id, attachment_id) VALUES ('orphan', 'active-c4-m0', NULL)`);
  });

  afterAll(() => {
    vi.useRealTimers();
  });

  describe('GET /api/internal/jobs', () => {
    it('shows per job its next scheduled time and the backlog really waiting', async () => {
      const { status, body } = await get('/api/internal/jobs');
      expect(status).toBe(200);
      expect(body.now).toBe(new Date(instant).toISOString()); // the Worker reads the frozen clock
      const now = Date.parse(body.now);
      const job = (name: string) => body.jobs.find((j: { name: string }) => j.name === name);

      const monthly = new Date(job('delete-stale-deactivated-accounts').nextRunAt);
      expect(monthly).toEqual(nextRunAt('0 0 1 * *', new Date(instant)));
      expect([monthly.getUTCDate(), monthly.getUTCHours(), monthly.getUTCMinutes()]).toEqual([1, 0, 0]);
      expect(monthly.getTime() - now).toBeGreaterThan(0);
      expect(monthly.getTime() - now).toBeLessThanOrEqual(31 * 86_400_000);
      const twelveHourly = new Date(job('delete-stale-empty-chats').nextRunAt);
      expect(twelveHourly.getUTCHours() % 12).toBe(0);
      expect(twelveHourly.getTime() - now).toBeLessThanOrEqual(12 * 3_600_000);
      for (const name of ['purge-deleted-blobs', 'clear-stale-streams', 'delete-orphaned-message-sources']) {
        const next = new Date(job(name).nextRunAt);
        expect(next.getUTCMinutes() % 10).toBe(0);
        expect(next.getTime() - now).toBeLessThanOrEqual(10 * 60_000);
        // The */10 tick defers the sweeps while no user is active: then they follow the next
        // deleting chain, the 12-hourly empty-chat run at the latest.
        expect(job(name).nextRunAtIfIdle).toBe(twelveHourly.toISOString());
      }
      expect(job('delete-stale-empty-chats')).not.toHaveProperty('nextRunAtIfIdle');
      // Account events are off in this env (no ACCOUNT_EVENTS_URL): listed, with no next run.
      expect(job('deliver-account-events')).toMatchObject({ enabled: false, nextRunAt: null });
      expect(job('delete-stale-empty-chats')).toMatchObject({ enabled: true });

      expect(Object.fromEntries(body.jobs.map((j: { name: string; backlog: unknown }) => [j.name, j.backlog]))).toEqual({
        'delete-stale-deactivated-accounts': { eligible: 2, held: 0, overdue: 1, blocked: 0, setAside: 0 },
        'delete-stale-empty-chats': { eligible: 3 },
        'purge-deleted-blobs': { pending: 2, parked: 1, sweeps: 0, sweepsParked: 0 },
        'delete-stripe-customers': { pending: 0, parked: 0 },
        'clear-stale-streams': { deletedChatsQueued: 1 },
        'delete-orphaned-message-sources': { orphaned: 1, checksQueued: 0 },
        'deliver-account-events': { pending: 0, parked: 0 },
      });
      expect(body.ok).toBe(false);
      expect(body.alarms.map((a: { code: string; count: number }) => [a.code, a.count])).toEqual([
        ['accounts_overdue', 1],
        ['blobs_parked', 1],
      ]);
    });

    it('answers health 503 while an alarm stands, with the alarm named, though both stores answer', async () => {
      const { status, body } = await get('/api/internal/health');
      expect(status).toBe(503);
      expect(body).toMatchObject({ ok: false, postgres: { ok: true }, redis: { ok: true } });
      expect(body.alarms.map((a: { code: string }) => a.code)).toEqual(['accounts_overdue', 'blobs_parked']);

      await testDb(e).execute(sql`DELETE FROM users WHERE id = 'late'`);
      await testDb(e).execute(sql`DELETE FROM spacerr_jobs.blob_deletions WHERE parked_at IS NOT NULL`);
      expect(await get('/api/internal/health')).toMatchObject({ status: 200, body: { ok: true, alarms: [] } });
    });
  });
});

describe('POST /api/internal/jobs/:job/requeue', () => {
  const post = async (path: string, method = 'POST') => {
    const res = await app.request(path, { method, headers: { Authorization: `Bearer ${SECRET}` } }, e as Env);
    return { status: res.status, body: (await res.json()) as any };
  };

  it('refuses a job that parks nothing, an unknown job, another method and a missing secret, changing nothing', async () => {
    await testDb(e).execute(sql`INSERT INTO spacerr_jobs.blob_deletions (blob_key, attempts, parked_at) VALUES ('k-requeue', 8, now())`);
    expect(await post('/api/internal/jobs/delete-stale-empty-chats/requeue')).toEqual({
      status: 400,
      body: {
        error: 'nothing_to_requeue',
        message: 'This job parks nothing.',
        jobs: ['purge-deleted-blobs', 'delete-stripe-customers', 'deliver-account-events'],
      },
    });
    expect((await post('/api/internal/jobs/no-such-job/requeue')).status).toBe(404);
    expect((await post('/api/internal/jobs/purge-deleted-blobs/requeue', 'GET')).status).toBe(405);
    const anonymous = await app.request('/api/internal/jobs/purge-deleted-blobs/requeue', { method: 'POST' }, e as Env);
    expect(anonymous.status).toBe(401);
    const [parked] = (
      await testDb(e).execute(
        sql`SELECT count(*)::int AS n FROM spacerr_jobs.blob_deletions WHERE blob_key = 'k-requeue' AND parked_at IS NOT NULL`,
      )
    ).rows;
    expect(parked).toEqual({ n: 1 });
  });
});
