import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { CRONS } from '../../src/run/registry';
import { seedAccount } from './seed';
import { countRows, provisionEnv, q, sql, type TestEnv, testDb } from './support';

const SCHEDULED_TIME = new Date('2026-11-01T00:00:00.000Z');

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});
afterEach(() => vi.restoreAllMocks());

async function fire(cron: string, testEnv: Env = e) {
  const controller = createScheduledController({ cron, scheduledTime: SCHEDULED_TIME });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, testEnv, ctx);
  await waitOnExecutionContext(ctx);
}

describe('scheduled()', () => {
  it.each(Object.entries(CRONS))('cron "%s" runs %j and records each run as scheduled', async (cron, jobs) => {
    await fire(cron);
    const runs = await q<{ job: string; trigger: string; status: string }>(
      testDb(e),
      sql`SELECT job, trigger, status FROM spacerr_jobs.job_runs ORDER BY started_at`,
    );
    expect(runs).toEqual(jobs.map((job) => ({ job, trigger: 'scheduled', status: 'succeeded' })));
  });

  it('uses the scheduled time as the run reference time', async () => {
    const db = testDb(e);
    // 20 minutes before the scheduled time: stale then, whatever the wall clock says now.
    await seedAccount(db, SCHEDULED_TIME, { id: 'u', chats: [{ ageMinutes: 20 }, { ageMinutes: 5 }] });
    await fire('0 */12 * * *');
    expect(await q(db, sql`SELECT id FROM chats`)).toEqual([{ id: 'u-c1' }]);
  });

  it('splits the invocation budget between the jobs of one cron', async () => {
    await fire('*/10 * * * *');
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
