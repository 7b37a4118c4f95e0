/**
 * What legal holds (src/db/holds.ts) mean to an account's erasure, shared by the account job
 * (which must not erase a held account) and the delivery job (which must not announce the erasure
 * of one). A held account is erased by no one. Once its hold has ended (expired or lifted) it goes
 * at the account job's next run — with account events on and DELETION_NOTICE_DAYS above 0, only
 * once the run its `account.deletion_scheduled` notice names (`scheduledDeletionAt`, at least
 * DELETION_NOTICE_DAYS after the notice, see `noticeRunAfterHold`) has come.
 */
import { type SQL, sql } from 'drizzle-orm';
import { APP } from '../app-map/app';
import type { Config } from '../config/parse';
import { formerlyHeld, heldOwner } from '../db/holds';
import { nextRunAt } from '../run/schedule';
import { DAY_MS } from '../time';

const user = APP.role('user');

const idOf = (u: string) => sql`${sql.raw(u)}.${user.id}`;
const at = (now: Date) => sql`${now.toISOString()}::timestamptz`;

/** The user row `u` is under an active legal hold at `now`. Index: legal_holds_pkey. */
export function legallyHeld(u: string, now: Date): SQL {
  return heldOwner(idOf(u), at(now));
}

/** Whether ended holds wait for a deletion notice: account events on, with notices. */
export function noticeAfterHold(config: Config): boolean {
  return config.accountEvents !== undefined && config.deletionNoticeDays > 0;
}

/**
 * Legal holds let the user row `u` go at `now`: none is active, and one that has ended has had
 * its deletion notice out for long enough (when notices are sent).
 * Index: legal_holds_pkey, then account_events_once_idx for a formerly held account only.
 */
export function freeOfHolds(u: string, now: Date, config: Config): SQL {
  const free = sql`NOT ${legallyHeld(u, now)}`;
  if (!noticeAfterHold(config)) return free;
  return sql`${free} AND (NOT ${formerlyHeld(idOf(u), at(now))} OR EXISTS (
    SELECT 1 FROM spacerr_jobs.account_events ne
    WHERE ne.user_id = ${idOf(u)} AND ne.deactivated_at = ${user.instant('deactivatedAt', u)}
      AND ne.type = 'account.deletion_scheduled'
      AND (ne.data->>'scheduledDeletionAt')::timestamptz <= ${at(now)}))`;
}

/** The user row `u` had a hold that has ended by `now`. Index: legal_holds_pkey. */
export function holdEnded(u: string, now: Date): SQL {
  return formerlyHeld(idOf(u), at(now));
}

/**
 * The run a notice recorded at `now` for an account whose hold has ended announces: the account
 * job's first run more than DELETION_NOTICE_DAYS away, so the notice is out that long before it.
 */
export function noticeRunAfterHold(cron: string, now: Date, config: Config): Date | null {
  return nextRunAt(cron, new Date(now.getTime() + config.deletionNoticeDays * DAY_MS));
}
