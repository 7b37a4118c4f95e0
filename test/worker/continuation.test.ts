/**
 * The queue consumer that continues scheduled runs (src/queue.ts), called the way the runtime
 * calls it, against this file's own database; plus the run-machinery pieces it relies on: a
 * budget too small for one batch, and pruning of old history. The whole chain through the real
 * local queue is in test/node/operator.test.ts.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import worker from '../../src/index';
import { seedAccount } from './seed';
import { countRows, provisionEnv, q, runNamed, sql, setFault, type TestEnv, testDb } from './support';

const JOB = 'delete-stale-empty-chats';
let e: TestEnv;
let n = 0;

beforeEach(async () => {
  e = await provisionEnv();
});
afterEach(() => vi.restoreAllMocks());

async function deliver(body: unknown, attempts = 1, env: Env = e) {
  const id = `msg-${++n}`;
  const batch = createMessageBatch('spacerr-jobs-continuations', [{ id, timestamp: Date.now(), attempts, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return { id, result: await getQueueResult(batch, ctx) };
}

/** A finished scheduled run that stopped with work left: what a continuation continues. */
async function scheduledRunWithMore(id: string) {
  await testDb(e).execute(sql`INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, finished_at, status, more)
    VALUES (${id}, ${JOB}, 'scheduled', now() - interval '1 minute', now(), 'succeeded', true)`);
}

const runsContinuing = (id: string) =>
  q<{ trigger: string; status: string; error: string | null }>(
    testDb(e),
    sql`SELECT trigger, status, error FROM spacerr_jobs.job_runs WHERE continues = ${id} ORDER BY started_at`,
  );

describe('the continuation consumer', () => {
  it('runs the job once per continuation, even when the queue delivers the message twice', async () => {
    const db = testDb(e);
    await seedAccount(db, new Date(), { id: 'u', chats: [{ ageMinutes: 60 }, { ageMinutes: 60 }, { ageMinutes: 1 }] });
    await scheduledRunWithMore('sched-1');

    const first = await deliver({ job: JOB, continues: 'sched-1', hop: 1 });
    expect(first.result.explicitAcks).toEqual([first.id]);
    expect(await countRows(db, 'chats')).toBe(1);

    const again = await deliver({ job: JOB, continues: 'sched-1', hop: 1 });
    expect(again.result.explicitAcks).toEqual([again.id]);
    expect(again.result.retryMessages).toEqual([]);
    expect(await runsContinuing('sched-1')).toEqual([
      { trigger: 'queue', status: 'succeeded', error: null },
      { trigger: 'queue', status: 'skipped', error: 'this continuation already ran (a queue message delivered twice)' },
    ]);
  });

  it('retries a continuation whose run failed, and the retry does the work', async () => {
    const db = testDb(e);
    await seedAccount(db, new Date(), { id: 'u', chats: [{ ageMinutes: 60 }] });
    await scheduledRunWithMore('sched-2');
    await setFault(e, 'neon', 'http500');
    const failed = await deliver({ job: JOB, continues: 'sched-2', hop: 1 });
    await setFault(e, 'neon', 'none');
    // (getQueueResult of this vitest-plugin version does not report the retry's delaySeconds.)
    expect(failed.result.retryMessages.map((m) => m.msgId)).toEqual([failed.id]);
    expect(failed.result.explicitAcks).toEqual([]);
    expect(await countRows(db, 'chats')).toBe(1);

    const retried = await deliver({ job: JOB, continues: 'sched-2', hop: 1 }, 2);
    expect(retried.result.explicitAcks).toEqual([retried.id]);
    expect(await countRows(db, 'chats')).toBe(0);
  });

  it('retries later while another run holds the job (it may be a manual run that will not continue)', async () => {
    await testDb(e).execute(sql`INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, status, lease_until)
      VALUES ('manual', ${JOB}, 'http', now(), 'running', now() + interval '5 minutes')`);
    await scheduledRunWithMore('sched-3');
    const busy = await deliver({ job: JOB, continues: 'sched-3', hop: 1 });
    expect(busy.result.retryMessages.map((m) => m.msgId)).toEqual([busy.id]);
    expect(busy.result.explicitAcks).toEqual([]);
  });

  it('a sweep that follows a chain runs, then sends the next of `then`; a failed one is retried and sends nothing', async () => {
    const sent: unknown[] = [];
    const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
    const withQueue = { ...e, CONTINUATIONS: queue };
    const body = {
      job: 'purge-deleted-blobs',
      continues: 'chain-end',
      hop: 1,
      then: ['clear-stale-streams', 'delete-orphaned-message-sources'],
    };
    await setFault(e, 'neon', 'http500');
    const failed = await deliver(body, 1, withQueue);
    await setFault(e, 'neon', 'none');
    expect(failed.result.retryMessages.map((m) => m.msgId)).toEqual([failed.id]);
    expect(sent).toEqual([]);

    const ok = await deliver(body, 2, withQueue);
    expect(ok.result.explicitAcks).toEqual([ok.id]);
    const [run] = await q<{ id: string }>(
      testDb(e),
      sql`SELECT id FROM spacerr_jobs.job_runs WHERE continues = 'chain-end' AND status = 'succeeded'`,
    );
    expect(sent).toEqual([{ job: 'clear-stale-streams', continues: run?.id, hop: 2, then: ['delete-orphaned-message-sources'] }]);
  });

  it('acknowledges and logs a message that is not a continuation, running nothing', async () => {
    const error = vi.spyOn(console, 'error');
    for (const body of [
      { job: 'no-such-job', continues: 'x', hop: 1 },
      { job: JOB },
      'text',
      null,
      { job: JOB, continues: 'x', hop: 1, then: [1] },
    ]) {
      const { id, result } = await deliver(body);
      expect(result.explicitAcks).toEqual([id]);
    }
    expect(error.mock.calls.filter((c) => String(c[0]).includes('"continuation_invalid"'))).toHaveLength(5);
    expect(await countRows(testDb(e), 'job_runs')).toBe(0);
  });
});

describe('run machinery', () => {
  it('fails a run whose budget cannot afford one batch, instead of reporting more forever', async () => {
    // 5 - lock - finish = 3, and an account batch needs 4 (itself + the stream queue).
    e = await provisionEnv({ RUN_SUBREQUEST_BUDGET: '5' });
    const db = testDb(e);
    await seedAccount(db, new Date(), { id: 'old', deactivatedDaysAgo: 90 });
    const report = await runNamed(e, 'delete-stale-deactivated-accounts');
    expect(report).toMatchObject({ status: 'failed', phase: 'run', more: true });
    expect(report.error).toMatch(/^BudgetTooSmallError: RUN_SUBREQUEST_BUDGET=5 leaves 3 subrequest\(s\).*not enough for one batch/);
    expect(await countRows(db, 'users')).toBe(1);
  });

  it('prunes the job history older than JOB_RUNS_RETENTION_DAYS when the job next runs', async () => {
    e = await provisionEnv({ JOB_RUNS_RETENTION_DAYS: '7' });
    const db = testDb(e);
    await db.execute(sql`INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, finished_at, status)
      VALUES ('old', ${JOB}, 'scheduled', now() - interval '8 days', now() - interval '8 days', 'succeeded'),
             ('recent', ${JOB}, 'scheduled', now() - interval '6 days', now() - interval '6 days', 'succeeded'),
             ('other-job-old', 'purge-deleted-blobs', 'scheduled', now() - interval '8 days', now() - interval '8 days', 'succeeded')`);
    const report = await runNamed(e, JOB);
    const ids = (await q<{ id: string }>(db, sql`SELECT id FROM spacerr_jobs.job_runs ORDER BY id`)).map((r) => r.id);
    expect(ids.sort()).toEqual(['other-job-old', 'recent', report.runId].sort());
  });
});
