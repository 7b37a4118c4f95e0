/**
 * The status page's reads of `job_runs`: a month of runs folded per job and day (outcomes, and
 * rows deleted), and the latest failures. Both go in one request, with any other read the page sends along.
 *
 * Cost: `job_runs` keeps JOB_RUNS_RETENTION_DAYS of history (30 by default, pruned by every run's
 * lock request), so the days the chart shows are about the whole table: one sequential pass that
 * folds each run's `counts` in Postgres and answers at most jobs × days rows (a few hundred), never
 * the runs themselves. The failures read is a top-N sort of the same pass.
 */
import { sql } from 'drizzle-orm';
import type { Db } from './client';
import { num } from './rows';

export interface DayOfRuns {
  job: string;
  /** The UTC day, `YYYY-MM-DD`. */
  day: string;
  succeeded: number;
  failed: number;
  skipped: number;
  abandoned: number;
  running: number;
  /** Rows deleted by the day's real runs (the job's `deletes` counts; dry runs count nothing). */
  deleted: number;
}

export interface FailedRun {
  id: string;
  job: string;
  trigger: string;
  status: 'failed' | 'abandoned';
  /**
   * Where it failed. `job_runs` holds a failure of the run phase (the lock's failure leaves no row,
   * and a run that could not record its end is marked `abandoned` when its lease runs out).
   */
  phase: 'run' | 'lease';
  startedAt: Date;
  error: string | null;
}

export interface RunHistory {
  days: DayOfRuns[];
  failures: FailedRun[];
}

/**
 * Runs since `since`, per job and UTC day, and the `failures` latest failed or abandoned runs.
 * `deletes` maps a job to the counts that are deletions; a job not in it counts every key.
 * `alongside` (other reads of the page, such as the holds) ride in the same batch, and their rows
 * come back in order: still one request.
 */
export async function runHistory(
  db: Db,
  opts: { since: Date; deletes: Readonly<Record<string, readonly string[]>>; failures: number },
  alongside: readonly ReturnType<Db['execute']>[] = [],
): Promise<RunHistory & { alongside: Array<Array<Record<string, unknown>>> }> {
  const keys = JSON.stringify(opts.deletes);
  const [days, failures, ...more] = await db.batch([
    db.execute(sql`
      SELECT r.job, to_char(r.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
        count(*) FILTER (WHERE r.status = 'succeeded') AS succeeded,
        count(*) FILTER (WHERE r.status = 'failed') AS failed,
        count(*) FILTER (WHERE r.status = 'skipped') AS skipped,
        count(*) FILTER (WHERE r.status = 'abandoned') AS abandoned,
        count(*) FILTER (WHERE r.status = 'running') AS running,
        coalesce(sum(d.n) FILTER (WHERE NOT r.dry_run), 0) AS deleted
      FROM spacerr_jobs.job_runs r
      CROSS JOIN LATERAL (
        SELECT sum(e.value::numeric) AS n FROM jsonb_each_text(r.counts) e
        WHERE NOT (${keys}::jsonb ? r.job) OR (${keys}::jsonb -> r.job) ? e.key
      ) d
      WHERE r.started_at >= ${opts.since}
      GROUP BY 1, 2
      ORDER BY 2, 1`),
    db.execute(sql`
      SELECT id, job, trigger, status, started_at, error FROM spacerr_jobs.job_runs
      WHERE status IN ('failed', 'abandoned')
      ORDER BY started_at DESC LIMIT ${opts.failures}`),
    ...alongside,
  ]);
  return {
    alongside: more.map((r) => r.rows as Array<Record<string, unknown>>),
    days: (days.rows as Array<Record<string, unknown>>).map((row) => ({
      job: String(row.job),
      day: String(row.day),
      succeeded: num(row.succeeded),
      failed: num(row.failed),
      skipped: num(row.skipped),
      abandoned: num(row.abandoned),
      running: num(row.running),
      deleted: num(row.deleted),
    })),
    failures: (failures.rows as Array<Record<string, unknown>>).map((row) => ({
      id: String(row.id),
      job: String(row.job),
      trigger: String(row.trigger),
      status: row.status as FailedRun['status'],
      phase: row.status === 'failed' ? 'run' : 'lease',
      startedAt: new Date(String(row.started_at)),
      error: row.error == null ? null : String(row.error),
    })),
  };
}
