/**
 * Cron slots: the times a job's cron fires. Cloudflare delivers a cron event with its slot as
 * `scheduledTime` and has no catch-up: a delivery that never comes (a platform incident, a deploy
 * or a trigger change at that minute) is lost, and the monthly account run would wait a month.
 * So every run a cron delivers records its slot (job_runs.slot), and a delivery that touches
 * Postgres anyway (a deleting cron, or a tick that runs its sweeps) first reads the latest slot
 * each deleting job recorded, in one request (src/db/job-runs.ts latestSlots):
 * - a deleting job of another cron whose latest slot before this delivery has no record was
 *   *missed*: the delivery runs it once, for that slot (a catch-up), however many were missed;
 * - a deleting job of this delivery runs for this slot, and records the slots of its
 *   own cron that were missed since its last one.
 * A slot of the same minute as this delivery is never missed yet (its delivery may be running).
 * A job that has recorded no slot yet (a fresh install) has missed nothing. A tick that deferred
 * its sweeps (src/chain/tick.ts) ran no job on purpose: sweeps have no missed slots. Idle ticks make no
 * check, so an idle app's Neon stays asleep; a missed slot is then caught up by the next deleting
 * cron's delivery (at most 12 hours later on the default schedule).
 *
 * Each slot runs once: a slot with a run is not run again (job_runs_one_slot_idx), so a delivery
 * that comes twice, or late after its catch-up, is `skipped`.
 */
import type { Job } from '../run/job';
import { previousRunAt, runsBetween } from '../run/schedule';

/** The most missed slots one run records (the latest ones). */
export const MISSED_LIMIT = 100;

/** One run a cron delivery makes: a job of its own cron, or a catch-up of a missed slot. */
export interface SlotRun {
  job: Job;
  /** The slot the run is for: the delivery's, or the missed one a catch-up runs for. */
  slot: Date;
  /** Slots of the job's cron whose delivery never came (ISO, oldest first; a catch-up's include its own). */
  missed: string[];
  catchUp: boolean;
}

/** A job that is not a sweep deletes on its own schedule: its slots can be missed. */
export function tracksSlots(job: Job): boolean {
  return !job.sweep;
}

/**
 * The runs of a delivery at slot `now` of the jobs `own`, given the latest slot each of `deleting`
 * recorded: catch-ups first (each once), then the delivery's own jobs.
 */
export function planRuns(own: readonly Job[], deleting: readonly Job[], latest: ReadonlyMap<string, Date>, now: Date): SlotRun[] {
  const catchUps: SlotRun[] = [];
  for (const job of deleting) {
    const last = latest.get(job.name);
    if (own.includes(job) || last === undefined) continue;
    const due = previousRunAt(job.cron, now);
    if (due === null || due.getTime() <= last.getTime()) continue;
    const missed = runsBetween(job.cron, last, new Date(due.getTime() + 1), MISSED_LIMIT);
    catchUps.push({ job, slot: due, missed: missed.map((d) => d.toISOString()), catchUp: true });
  }
  const runs = own.map((job) => {
    const last = latest.get(job.name);
    const missed = tracksSlots(job) && last !== undefined ? runsBetween(job.cron, last, now, MISSED_LIMIT) : [];
    return { job, slot: now, missed: missed.map((d) => d.toISOString()), catchUp: false };
  });
  return [...catchUps, ...runs];
}
