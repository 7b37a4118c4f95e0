/** A job's pause as its `spacerr_jobs.job_pauses` row says it (src/run/pauses.ts pauses and lifts them). */

export type Pause = { job: string; reason: string; by: string | null; since: string /* ISO */ };

/** A pause as the lock request reads it (src/db/job-runs.ts): one JSON value, or null. */
export function pauseOf(json: unknown): Pause | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { job, reason, paused_by, since } = json as Record<string, unknown>;
  return {
    job: String(job),
    reason: String(reason),
    by: paused_by == null ? null : String(paused_by),
    since: new Date(String(since)).toISOString(),
  };
}
