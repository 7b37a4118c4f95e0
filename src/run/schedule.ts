/**
 * When a cron expression fires, as Cloudflare reads it (five fields, UTC). Croner only computes
 * dates here: no function is passed, so it never sets a timer.
 */
import { Cron } from 'croner';

function parse(cron: string): Cron {
  return new Cron(cron, { timezone: 'UTC', paused: true });
}

/** The first time after `now` that `cron` fires. */
export function nextRunAt(cron: string, now: Date): Date | null {
  return parse(cron).nextRun(now);
}

/** The last time strictly before `before` that `cron` fired. */
export function previousRunAt(cron: string, before: Date): Date | null {
  return parse(cron).previousRuns(1, before)[0] ?? null;
}

/** The times `cron` fired after `after` and before `before` (both exclusive), the latest `limit` of them, oldest first. */
export function runsBetween(cron: string, after: Date, before: Date, limit: number): Date[] {
  return parse(cron)
    .previousRuns(limit, before)
    .filter((at) => at.getTime() > after.getTime())
    .reverse();
}
