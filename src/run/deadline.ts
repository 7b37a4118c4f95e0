/**
 * The deadline: data a scheduled run should have deleted and did not. Data is overdue when it was
 * past its job's cutoff at a scheduled run that lies more than DEADLINE_GRACE_HOURS in the past
 * (the grace leaves time for the run and its continuations). Measured against the schedule, not
 * against the cutoff alone, so a monthly cron does not raise the alarm for the weeks data
 * legitimately waits for its run.
 */
import { before, HOUR_MS } from '../time';
import type { AsOf } from './job';
import { previousRunAt } from './schedule';

/** Data older than this is overdue; null when no scheduled run is due yet. */
export function overdueBefore(cron: string, cutoff: (at: AsOf) => Date, { config, now }: AsOf): Date | null {
  const due = previousRunAt(cron, before(now, config.deadlineGraceHours, HOUR_MS));
  return due && cutoff({ config, now: due });
}
