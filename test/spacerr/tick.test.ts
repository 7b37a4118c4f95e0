/**
 * The frequent (every 10 minutes) tick with STREAM_STATE `resumable-stream` (src/chain/tick.ts): Spacerr writes no
 * heartbeats, so the sign that users are streaming is a live sentinel under STREAM_KEY_PREFIX,
 * found by one Upstash script (SCAN + MGET), without waking Neon. Dead sentinels are ended on the
 * way, so a dead stream neither keeps the app looking busy nor makes a reload wait for it.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/settings';
import worker from '../../src/index';
import { DONE, SENTINEL_TTL_SECONDS, sentinelKey } from '../../src/redis/sentinels';
import { isEnabled } from '../../src/run/job';
import { jobsForCron } from '../../src/jobs';
import { CRONS } from '../support/crons';
import { endpointStats, provisionEnv, q, sql, type TestEnv, testDb, testRedis } from '../worker/support';

const SCHEDULED_TIME = new Date('2026-11-01T00:10:00.000Z');
const sweepCron = Object.keys(CRONS).find((cron) => jobsForCron(cron)?.every((job) => job.sweep)) ?? '';
const key = (id: string, prefix = 'resumable-stream') => sentinelKey(prefix, id);

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv({}, { dedicatedRedis: true });
});
afterEach(() => vi.restoreAllMocks());

async function tick(testEnv: Env = e) {
  const ctx = createExecutionContext();
  const queue = { send: async () => {} } as unknown as Queue;
  const logs = vi.spyOn(console, 'log').mockImplementation(() => {});
  const before = await endpointStats(e);
  await worker.scheduled(
    createScheduledController({ cron: sweepCron, scheduledTime: SCHEDULED_TIME }),
    { ...testEnv, CONTINUATIONS: queue },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const after = await endpointStats(e);
  const lines = logs.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
  logs.mockRestore();
  return {
    line: lines.find((l) => l.event === 'tick'),
    neon: after.neonRequests - before.neonRequests,
    upstash: after.upstashRequests - before.upstashRequests,
    billed: (after.upstashBilled ?? 0) - (before.upstashBilled ?? 0),
  };
}

const runs = () => q<{ job: string }>(testDb(e), sql`SELECT job FROM spacerr_jobs.job_runs ORDER BY started_at`);

describe('the tick on the resumable-stream layout', () => {
  it('with no live sentinel: one Upstash request, Neon untouched, dead sentinels ended, finished ones left', async () => {
    const redis = testRedis(e);
    await redis.set(key('s-dead'), '1', { ex: SENTINEL_TTL_SECONDS - 301 }); // older than STREAM_MAX_DURATION_SECONDS
    await redis.set(key('s-done'), DONE, { ex: SENTINEL_TTL_SECONDS });
    await redis.set(key('s-other', 'other-app'), '1', { ex: SENTINEL_TTL_SECONDS }); // not under this prefix
    for (let i = 0; i < 50; i++) await redis.set(`cache:${i}`, 'x');

    const t = await tick();

    expect(t.line).toMatchObject({ event: 'tick', sweeps: 'deferred', reason: 'idle', removed: 1, fresh: 0 });
    expect(t).toMatchObject({ neon: 0, upstash: 1 });
    // EVAL, one SCAN round, one MGET of the two sentinels, one TTL and one SET for the dead one.
    expect(t.billed).toBe(5);
    expect(await redis.get(key('s-dead'))).toBe(DONE);
    expect(await redis.ttl(key('s-dead'))).toBeLessThanOrEqual(SENTINEL_TTL_SECONDS - 301);
    expect(await redis.get(key('s-done'))).toBe(DONE);
    expect(await runs()).toEqual([]);
  });

  it('with an empty keyspace costs two commands (EVAL, SCAN)', async () => {
    const t = await tick();
    expect(t.line).toMatchObject({ sweeps: 'deferred', reason: 'idle' });
    expect(t).toMatchObject({ neon: 0, upstash: 1, billed: 2 });
  });

  it('with a live sentinel runs the sweeps (users are streaming, so Postgres is awake anyway)', async () => {
    await testRedis(e).set(key('s-live'), '1', { ex: SENTINEL_TTL_SECONDS - 20 });

    const t = await tick();

    expect(t.line).toMatchObject({ event: 'tick', sweeps: 'run', reason: 'active', fresh: 1 });
    expect(t.neon).toBeGreaterThan(0);
    const config = parseConfig(e as unknown as Record<string, unknown>);
    expect((await runs()).map((r) => r.job)).toEqual(
      jobsForCron(sweepCron)!
        .filter((j) => isEnabled(j, config))
        .map((j) => j.name),
    );
    expect(await testRedis(e).get(key('s-live'))).toBe('1');
  });

  it('reads the prefix the app gives createResumableStreamContext (STREAM_KEY_PREFIX)', async () => {
    await testRedis(e).set(key('s-live', 'spacerr'), '1', { ex: SENTINEL_TTL_SECONDS });
    expect((await tick()).line).toMatchObject({ reason: 'idle' });
    expect((await tick({ ...e, STREAM_KEY_PREFIX: 'spacerr' } as Env)).line).toMatchObject({ reason: 'active' });
  });
});
