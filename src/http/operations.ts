/**
 * What the JSON routes and the status page's actions both do, so the two record it the same way:
 * requeue a job's parked rows, pause and resume a job, place and lift a legal hold, each one
 * Postgres request and one log line (`requeued`, `job_paused`, `job_resumed`, `hold_placed`,
 * `hold_lifted`).
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { type Hold, liftHold, placeHold } from '../db/holds';
import { logEvent } from '../log';
import type { Job } from '../run/job';
import { type Pause, pauseJob, resumeJob } from '../run/pauses';
import type { HoldRequest } from './hold-input';
import type { PauseRequest } from './pause-input';

/** What lifting a hold an account does not have answers. */
export const NO_HOLD = 'This account has no active hold.';

/** Makes `job`'s parked rows due again (its `requeue` statement) and logs how many. One request. */
export async function requeueParked(db: Db, job: Job, requeue: SQL): Promise<number> {
  const result = await db.execute(sql`WITH requeued AS (${requeue}) SELECT count(*)::int AS n FROM requeued`);
  const requeued = Number(result.rows[0]?.n ?? 0);
  logEvent('info', 'requeued', { job: job.name, requeued });
  return requeued;
}

/** Pauses `job` (a checked request) and logs `job_paused`. One request. */
export async function pauseLogged(db: Db, job: Job, p: PauseRequest, now: Date): Promise<Pause> {
  const pause = await pauseJob(db, job.name, p.by === undefined ? { reason: p.reason } : { reason: p.reason, by: p.by }, now);
  logEvent('info', 'job_paused', { ...pause });
  return pause;
}

/** Lifts `job`'s pause and logs `job_resumed`. One request. */
export async function resumeLogged(db: Db, job: Job): Promise<boolean> {
  const resumed = await resumeJob(db, job.name);
  logEvent('info', 'job_resumed', { job: job.name, resumed });
  return resumed;
}

/** Places a hold (a checked request) and logs `hold_placed`. One request. */
export async function placeHoldLogged(db: Db, h: HoldRequest, now: Date): Promise<Hold> {
  const hold = await placeHold(db, h, now);
  logEvent('info', 'hold_placed', { userId: hold.userId, by: hold.by, until: hold.until });
  return hold;
}

/** Lifts the account's active hold and logs `hold_lifted`; false (nothing logged) when it had none. One request. */
export async function liftHoldLogged(db: Db, userId: string): Promise<boolean> {
  const lifted = await liftHold(db, userId);
  if (lifted) logEvent('info', 'hold_lifted', { userId });
  return lifted;
}
