/**
 * Load: 50 concurrent manual runs of every job (GET and POST mixed) plus a delivery of each cron,
 * all at once, through the Worker's own fetch and scheduled handlers, against real stale work.
 * The lock is a row in Postgres, so the property is: the runs of one job are serialised, the
 * seeded rows are deleted exactly once (the counts of all succeeded runs sum to what was seeded,
 * and only the first succeeded run has non-zero counts, since the seed fits in one run), every
 * other answer is `skipped` naming a holder, and job_runs agrees with the answers.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { CRONS } from '../support/crons';
import type { RunReport } from '../../src/run/report';
import { ACTIVE_STREAMS_KEY, streamKey } from '../../src/redis/streams';
import { seedAccount } from './seed';
import { countRows, enabledJobs, provisionEnv, q, sql, type TestEnv, testDb, testRedis } from './support';

/** The jobs this environment runs: account events (an optional job) are not configured here. */

const SECRET = 'load-test-secret-0123456789';
const CONCURRENT = 50;
const MIN = 60_000;
/** What each job must delete, in total, across all of its runs. */
const SEEDED: Record<string, Record<string, number>> = {
  'delete-stale-deactivated-accounts': { users: 10 },
  'delete-stale-empty-chats': { chats: 20 },
  'purge-deleted-blobs': { blobs: 30 },
  'clear-stale-streams': { redis_streams: 25 },
  'delete-orphaned-message-sources': { message_sources: 15 },
};

async function seed(e: TestEnv, now: Date) {
  const db = testDb(e);
  for (let i = 0; i < 10; i++) await seedAccount(db, now, { id: `gone${i}`, deactivatedDaysAgo: 40 });
  await seedAccount(db, now, { id: 'empty', chats: Array.from({ length: 20 }, () => ({ ageMinutes: 60 })) });
  // An active user's chat with 30 attachments, then those attachments deleted by the app: 30 blobs queued.
  await seedAccount(db, now, { id: 'att', chats: [{ ageMinutes: 5, messages: 1, attachments: 30 }] });
  for (let i = 0; i < 30; i++) await e.BLOBS.put(`blobs/att-c0-a${i}`, 'x');
  // 15 of those sources become orphans when their attachments go (SET NULL).
  await db.execute(sql`DELETE FROM message_sources WHERE id NOT IN (SELECT id FROM message_sources ORDER BY id LIMIT 15)`);
  await db.execute(sql`DELETE FROM attachments WHERE user_id = 'att'`);
  const redis = testRedis(e);
  for (let i = 0; i < 25; i++) {
    await redis.zadd(ACTIVE_STREAMS_KEY, { score: now.getTime() - 60 * MIN, member: `stale${i}` });
    await redis.set(streamKey(`stale${i}`), 's');
  }
  await redis.zadd(ACTIVE_STREAMS_KEY, { score: now.getTime(), member: 'fresh' });
}

it(
  `holds ${CONCURRENT} concurrent runs of every job plus every cron: each row deleted once, the rest skipped`,
  { timeout: 120_000 },
  async () => {
    // No continuations: the seed fits one run, and a queued hop would run against another database.
    const e = await provisionEnv({ CRON_SECRET: SECRET, CONTINUATION_MAX_HOPS: '0' });
    const now = new Date();
    await seed(e, now);
    const db = testDb(e);
    // Every run logs one JSON line; collect them (and keep 250 of them off the console).
    const lines: string[] = [];
    const collect = (line: unknown) => void lines.push(String(line));
    const spies = (['log', 'warn', 'error'] as const).map((level) => vi.spyOn(console, level).mockImplementation(collect));

    const http = enabledJobs(e).flatMap((job) =>
      Array.from({ length: CONCURRENT }, async (_, i) => {
        const ctx = createExecutionContext();
        const res = await worker.fetch(
          new Request(`http://worker/api/internal/jobs/${job.name}`, {
            method: i % 2 ? 'POST' : 'GET',
            headers: { Authorization: `Bearer ${SECRET}` },
          }),
          e,
          ctx,
        );
        await waitOnExecutionContext(ctx);
        return { status: res.status, report: (await res.json()) as RunReport };
      }),
    );
    const crons = Object.keys(CRONS).map(async (cron) => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ cron, scheduledTime: now }), e, ctx);
      await waitOnExecutionContext(ctx);
      return cron;
    });
    // No deadlock: everything settles (the test timeout is the bound), and no cron delivery fails.
    const answers = await Promise.all(http);
    expect(await Promise.allSettled(crons)).toEqual(Object.keys(CRONS).map((value) => ({ status: 'fulfilled', value })));
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    for (const spy of spies) spy.mockRestore();

    const runs = await q<{
      id: string;
      job: string;
      trigger: string;
      status: string;
      counts: Record<string, number>;
      started: number;
      finished: number;
    }>(
      db,
      sql`SELECT id, job, trigger, status, counts, extract(epoch FROM started_at) * 1000 AS started,
               extract(epoch FROM finished_at) * 1000 AS finished
        FROM spacerr_jobs.job_runs ORDER BY started_at, finished_at`,
    );
    const summary: Record<string, Record<string, number>> = {};
    for (const job of enabledJobs(e)) {
      const mine = runs.filter((r) => r.job === job.name);
      const reports = answers.map((a) => a.report).filter((r) => r.job === job.name);
      // One row per answer plus the cron's run; nothing left running, nothing failed.
      expect(mine).toHaveLength(CONCURRENT + 1);
      expect(mine.filter((r) => r.trigger === 'scheduled')).toHaveLength(1);
      expect(mine.filter((r) => !['succeeded', 'skipped'].includes(r.status))).toEqual([]);
      for (const r of reports) expect(mine.find((m) => m.id === r.runId)?.status).toBe(r.status);

      const succeeded = mine.filter((r) => r.status === 'succeeded').sort((a, b) => a.started - b.started);
      expect(succeeded.length).toBeGreaterThanOrEqual(1);
      // Exactly once: the first succeeded run did all the work; later ones found nothing left.
      const [first, ...later] = succeeded;
      expect(first!.counts).toMatchObject(SEEDED[job.name]!);
      for (const key of Object.keys(SEEDED[job.name]!)) {
        expect(succeeded.reduce((n, r) => n + (r.counts[key] ?? 0), 0)).toBe(SEEDED[job.name]![key]);
      }
      for (const r of later) expect(Object.values(r.counts).every((n) => n === 0)).toBe(true);

      // Every skipped answer names the run that held the lock (or none, when it finished meanwhile).
      const ids = new Set(mine.filter((r) => r.status !== 'skipped').map((r) => r.id));
      for (const r of reports.filter((r) => r.status === 'skipped')) {
        expect(r.error).toBe('another run of this job is in progress');
        if (r.heldBy != null) expect(ids).toContain(r.heldBy);
      }
      summary[job.name] = { succeeded: succeeded.length, skipped: mine.length - succeeded.length };
    }
    const logged = lines.map((l) => JSON.parse(l) as { event: string; runId?: string }).filter((l) => l.event === 'job_run');
    expect(new Set(logged.map((l) => l.runId))).toEqual(new Set(runs.map((r) => r.id)));
    console.log(JSON.stringify({ event: 'load_summary', concurrentPerJob: CONCURRENT, crons: Object.keys(CRONS).length, runs: summary }));

    // The seeded work is gone, and only it.
    expect(await countRows(db, 'users')).toBe(2);
    expect(await countRows(db, 'chats')).toBe(1);
    expect(await countRows(db, 'blob_deletions')).toBe(0);
    expect(await countRows(db, 'message_sources')).toBe(0);
    expect((await e.BLOBS.list({ prefix: 'blobs/att-' })).objects).toEqual([]);
    expect(await testRedis(e).zrange(ACTIVE_STREAMS_KEY, 0, -1)).toEqual(['fresh']);
  },
);
