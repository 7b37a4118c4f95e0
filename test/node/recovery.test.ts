/**
 * End to end, with the real Worker under `wrangler dev` and its local queue: Postgres becomes
 * unreachable (Neon's answer to a lost connection) at the lock request of the monthly cron's run,
 * and is back at once after it. One cron delivery, nothing else: the failed run is retried through
 * the queue (RECOVERY_DELAY_SECONDS=1 here; 60 in production, wrangler.toml) and the account is
 * deleted by that retry, a run continuing the failed one.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalWorker } from '../../scripts/stack/worker.ts';
import type { TestBindings } from '../support/control-server.ts';
import { setNodeFault, startWorkerOnNewEnv, until } from '../support/node-env.ts';

const JOB = 'delete-stale-deactivated-accounts';
let env: TestBindings;
let db: pg.Client;
let worker: LocalWorker;

beforeAll(async () => {
  ({ env, db, worker } = await startWorkerOnNewEnv('recovery-test-secret-0123456789', { RECOVERY_DELAY_SECONDS: '1' }));
}, 90_000);
afterAll(async () => {
  await worker?.stop();
  await db?.end();
});

it(
  'a monthly run that fails on an unreachable Postgres is retried through the queue and deletes the account',
  { timeout: 90_000 },
  async () => {
    await db.query(`INSERT INTO users (id, email, created_at, deactivated_at) VALUES ('gone', 'g@x', now(), now() - interval '40 days')`);
    // The next three requests (the delivery's slot check, the run's lock and its one retry) lose
    // their connection; the endpoint is healthy after them.
    await setNodeFault(env, 'neon', 'connection-lost', { count: 3 });
    const res = await worker.triggerCron('0 0 1 * *');
    await res.text();
    expect(res.status).toBe(500); // the invocation failed, as the dashboard shows it

    const failed = await until('the failed run to be logged', async () =>
      worker.events().find((e) => e.event === 'job_run' && e.job === JOB && e.status === 'failed'),
    );
    expect(failed).toMatchObject({ trigger: 'scheduled', phase: 'lock', error: expect.stringMatching(/connection closed/) });
    expect(worker.events()).toContainEqual(
      expect.objectContaining({ event: 'recovery_sent', job: JOB, continues: failed.runId, attempt: 1, delaySeconds: 1 }),
    );

    // Waits for the state, not a moment: the account gone and the run that deleted it recorded
    // (its batch commits before its finishing request does).
    const runs = await until('the account to be deleted and its run recorded', async () => {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM users WHERE id = 'gone'`);
      if (rows[0].n !== 0) return undefined;
      const recorded = (
        await db.query(`SELECT trigger, status, continues, counts FROM spacerr_jobs.job_runs WHERE job = $1 ORDER BY started_at`, [JOB])
      ).rows;
      return recorded.some((r) => r.status === 'running') ? undefined : recorded;
    });
    // The lock-phase failure left no row (Postgres was unreachable); the retry is the job's one run.
    expect(runs).toEqual([
      { trigger: 'queue', status: 'succeeded', continues: failed.runId, counts: expect.objectContaining({ users: 1 }) },
    ]);
    expect(
      worker
        .events()
        .filter((e) => e.event === 'job_run' && e.job === JOB)
        .map((e) => [e.trigger, e.status]),
    ).toEqual([
      ['scheduled', 'failed'],
      ['queue', 'succeeded'],
    ]);
  },
);
