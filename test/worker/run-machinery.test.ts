import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { seedAccount } from './seed';
import { countRows, fixedBatches, provisionEnv, q, runNamed, Session, sql, testDb, type TestEnv } from './support';

const NOW = new Date('2026-11-01T12:00:00.000Z');

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('batching within a subrequest budget', () => {
  it('stops with more: true at the budget, and repeated runs finish with no row deleted twice or skipped', async () => {
    // Budget 5 = lock + finish + 3 batches of 3 chats: 9 chats per run.
    e = await provisionEnv({ ...fixedBatches(3), RUN_SUBREQUEST_BUDGET: '5' });
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: Array.from({ length: 20 }, () => ({ ageMinutes: 60 })) });
    await seedAccount(db, NOW, { id: 'keep', chats: [{ ageMinutes: 60, messages: 1 }, { ageMinutes: 1 }] });

    const reports = [];
    for (let i = 0; i < 5; i++) {
      const r = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
      reports.push(r);
      if (!r.more) break;
    }

    expect(reports.map((r) => [r.counts.chats, r.more, r.subrequests])).toEqual([
      [9, true, 5],
      [9, true, 5],
      [2, false, 3],
    ]);
    expect(await q(db, sql`SELECT id FROM chats ORDER BY id`)).toEqual([{ id: 'keep-c0' }, { id: 'keep-c1' }]);
  });

  it('batches accounts too, and keeps budget to clear their stream state in the same run', async () => {
    // Budget 7 = lock + finish + 2 batches of 2 users + 3 for draining their chats' stream queue.
    e = await provisionEnv({ ...fixedBatches(2), RUN_SUBREQUEST_BUDGET: '7' });
    const db = testDb(e);
    for (let i = 0; i < 5; i++)
      await seedAccount(db, NOW, { id: `u${i}`, deactivatedDaysAgo: 40, chats: [{ ageMinutes: 5, messages: 1 }] });

    const first = await runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW });
    expect(first).toMatchObject({ more: true, subrequests: 7, counts: { users: 4, chats: 4, stream_deletions: 4 } });
    const second = await runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW });
    // The run that finishes the work also checks for overdue accounts, inside its finishing request.
    expect(second).toMatchObject({ more: false, subrequests: 6, counts: { users: 1, chats: 1, stream_deletions: 1 } });
    expect(await countRows(db, 'users')).toBe(0);
    expect(await countRows(db, 'stream_deletions')).toBe(0);
  });
});

describe('the lock', () => {
  it('skips a run while another run of the job holds the lock, naming the holder', async () => {
    const db = testDb(e);
    await db.execute(sql`INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, status, lease_until)
      VALUES ('holder', 'delete-stale-empty-chats', 'scheduled', now(), 'running', now() + interval '5 minutes')`);
    await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60 }] });

    const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });

    expect(report).toMatchObject({ status: 'skipped', heldBy: 'holder', counts: {} });
    expect(await countRows(db, 'chats')).toBe(1);
    const [row] = await q(db, sql`SELECT status, error FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`);
    expect(row).toEqual({ status: 'skipped', error: 'another run of this job is in progress' });
    // Other jobs are not blocked by it.
    expect((await runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW })).status).toBe('succeeded');
  });

  it('takes over a lock whose holder died once its lease expired, marking that run abandoned', async () => {
    const db = testDb(e);
    await db.execute(sql`INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, status, lease_until)
      VALUES ('dead', 'delete-stale-empty-chats', 'scheduled', now() - interval '1 hour', 'running', now() - interval '1 second')`);
    const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });
    expect(report.status).toBe('succeeded');
    const [dead] = await q(db, sql`SELECT status, finished_at IS NOT NULL AS finished FROM spacerr_jobs.job_runs WHERE id = 'dead'`);
    expect(dead).toEqual({ status: 'abandoned', finished: true });
  });

  it('never lets concurrent runs of one job overlap, and together they delete each row once', async () => {
    e = await provisionEnv(fixedBatches(2));
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: Array.from({ length: 30 }, () => ({ ageMinutes: 60 })) });

    const reports = await Promise.all(Array.from({ length: 8 }, () => runNamed(e, 'delete-stale-empty-chats', { now: NOW })));

    const ran = reports.filter((r) => r.status === 'succeeded');
    expect(ran.length).toBeGreaterThanOrEqual(1);
    expect(reports.filter((r) => r.status === 'skipped').length).toBe(8 - ran.length);
    expect(ran.reduce((n, r) => n + (r.counts.chats ?? 0), 0)).toBe(30);
    expect(await countRows(db, 'chats')).toBe(0);
    // The runs that did work never overlapped in time.
    const intervals = await q<{ started_at: Date; finished_at: Date }>(
      db,
      sql`
      SELECT started_at, finished_at FROM spacerr_jobs.job_runs WHERE status = 'succeeded' ORDER BY started_at`,
    );
    for (let i = 1; i < intervals.length; i++) {
      expect(new Date(intervals[i]!.started_at).getTime()).toBeGreaterThanOrEqual(new Date(intervals[i - 1]!.finished_at).getTime());
    }
  });

  it('holds while a run is genuinely in progress (a second start during the first is skipped)', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60 }] });
    // Hold the chat's row lock from another connection: the job's SKIP LOCKED passes over it,
    // so use a blocking lock on job_runs instead to keep the first run's lock INSERT pending.
    const session = await Session.open(e);
    try {
      await session.query('BEGIN');
      await session.query(`INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, status, lease_until)
        VALUES ('in-flight', 'delete-stale-empty-chats', 'http', now(), 'running', now() + interval '1 minute')`);
      // Uncommitted: a concurrent start blocks on the unique index entry until we decide.
      const pending = runNamed(e, 'delete-stale-empty-chats', { now: NOW });
      await new Promise((r) => setTimeout(r, 300));
      await session.query('COMMIT');
      expect(await pending).toMatchObject({ status: 'skipped', heldBy: 'in-flight' });
    } finally {
      await session.close();
    }
  });
});

describe('what a run records', () => {
  it('writes one job_runs row and logs one JSON line with the outcome', async () => {
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60, attachments: 1 }] });
    const log = vi.spyOn(console, 'log');

    const report = await runNamed(e, 'delete-stale-empty-chats', { now: NOW });

    const [row] = await q(
      db,
      sql`SELECT job, trigger, status, dry_run, counts, more, subrequests, error,
      finished_at >= started_at AS ordered, lease_until FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`,
    );
    expect(row).toEqual({
      job: 'delete-stale-empty-chats',
      trigger: 'http',
      status: 'succeeded',
      dry_run: false,
      counts: { chats: 1, attachments: 1 },
      more: false,
      subrequests: 3,
      error: null,
      ordered: true,
      lease_until: null,
    });
    const lines = log.mock.calls.map((c) => JSON.parse(String(c[0]))).filter((l) => l.event === 'job_run');
    expect(lines).toEqual([
      expect.objectContaining({
        job: 'delete-stale-empty-chats',
        runId: report.runId,
        trigger: 'http',
        status: 'succeeded',
        counts: { chats: 1, attachments: 1 },
        durationMs: expect.any(Number),
      }),
    ]);
  });

  it('reports exactly the subrequests the endpoints received', async () => {
    e = await provisionEnv(fixedBatches(2));
    const db = testDb(e);
    for (let i = 0; i < 3; i++)
      await seedAccount(db, NOW, { id: `u${i}`, deactivatedDaysAgo: 40, chats: [{ ageMinutes: 5, messages: 1 }] });
    for (const job of [
      'delete-stale-deactivated-accounts',
      'delete-stale-empty-chats',
      'clear-stale-streams',
      'purge-deleted-blobs',
      'delete-orphaned-message-sources',
    ]) {
      const before = await endpointStatsOf(e);
      const report = await runNamed(e, job, { now: NOW });
      const after = await endpointStatsOf(e);
      expect({ job, status: report.status, used: after - before }).toEqual({ job, status: 'succeeded', used: report.subrequests });
    }
  });
});

async function endpointStatsOf(env: TestEnv) {
  const { endpointStats } = await import('./support');
  const s = await endpointStats(env);
  return s.neonRequests + s.upstashRequests;
}
