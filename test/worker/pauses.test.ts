/**
 * Pausing a job without a deploy (src/run/pauses.ts), through the Worker's real handlers (HTTP
 * routes, `scheduled()`, `queue()`) against the real stack: a paused job's runs are recorded
 * `skipped` with the reason and who paused it at the cost of the lock request alone, its queued
 * continuations and recoveries are dropped, the chain it heads goes on to the sweeps, the listing
 * and health show it, and a pause left on past PAUSE_ALARM_HOURS raises `job_paused`.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app';
import worker from '../../src/index';
import { seedAccount } from './seed';
import { countRows, endpointStats, provisionEnv, q, sql, type TestEnv, testDb } from './support';

const SECRET = 'pause-test-secret-0123';
const JOB = 'delete-stale-empty-chats';
const app = createApp();
let e: TestEnv;

beforeEach(async () => {
  e = await provisionEnv({ CRON_SECRET: SECRET });
});

const call = (path: string, init: RequestInit = {}) =>
  app.request(path, { ...init, headers: { Authorization: `Bearer ${SECRET}`, ...(init.headers ?? {}) } }, e);
const post = (path: string, body?: unknown) =>
  call(path, { method: 'POST', ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }) });

async function pause(job = JOB, body: unknown = { reason: 'incident 42: checking the cutoff', by: 'alice' }) {
  const res = await post(`/api/internal/jobs/${job}/pause`, body);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const runsOf = (job: string) =>
  q<{ trigger: string; status: string; error: string | null }>(
    testDb(e),
    sql`SELECT trigger, status, error FROM spacerr_jobs.job_runs WHERE job = ${job} ORDER BY started_at, id`,
  );

const PAUSED_ERROR = /^paused by alice since \d{4}-\d\d-\d\dT[\d:.]+Z: incident 42: checking the cutoff$/;

describe('a paused job', () => {
  it('answers the pause with the Pause; its runs are skipped with the reason and who paused it, one request each, until resumed', async () => {
    const db = testDb(e);
    await seedAccount(db, new Date(), { id: 'u', chats: [{ ageMinutes: 60 }] });
    const paused = await pause();
    expect(paused).toEqual({
      status: 200,
      body: { pause: { job: JOB, reason: 'incident 42: checking the cutoff', by: 'alice', since: expect.any(String) } },
    });

    const before = await endpointStats(e);
    const res = await post(`/api/internal/jobs/${JOB}`);
    const report = (await res.json()) as Record<string, unknown>;
    // The pause is read inside the lock request: the run costs that one request and nothing else.
    expect((await endpointStats(e)).neonRequests - before.neonRequests).toBe(1);
    expect(res.status).toBe(200);
    expect(report).toMatchObject({
      status: 'skipped',
      subrequests: 1,
      error: expect.stringMatching(PAUSED_ERROR),
      paused: { by: 'alice' },
    });
    expect(await countRows(db, 'chats')).toBe(1);

    // A dry run deletes nothing: it still counts.
    const dry = (await (await post(`/api/internal/jobs/${JOB}?dryRun=1`)).json()) as Record<string, unknown>;
    expect(dry).toMatchObject({ status: 'succeeded', counts: { chats: 1 } });

    expect(await (await post(`/api/internal/jobs/${JOB}/resume`)).json()).toEqual({ resumed: true });
    expect(await (await post(`/api/internal/jobs/${JOB}/resume`)).json()).toEqual({ resumed: false });
    expect(await (await post(`/api/internal/jobs/${JOB}`)).json()).toMatchObject({ status: 'succeeded', counts: { chats: 1 } });
    expect(await countRows(db, 'chats')).toBe(0);
  });

  it('skips its cron delivery, and the sweeps that follow its chain still run', async () => {
    await seedAccount(testDb(e), new Date('2099-12-01T12:00:00.000Z'), { id: 'u', chats: [{ ageMinutes: 60 }] });
    await pause();
    const sent: unknown[] = [];
    const ctx = createExecutionContext();
    const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
    const controller = createScheduledController({ cron: '0 */12 * * *', scheduledTime: new Date('2099-12-01T12:00:00.000Z') });
    await worker.scheduled(controller, { ...e, CONTINUATIONS: queue }, ctx);
    await waitOnExecutionContext(ctx);
    expect(await runsOf(JOB)).toEqual([{ trigger: 'scheduled', status: 'skipped', error: expect.stringMatching(PAUSED_ERROR) }]);
    expect(await countRows(testDb(e), 'chats')).toBe(1);
    expect(sent).toMatchObject([{ job: 'purge-deleted-blobs', hop: 1 }]);
  });

  it('drops its queued continuation and its recovery: acked, nothing run', async () => {
    const db = testDb(e);
    await seedAccount(db, new Date(), { id: 'u', chats: [{ ageMinutes: 60 }] });
    await pause();
    const bodies = [
      { job: JOB, continues: 'sched-1', hop: 1 },
      { job: JOB, continues: 'sched-2', hop: 1, recovery: true },
    ];
    const messages = bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body }));
    for (const message of messages) {
      const batch = createMessageBatch('spacerr-jobs-continuations', [message]);
      const ctx = createExecutionContext();
      await worker.queue(batch, { ...e, CONTINUATIONS: { send: async () => {} } as unknown as Queue }, ctx);
      const result = await getQueueResult(batch, ctx);
      expect(result.explicitAcks).toEqual([message.id]);
      expect(result.retryMessages).toEqual([]);
    }
    expect((await runsOf(JOB)).map((r) => [r.trigger, r.status])).toEqual([
      ['queue', 'skipped'],
      ['queue', 'skipped'],
    ]);
    expect(await countRows(db, 'chats')).toBe(1);
  });

  it('shows in the listing and the health route; past PAUSE_ALARM_HOURS it raises job_paused (health 503)', async () => {
    await pause();
    const listing = (await (await call('/api/internal/jobs')).json()) as {
      ok: boolean;
      alarms: unknown[];
      jobs: Array<{ name: string; paused: unknown }>;
    };
    expect(listing.jobs.find((j) => j.name === JOB)?.paused).toMatchObject({ reason: 'incident 42: checking the cutoff', by: 'alice' });
    expect(listing.jobs.filter((j) => j.paused !== null).map((j) => j.name)).toEqual([JOB]);
    expect(listing.ok).toBe(true);
    const health = await call('/api/internal/health');
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true, paused: [{ job: JOB, by: 'alice' }], alarms: [] });

    // Paused since 25 hours (PAUSE_ALARM_HOURS is 24).
    await testDb(e).execute(sql`UPDATE spacerr_jobs.job_pauses SET since = now() - interval '25 hours'`);
    const late = await call('/api/internal/health');
    expect(late.status).toBe(503);
    const alarm = { code: 'job_paused', job: JOB, count: 1, message: expect.stringContaining(`npm run job -- resume ${JOB}`) };
    expect(await late.json()).toMatchObject({ ok: false, alarms: [alarm] });
    expect(await (await call('/api/internal/jobs')).json()).toMatchObject({ ok: false, alarms: [alarm] });
    // Pausing it again keeps `since`: the alarm is not silenced by a second pause.
    await pause(JOB, { reason: 'still checking' });
    expect((await call('/api/internal/health')).status).toBe(503);
  });
});

describe('the pause and resume routes refuse bad requests with their documented status', () => {
  it.each([
    ['an unknown job (pause)', 404, 'POST', '/api/internal/jobs/delete-everything/pause', { reason: 'x' }, 'unknown_job'],
    ['an unknown job (resume)', 404, 'POST', '/api/internal/jobs/delete-everything/resume', undefined, 'unknown_job'],
    ['no reason', 400, 'POST', `/api/internal/jobs/${JOB}/pause`, { by: 'alice' }, 'bad_request'],
    ['an empty reason', 400, 'POST', `/api/internal/jobs/${JOB}/pause`, { reason: '  ' }, 'bad_request'],
    ['no body', 400, 'POST', `/api/internal/jobs/${JOB}/pause`, undefined, 'bad_request'],
    ['a body that is not JSON', 400, 'POST', `/api/internal/jobs/${JOB}/pause`, 'reason=x', 'bad_request'],
    ['an unknown field', 400, 'POST', `/api/internal/jobs/${JOB}/pause`, { reason: 'x', until: 'tomorrow' }, 'bad_request'],
    ['GET on pause', 405, 'GET', `/api/internal/jobs/${JOB}/pause`, undefined, 'method_not_allowed'],
    ['GET on resume', 405, 'GET', `/api/internal/jobs/${JOB}/resume`, undefined, 'method_not_allowed'],
  ] as const)('%s → %i', async (_name, status, method, path, body, error) => {
    const res = await call(path, {
      method,
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ error });
    if (status === 405) expect(res.headers.get('Allow')).toBe('POST');
    expect(await q(testDb(e), sql`SELECT job FROM spacerr_jobs.job_pauses`)).toEqual([]);
  });

  it('without the secret → 401, pausing nothing', async () => {
    const res = await app.request(`/api/internal/jobs/${JOB}/pause`, { method: 'POST', body: JSON.stringify({ reason: 'x' }) }, e);
    expect(res.status).toBe(401);
    expect(await q(testDb(e), sql`SELECT job FROM spacerr_jobs.job_pauses`)).toEqual([]);
  });
});
