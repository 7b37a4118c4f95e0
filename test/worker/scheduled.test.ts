import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { parseConfig } from '../../src/settings';
import { ACTIVE_STREAMS_KEY } from '../../src/redis/streams';
import { jobsForCron } from '../../src/jobs';
import { CRONS } from '../support/crons';
import { seedAccount } from './seed';
import { countRows, endpointStats, provisionEnv, q, sql, type TestEnv, testDb, testRedis } from './support';

const SCHEDULED_TIME = new Date('2026-11-01T00:00:00.000Z');

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});
afterEach(() => vi.restoreAllMocks());

/** Messages the Worker sent to CONTINUATIONS (kept here: the local queue would run them against another database). */
let sent: unknown[] = [];

async function fire(cron: string, testEnv: Env = e) {
  const controller = createScheduledController({ cron, scheduledTime: SCHEDULED_TIME });
  const ctx = createExecutionContext();
  const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
  await worker.scheduled(controller, { ...testEnv, CONTINUATIONS: queue }, ctx);
  await waitOnExecutionContext(ctx);
}

/** A user is chatting: a heartbeat fresh at the scheduled time. */
const chatting = () => testRedis(e).zadd(ACTIVE_STREAMS_KEY, { score: SCHEDULED_TIME.getTime(), member: 'live-chat' });

const sweepCron = Object.keys(CRONS).find((cron) => jobsForCron(cron)?.every((job) => job.sweep)) ?? '';

/** The jobs a cron runs with this file's settings: an optional job left unconfigured (account events) is not run. */
const configured = (cron: string, env: object = e) =>
  (jobsForCron(cron) ?? []).filter((job) => job.enabled?.(parseConfig(env as Record<string, unknown>)) ?? true).map((j) => j.name);

describe('scheduled()', () => {
  beforeEach(() => {
    sent = [];
  });

  it.each(Object.entries(CRONS))(
    'cron "%s" runs %j (the sweeps while a user chats; the configured ones) and records each run as scheduled',
    async (cron) => {
      const jobs = configured(cron);
      await chatting();
      await fire(cron);
      const runs = await q<{ job: string; trigger: string; status: string }>(
        testDb(e),
        sql`SELECT job, trigger, status FROM spacerr_jobs.job_runs ORDER BY started_at`,
      );
      expect(runs).toEqual(jobs.map((job) => ({ job, trigger: 'scheduled', status: 'succeeded' })));
    },
  );

  it('uses the scheduled time as the run reference time', async () => {
    const db = testDb(e);
    // 20 minutes before the scheduled time: stale then, whatever the wall clock says now.
    await seedAccount(db, SCHEDULED_TIME, { id: 'u', chats: [{ ageMinutes: 20 }, { ageMinutes: 5 }] });
    await fire('0 */12 * * *');
    expect(await q(db, sql`SELECT id FROM chats`)).toEqual([{ id: 'u-c1' }]);
  });

  it('a tick with no fresh heartbeat talks to Upstash only: stale streams removed, no job_runs row, one tick line', async () => {
    const redis = testRedis(e);
    const stale = SCHEDULED_TIME.getTime() - 11 * 60_000;
    await redis.zadd(ACTIVE_STREAMS_KEY, { score: stale, member: 'gone' });
    await redis.set('active-stream:gone', 'stream-1');
    const log = vi.spyOn(console, 'log');
    const before = await endpointStats(e);
    await fire(sweepCron);
    const after = await endpointStats(e);
    expect(after.neonRequests - before.neonRequests).toBe(0);
    expect(after.upstashRequests - before.upstashRequests).toBe(1);
    expect(await redis.zrange(ACTIVE_STREAMS_KEY, 0, -1)).toEqual([]);
    expect(await redis.exists('active-stream:gone')).toBe(0);
    expect(await countRows(testDb(e), 'job_runs')).toBe(0);
    expect(log.mock.calls.map((c) => JSON.parse(String(c[0])))).toContainEqual(
      expect.objectContaining({ event: 'tick', cron: sweepCron, sweeps: 'deferred', reason: 'idle', removed: 1, fresh: 0 }),
    );
    expect(sent).toEqual([]);
  });

  it('the sweeps follow a deleting cron: its run sends the first, each sweep the next, through the queue', async () => {
    const cron = Object.keys(CRONS).find((c) => c !== sweepCron) ?? '';
    await fire(cron);
    const [run] = await q<{ id: string }>(testDb(e), sql`SELECT id FROM spacerr_jobs.job_runs WHERE trigger = 'scheduled'`);
    const sweeps = configured(sweepCron);
    expect(sent).toEqual([{ job: sweeps[0], continues: run?.id, hop: 1, then: sweeps.slice(1) }]);
  });

  it('with account events configured, the sweeps that follow a deleting cron include their delivery', async () => {
    const on = { ...e, ACCOUNT_EVENTS_URL: 'https://app.example/hooks', ACCOUNT_EVENTS_SECRET: `whsec_${btoa('k'.repeat(32))}` };
    await fire(Object.keys(CRONS).find((c) => c !== sweepCron) ?? '', on);
    const all = configured(sweepCron, on);
    expect(all).toContain('deliver-account-events');
    expect(sent).toMatchObject([{ job: all[0], then: all.slice(1) }]);
  });

  it('splits the invocation budget between the jobs of one cron', async () => {
    await chatting();
    await fire(sweepCron);
    const runs = await q<{ subrequests: number }>(testDb(e), sql`SELECT subrequests FROM spacerr_jobs.job_runs`);
    const total = runs.reduce((n, r) => n + r.subrequests, 0);
    expect(runs).toHaveLength(3);
    expect(total).toBeLessThanOrEqual(Number(env.RUN_SUBREQUEST_BUDGET));
  });

  it('fails the invocation, with an error log, for a cron expression no job claims', async () => {
    const error = vi.spyOn(console, 'error');
    await expect(fire('5 4 * * *')).rejects.toThrow(/no job is mapped to cron "5 4 \* \* \*"/);
    expect(error.mock.calls.map((c) => JSON.parse(String(c[0])))).toContainEqual(
      expect.objectContaining({ event: 'unknown_cron', cron: '5 4 * * *' }),
    );
    expect(await countRows(testDb(e), 'job_runs')).toBe(0);
  });

  it.each([
    ['ACCOUNT_RETENTION_DAYS', '-3'],
    ['ACCOUNT_RETENTION_DAYS', 'abc'],
    ['ACCOUNT_RETENTION_DAYS', '0'],
    ['ACCOUNT_RETENTION_DAYS', ''],
    ['ACCOUNT_RETENTION_DAYS', '30.5'],
    ['EMPTY_CHAT_MIN_AGE_MINUTES', '15m'],
    ['DELETE_BATCH_SIZE', '0'],
    ['RUN_SUBREQUEST_BUDGET', '1e3'],
    ['DATABASE_URL', 'mysql://nope'],
    ['UPSTASH_REDIS_REST_TOKEN', ''],
  ])('fails the run naming %s when it is %j, deleting nothing', async (variable, value) => {
    const db = testDb(e);
    await seedAccount(db, SCHEDULED_TIME, { id: 'u', deactivatedDaysAgo: 400, chats: [{ ageMinutes: 600 }] });
    const bad = { ...e, [variable]: value } as Env;
    for (const cron of ['0 0 1 * *', '0 */12 * * *']) {
      await expect(fire(cron, bad)).rejects.toThrow(new RegExp(`^${variable}: `));
    }
    expect(await countRows(db, 'users')).toBe(1);
    expect(await countRows(db, 'chats')).toBe(1);
  });
});

describe('through the Worker itself (exports.default)', () => {
  it('serves scheduled events and the HTTP API from its own env', async () => {
    // The Worker's own exports, as the runtime calls them (bindings from the test project's env).
    const self = (exports as unknown as { default: Fetcher & { scheduled(c: { cron: string; scheduledTime: number }): Promise<unknown> } })
      .default;
    await expect(self.scheduled({ cron: '0 */12 * * *', scheduledTime: SCHEDULED_TIME.getTime() })).resolves.toBeUndefined();

    const res = await self.fetch('http://worker/api/internal/jobs', { headers: { Authorization: `Bearer ${env.CRON_SECRET}` } });
    expect(res.status).toBe(200);
    const { jobs } = (await res.json()) as { jobs: Array<{ name: string; lastRun: { trigger: string } | null }> };
    expect(jobs.find((j) => j.name === 'delete-stale-empty-chats')?.lastRun?.trigger).toBe('scheduled');
    expect((await self.fetch('http://worker/api/internal/jobs')).status).toBe(401);
  });
});
