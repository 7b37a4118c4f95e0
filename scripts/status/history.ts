/**
 * A month of run history in `job_runs`, for the status page's screenshots, its browser test and
 * the bench: one row per scheduled slot of each job's cron over the last 30 days (`busy`: every
 * slot of a `*\/10` sweep ran, as on an app in use all day; otherwise the sweeps ran in the
 * app's waking hours, 07:00–23:00 UTC), with counts under the job's own `deletes` keys, a few
 * skipped, failed and abandoned runs, and some dry runs by hand. Deterministic for a given `now`.
 * The jobs come from the Worker's own listing (GET /api/internal/jobs), so nothing here names one.
 */
import { Cron } from 'croner';
import type pg from 'pg';

export interface ListedJob {
  name: string;
  cron: string;
  /** The counts that are rows deleted (the listing's `deletes`); null: every count. */
  deletes: string[] | null;
  /** An optional job its settings leave off has no runs. */
  enabled: boolean;
}

const DAY_MS = 86_400_000;
const ERRORS = [
  'NeonDbError: Error connecting to database: fetch failed',
  'NeonDbError: canceling statement due to statement timeout',
  'UpstashError: ERR max requests limit exceeded',
];

/** Reads the jobs from the Worker's listing. */
export async function listedJobs(workerUrl: string, secret: string): Promise<ListedJob[]> {
  const res = await fetch(`${workerUrl}/api/internal/jobs`, { headers: { authorization: `Bearer ${secret}` } });
  if (!res.ok) throw new Error(`GET /api/internal/jobs: ${res.status}`);
  return ((await res.json()) as { jobs: ListedJob[] }).jobs;
}

/** Inserts the month; returns how many runs it wrote. Leaves the rest of job_runs alone. */
export async function seedHistory(db: pg.Client, jobs: ListedJob[], opts: { now: Date; busy: boolean }): Promise<number> {
  const from = new Date(opts.now.getTime() - 30 * DAY_MS);
  const rows: Array<Record<string, unknown>> = [];
  let seq = 0;
  for (const [j, job] of jobs.entries()) {
    if (!job.enabled) continue;
    const keys = job.deletes ?? ['rows'];
    const cron = new Cron(job.cron, { timezone: 'UTC', paused: true });
    let slot = cron.nextRun(from);
    const sweep = job.cron.startsWith('*/');
    while (slot && slot < opts.now) {
      const at = slot;
      slot = cron.nextRun(new Date(at.getTime() + 1000));
      const hour = at.getUTCHours();
      if (sweep && !opts.busy && (hour < 7 || hour >= 23)) continue;
      const n = ++seq;
      const h = hash(`${job.name}/${at.toISOString()}`);
      const status = h % 211 === 0 ? 'failed' : h % 307 === 1 ? 'abandoned' : h % 53 === 2 ? 'skipped' : 'succeeded';
      // Deletions follow the app's day: more in the afternoon, more on weekdays, a spike now and then.
      const day = Math.floor((at.getTime() - from.getTime()) / DAY_MS);
      const wave = 1 + Math.sin((day / 30) * Math.PI * 3 + j) * 0.6 + (at.getUTCDay() % 6 === 0 ? -0.5 : 0.3);
      const scale = sweep ? 6 : at.getUTCDate() === 1 && at.getUTCHours() === 0 ? 4000 : 180;
      const base = Math.max(0, Math.round(((h % 100) / 100) * scale * wave));
      const counts = status === 'succeeded' ? Object.fromEntries(keys.map((k, i) => [k, Math.round(base / (i + 1))])) : {};
      rows.push({
        id: `history-${n}`,
        job: job.name,
        trigger: 'scheduled',
        started_at: at.toISOString(),
        finished_at: new Date(at.getTime() + 200 + (h % 4000)).toISOString(),
        status,
        dry_run: false,
        counts,
        subrequests: 3 + (h % 9),
        error:
          status === 'failed'
            ? ERRORS[h % ERRORS.length]
            : status === 'abandoned'
              ? 'lease expired: the run ended without reporting (its invocation was killed?)'
              : status === 'skipped'
                ? 'another run of this job is in progress'
                : null,
      });
      if (h % 997 === 3) {
        rows.push({
          ...rows.at(-1)!,
          id: `history-${n}-dry`,
          trigger: 'http',
          status: 'succeeded',
          dry_run: true,
          error: null,
          counts: { [keys[0] ?? 'rows']: base * 3 },
        });
      }
    }
  }
  await db.query(
    `INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, finished_at, status, dry_run, counts, more, subrequests, error)
     SELECT id, job, trigger, started_at, finished_at, status, dry_run, counts, false, subrequests, error
     FROM jsonb_to_recordset($1::jsonb) AS r(id text, job text, trigger text, started_at timestamptz, finished_at timestamptz,
       status text, dry_run boolean, counts jsonb, subrequests int, error text)`,
    [JSON.stringify(rows)],
  );
  return rows.length;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
