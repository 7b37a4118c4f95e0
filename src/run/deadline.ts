/**
 * The deadline alarm. An account is overdue when a scheduled run of the account job should have
 * deleted it and did not: it was past its retention window at a scheduled time that lies more than
 * DEADLINE_GRACE_HOURS in the past (the grace leaves time for the run and its continuations).
 * Measured against the schedule, not against the retention window alone, so a monthly cron does
 * not raise the alarm for the weeks an account legitimately waits for its run.
 */
import type { Config } from '../config';
import { before, DAY_MS, HOUR_MS } from '../time';
import { cronOf } from './registry';
import { previousRunAt } from './schedule';

export const ACCOUNTS_JOB = 'delete-stale-deactivated-accounts';

/** Accounts deactivated before this instant are overdue; null when no run is due yet. */
export function overdueBefore(config: Config, now: Date): Date | null {
  const cron = cronOf(ACCOUNTS_JOB);
  if (!cron) return null;
  const due = previousRunAt(cron, before(now, config.deadlineGraceHours, HOUR_MS));
  return due && before(due, config.accountRetentionDays, DAY_MS);
}
