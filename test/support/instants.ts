/**
 * Time for tests that reason about schedules. Such a test never takes "a day before the cutoff"
 * from the wall clock: it fixes its own `now` (AWKWARD_INSTANTS, plus TEST_NOW when set) or places
 * its data relative to the schedule's slots (`waitingForItsRun`), so it passes on the 1st of a
 * month at 06:00 UTC as on the 15th at noon.
 */
import type { Config } from '../../src/config/parse.ts';
import { deleteStaleDeactivatedAccounts } from '../../src/jobs/delete-stale-deactivated-accounts.ts';
import { overdueBefore } from '../../src/run/deadline.ts';
import { MINUTE_MS } from '../../src/time.ts';

/**
 * The instants at which schedule arithmetic is most likely to be wrong: just after each cron's
 * slot, inside and just past the monthly run's grace, the 1st, the 31st, the end of a 28-day
 * February, New Year, and a plain mid-month hour for reference.
 */
export const AWKWARD_INSTANTS = [
  '2026-11-15T12:05:00Z', // mid-month, nothing near a slot
  '2026-12-01T00:00:30Z', // just after the monthly, 12-hourly and */10 slots
  '2026-12-01T03:00:00Z', // the 1st, inside the monthly run's 6 h grace
  '2026-12-01T06:00:30Z', // the 1st, just past the grace
  '2026-12-01T21:50:00Z', // the 1st, late (the instant the calendar bug was seen)
  '2026-12-31T23:55:00Z', // the 31st, the last minutes of the year
  '2027-01-01T00:00:30Z', // New Year, just after every slot
  '2027-02-28T12:00:30Z', // the last day of a 28-day month, just after the 12-hourly slot
  '2027-03-01T06:00:30Z', // the 1st after a 28-day month, past the grace
] as const;

/** AWKWARD_INSTANTS, plus TEST_NOW (an ISO instant) when the run sets it: `TEST_NOW=… npm test`. */
export function testInstants(testNow: string | undefined): string[] {
  if (testNow === undefined || testNow === '') return [...AWKWARD_INSTANTS];
  if (Number.isNaN(Date.parse(testNow))) throw new Error(`TEST_NOW must be an ISO instant, got ${JSON.stringify(testNow)}`);
  return [...AWKWARD_INSTANTS, new Date(testNow).toISOString()];
}

/** How long a test may take, from seeding to its last request, for `waitingForItsRun` to hold. */
const MARGIN_MS = 30 * MINUTE_MS;

/**
 * A deactivation time that is past the account job's cutoff at `now` (eligible) and yet not
 * overdue, at `now` or at any instant up to 30 minutes later: the account waits for a scheduled
 * run that is still to come, or inside its grace. One minute past the retention window always is,
 * since the deadline lies at least DEADLINE_GRACE_HOURS (≥ 1 h) before it; the check below keeps
 * that argument honest if the deadline's rule changes.
 */
export function waitingForItsRun(now: Date, config: Config): Date {
  const job = deleteStaleDeactivatedAccounts;
  const at = job.cutoff!({ config, now });
  const deactivatedAt = new Date(at.getTime() - MINUTE_MS);
  const later = new Date(now.getTime() + MARGIN_MS);
  const overdue = overdueBefore(job.cron, job.cutoff!, { config, now: later });
  if (overdue !== null && deactivatedAt < overdue) {
    throw new Error(`no deactivation time at ${now.toISOString()} is eligible and not overdue for 30 minutes`);
  }
  return deactivatedAt;
}
