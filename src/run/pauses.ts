/**
 * Pausing a job without a deploy. A pause is a row of `spacerr_jobs.job_pauses`; every run of the
 * job but a dry run reads it inside its lock request (src/db/job-runs.ts, no request of its own) and
 * is recorded `skipped` with the reason and who paused it. So while the pause stands the job's cron
 * deliveries run nothing, its queued continuations and recoveries are dropped (src/queue.ts), and
 * a chain that was to follow it goes on to the next job. A run already past its lock finishes its
 * own invocation. A pause standing longer than PAUSE_ALARM_HOURS raises `job_paused`.
 */
import { asc, eq } from 'drizzle-orm';
import type { Config } from '../config/parse';
import type { Db } from '../db/client';
import type { Pause } from '../db/pauses';
import { jobPauses } from '../db/schema';
import { HOUR_MS } from '../time';
import type { Alarm } from './alarms';

export type { Pause } from '../db/pauses';

export const PAUSED_ALARM = 'job_paused';

/**
 * Pauses `job` (a name the registry knows; the caller checks). Pausing a paused job replaces its
 * reason and who paused it, and keeps `since`: the alarm counts from the first pause.
 */
export async function pauseJob(db: Db, job: string, p: { reason: string; by?: string }, now: Date): Promise<Pause> {
  const [row] = await db
    .insert(jobPauses)
    .values({ job, reason: p.reason, pausedBy: p.by ?? null, since: now })
    .onConflictDoUpdate({ target: jobPauses.job, set: { reason: p.reason, pausedBy: p.by ?? null } })
    .returning();
  return toPause(row!);
}

/** Lifts the pause of `job`; false when it was not paused. */
export async function resumeJob(db: Db, job: string): Promise<boolean> {
  const rows = await db.delete(jobPauses).where(eq(jobPauses.job, job)).returning({ job: jobPauses.job });
  return rows.length > 0;
}

/** Every pause standing, oldest first. */
export async function listPauses(db: Db): Promise<Pause[]> {
  return (await pausesQuery(db)).map(toPause);
}

/** The query of {@link listPauses}, to send alone or inside a batch. */
export function pausesQuery(db: Db) {
  return db.select().from(jobPauses).orderBy(asc(jobPauses.since), asc(jobPauses.job));
}

/** What a skipped run's record says about the pause that skipped it. */
export function pausedMessage(p: Pick<Pause, 'reason' | 'by' | 'since'>): string {
  return `paused${p.by ? ` by ${p.by}` : ''} since ${p.since}: ${p.reason}`;
}

/** The `job_paused` alarm of each pause standing longer than PAUSE_ALARM_HOURS at `now`. */
export function pauseAlarms(pauses: readonly Pause[], config: Pick<Config, 'pauseAlarmHours'>, now: Date): Alarm[] {
  const limit = now.getTime() - config.pauseAlarmHours * HOUR_MS;
  return pauses
    .filter((p) => Date.parse(p.since) <= limit)
    .map((p) => ({
      code: PAUSED_ALARM,
      job: p.job,
      count: 1,
      message: `${p.job} has been ${pausedMessage(p)} (longer than PAUSE_ALARM_HOURS=${config.pauseAlarmHours}); resume it with \`npm run job -- resume ${p.job}\``,
    }));
}

function toPause(row: typeof jobPauses.$inferSelect): Pause {
  return { job: row.job, reason: row.reason, by: row.pausedBy, since: row.since.toISOString() };
}
