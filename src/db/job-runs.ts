/**
 * `job_runs` is both the audit log and the lock. A partial unique index allows one `running` row
 * per job (job_runs_one_running_idx), so taking the lock and recording the run is one INSERT that
 * Postgres serialises: of two concurrent starts, the second blocks on the index entry until the
 * first commits, then its ON CONFLICT DO NOTHING inserts nothing and the run is `skipped`.
 * A `running` row carries a lease; when its holder died (invocation killed, isolate evicted) the
 * lease runs out and the next start marks it `abandoned` and takes over. No lock lives in Redis, so
 * a Redis outage can neither let two runs in nor block the Postgres-only jobs.
 */
import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { Db } from './client';
import { type Pause, pauseOf } from './pauses';
import { type JobRunStatus, jobRuns, type RunTrigger } from './schema';

export interface RunStart {
  id: string;
  job: string;
  trigger: RunTrigger;
  dryRun: boolean;
  leaseMs: number;
  continues?: string | undefined;
  /** The cron slot the run is for (src/chain/slots.ts): a slot whose run exists is not run again. */
  slot?: Date | undefined;
  /** Slots found missed, recorded with the run (ISO times). */
  missed?: readonly string[] | undefined;
  /**
   * A catch-up of a missed slot: skipped because another run holds the lock, it records no slot,
   * so the slot stays missed and the next check runs it.
   */
  catchUp?: boolean | undefined;
  /** History older than this is pruned (JOB_RUNS_RETENTION_DAYS), at most PRUNE_LIMIT rows a run. */
  pruneBefore: Date;
  /** A SELECT of `difference` rows sent in the same request (src/app-map/drift.ts). */
  driftCheck?: SQL;
}

export type Skipped = { acquired: false; heldBy: string | null; reason: string; duplicate: boolean; paused?: Pause };
export type Acquired = { acquired: true; differences: string[] } | Skipped;

/** Bounds the pruning statement: a long-neglected history shrinks over several runs. */
const PRUNE_LIMIT = 1000;
const BUSY = 'another run of this job is in progress';
const DUPLICATE = 'this continuation already ran (a queue message delivered twice)';
const SLOT_TAKEN = 'this slot already ran (a cron delivery that came twice)';

/**
 * Takes the job's lock and records the run, or records it as skipped; prunes old history of the
 * job on the way. One request (a batch is one transaction over HTTP).
 * A continuation (`continues` set) is also skipped when another run already continued the same
 * run: a queue may deliver a message twice, and the second delivery must not fork the chain. A
 * run for a cron slot is skipped when that slot already has a run (job_runs_one_slot_idx), and
 * every run but a dry run is skipped while the job is paused (src/run/pauses.ts): the pause is
 * read here, so it costs no request of its own.
 */
export async function acquireRun(db: Db, run: RunStart): Promise<Acquired> {
  const lease = sql`now() + make_interval(secs => ${run.leaseMs / 1000})`;
  const continues = run.continues ?? null;
  const slot = run.slot ?? null;
  const missed = run.missed && run.missed.length > 0 ? JSON.stringify(run.missed) : null;
  const duplicate = sql`${continues}::text IS NOT NULL AND EXISTS (
    SELECT 1 FROM spacerr_jobs.job_runs d WHERE d.continues = ${continues} AND d.status IN ('running', 'succeeded'))`;
  const slotTaken = sql`${slot}::timestamptz IS NOT NULL AND EXISTS (
    SELECT 1 FROM spacerr_jobs.job_runs s WHERE s.job = ${run.job} AND s.slot = ${slot}::timestamptz AND s.status <> 'skipped')`;
  const paused = sql`NOT ${run.dryRun}::boolean AND EXISTS (SELECT 1 FROM spacerr_jobs.job_pauses p WHERE p.job = ${run.job})`;
  const pausedText = sql`(SELECT 'paused' || COALESCE(' by ' || p.paused_by, '') || ' since '
      || to_char(p.since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || ': ' || p.reason
    FROM spacerr_jobs.job_pauses p WHERE p.job = ${run.job})`;
  const [, , , , rows, drift] = await db.batch([
    // The job's latest slot stays, whatever its age: the missed-slot check reads it.
    db.execute(sql`
      DELETE FROM spacerr_jobs.job_runs WHERE id IN (
        SELECT id FROM spacerr_jobs.job_runs
        WHERE job = ${run.job} AND started_at < ${run.pruneBefore} AND status <> 'running'
          AND (slot IS NULL OR slot < (SELECT max(l.slot) FROM spacerr_jobs.job_runs l WHERE l.job = ${run.job}))
        LIMIT ${PRUNE_LIMIT})`),
    db.execute(sql`
      UPDATE spacerr_jobs.job_runs
      SET status = 'abandoned', finished_at = now(), lease_until = NULL,
          error = 'lease expired: the run ended without reporting (its invocation was killed?)'
      WHERE job = ${run.job} AND status = 'running' AND lease_until < now()`),
    // No conflict target: of two deliveries of one slot, the second blocks on the first's entry in
    // job_runs_one_slot_idx (or job_runs_one_running_idx) until it commits, then inserts nothing.
    db.execute(sql`
      INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, status, dry_run, lease_until, continues, slot, missed)
      SELECT ${run.id}, ${run.job}, ${run.trigger}, now(), 'running', ${run.dryRun}, ${lease}, ${continues}, ${slot}::timestamptz, ${missed}::jsonb
      WHERE NOT (${duplicate}) AND NOT (${slotTaken}) AND NOT (${paused})
      ON CONFLICT DO NOTHING`),
    db.execute(sql`
      INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, finished_at, status, dry_run, error, continues, slot, missed)
      SELECT ${run.id}, ${run.job}, ${run.trigger}, now(), now(), 'skipped', ${run.dryRun},
             CASE WHEN ${paused} THEN ${pausedText} WHEN ${duplicate} THEN ${DUPLICATE} WHEN ${slotTaken} THEN ${SLOT_TAKEN} ELSE ${BUSY} END,
             ${continues},
             CASE WHEN ${run.catchUp ?? false}::boolean AND NOT (${paused}) AND NOT (${slotTaken}) THEN NULL ELSE ${slot}::timestamptz END,
             ${missed}::jsonb
      WHERE NOT EXISTS (SELECT 1 FROM spacerr_jobs.job_runs WHERE id = ${run.id})`),
    db.execute(sql`
      SELECT r.status, r.error, (SELECT h.id FROM spacerr_jobs.job_runs h WHERE h.job = ${run.job} AND h.status = 'running') AS holder,
             (SELECT row_to_json(p) FROM spacerr_jobs.job_pauses p WHERE p.job = ${run.job}) AS pause
      FROM spacerr_jobs.job_runs r WHERE r.id = ${run.id}`),
    db.execute(run.driftCheck ?? sql`SELECT NULL::text AS difference WHERE false`),
  ]);
  const row = rows.rows[0] as { status: JobRunStatus; error: string | null; holder: string | null; pause: unknown } | undefined;
  if (row?.status === 'running') return { acquired: true, differences: drift.rows.map((r) => String(r.difference)) };
  const reason = row?.error ?? BUSY;
  const pause = reason.startsWith('paused') ? pauseOf(row?.pause) : undefined;
  return {
    acquired: false,
    heldBy: row?.holder ?? null,
    reason,
    duplicate: reason === DUPLICATE || reason === SLOT_TAKEN,
    ...(pause ? { paused: pause } : {}),
  };
}

/** The latest slot each of `jobs` recorded (any status), by job; absent for a job that has none. One request. */
export async function latestSlots(db: Db, jobs: readonly string[]): Promise<Map<string, Date>> {
  const result = await db.execute(sql`
    SELECT j.name, (SELECT max(r.slot) FROM spacerr_jobs.job_runs r WHERE r.job = j.name AND r.slot IS NOT NULL) AS slot
    FROM unnest(${sql.param([...jobs])}::text[]) AS j(name)`);
  const slots = new Map<string, Date>();
  for (const row of result.rows as Array<{ name: string; slot: string | null }>) if (row.slot) slots.set(row.name, new Date(row.slot));
  return slots;
}

export interface RunFinish {
  status: Extract<JobRunStatus, 'succeeded' | 'failed'>;
  counts: Record<string, number>;
  more: boolean;
  subrequests: number;
  error: string | null;
}

/**
 * Records the outcome and releases the lock. One request: `alongside` (a read, such as the
 * backlog check of the run's alarms) rides in the same batch, and its rows come back. `recorded`
 * is the run's status as its row has it afterwards: the outcome, unless the row was no longer
 * `running` (its lease ran out and another run marked it `abandoned`), which the update then left
 * alone. A retried finish whose first attempt committed finds its own outcome there.
 */
export async function finishRun(
  db: Db,
  id: string,
  result: RunFinish,
  alongside?: ReturnType<Db['execute']>,
): Promise<{ read: Record<string, unknown> | undefined; recorded: JobRunStatus | undefined }> {
  const update = db
    .update(jobRuns)
    .set({ ...result, finishedAt: sql`now()`, leaseUntil: null })
    .where(and(eq(jobRuns.id, id), eq(jobRuns.status, 'running')));
  const status = db.execute(sql`SELECT status FROM spacerr_jobs.job_runs WHERE id = ${id}`);
  if (!alongside) {
    const [, after] = await db.batch([update, status]);
    return { read: undefined, recorded: after.rows[0]?.status as JobRunStatus | undefined };
  }
  const [, after, read] = await db.batch([update, status, alongside]);
  return { read: read.rows[0] as Record<string, unknown> | undefined, recorded: after.rows[0]?.status as JobRunStatus | undefined };
}

/**
 * The latest run of each job: one index probe per job (job_runs_job_started_idx) through a
 * LATERAL join, so the cost does not grow with the history kept; with it, the latest run that
 * found missed slots (job_runs_missed_idx).
 */
export async function latestRuns(db: Db, jobs: readonly string[]) {
  const result = await db.execute(sql`
    SELECT r.*, m.id AS missed_run_id, m.missed AS missed_slots, m.started_at AS missed_found_at, m.status AS missed_status
    FROM unnest(${sql.param([...jobs])}::text[]) AS j(name)
    CROSS JOIN LATERAL (
      SELECT * FROM spacerr_jobs.job_runs WHERE job = j.name ORDER BY started_at DESC LIMIT 1
    ) r
    LEFT JOIN LATERAL (
      SELECT id, missed, started_at, status FROM spacerr_jobs.job_runs
      WHERE job = j.name AND missed IS NOT NULL ORDER BY started_at DESC LIMIT 1
    ) m ON true`);
  return (result.rows as Array<Record<string, unknown>>).map((row) => ({
    id: row.id as string,
    job: row.job as string,
    trigger: row.trigger as string,
    status: row.status as JobRunStatus,
    dryRun: row.dry_run as boolean,
    startedAt: new Date(row.started_at as string),
    finishedAt: row.finished_at == null ? null : new Date(row.finished_at as string),
    counts: row.counts as Record<string, number>,
    more: row.more as boolean,
    subrequests: row.subrequests as number,
    error: row.error as string | null,
    continues: row.continues as string | null,
    slot: row.slot == null ? null : new Date(row.slot as string),
    missed: (row.missed as string[] | null) ?? null,
    lastMissed:
      row.missed_run_id == null
        ? null
        : {
            runId: row.missed_run_id as string,
            slots: row.missed_slots as string[],
            foundAt: new Date(row.missed_found_at as string),
            status: row.missed_status as JobRunStatus,
          },
  }));
}
