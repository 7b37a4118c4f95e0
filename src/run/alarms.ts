/**
 * Backlog figures per job and the alarms they raise: data overdue for deletion (accounts a
 * scheduled run should already have deleted) and blob deletions that gave up (parked after
 * BLOB_MAX_ATTEMPTS). An alarm makes the health route answer 503 and the job's heartbeat fail.
 */
import type { Config } from '../config';
import { type Backlog, type BacklogCutoffs, type BacklogFigure, backlogQuery, parseBacklog, readBacklog } from '../db/backlog';
import type { Db } from '../db/client';
import { before, DAY_MS, MINUTE_MS } from '../time';
import { ACCOUNTS_JOB, overdueBefore } from './deadline';

export interface Alarm {
  code: 'accounts_overdue' | 'blobs_parked';
  job: string;
  count: number;
  message: string;
}

/**
 * Jobs whose end-of-run check can raise an alarm, and the backlog figures that check reads (in
 * the run's finishing request; only these, so the check costs the same whatever else waits).
 */
export const ALARM_FIGURES: Readonly<Record<string, readonly BacklogFigure[]>> = {
  [ACCOUNTS_JOB]: ['accounts_overdue', 'oldest_overdue'],
  'purge-deleted-blobs': ['blobs_parked'],
};

/** The cutoffs that define the backlog as of `now`. */
export function backlogCutoffs(config: Config, now: Date): BacklogCutoffs {
  return {
    accountsEligible: before(now, config.accountRetentionDays, DAY_MS),
    accountsOverdue: overdueBefore(config, now),
    emptyChats: before(now, config.emptyChatMinAgeMinutes, MINUTE_MS),
  };
}

/** Reads the backlog as of `now`. One request. */
export function backlogAt(db: Db, config: Config, now: Date): Promise<Backlog> {
  return readBacklog(db, backlogCutoffs(config, now));
}

/** The alarms standing at `now`, reading only the figures they are made of. One request. */
export async function alarmsAt(db: Db, config: Config, now: Date): Promise<Alarm[]> {
  const figures = [...new Set(Object.values(ALARM_FIGURES).flat())];
  const result = await backlogQuery(db, backlogCutoffs(config, now), figures);
  return alarmsOf(parseBacklog(result.rows[0]), config);
}

export function alarmsOf(backlog: Backlog, config: Config): Alarm[] {
  const alarms: Alarm[] = [];
  if (backlog.accountsOverdue > 0) {
    alarms.push({
      code: 'accounts_overdue',
      job: ACCOUNTS_JOB,
      count: backlog.accountsOverdue,
      message:
        `${backlog.accountsOverdue} account(s) deactivated more than ${config.accountRetentionDays} days before a scheduled ` +
        `run still exist, ${config.deadlineGraceHours} h after it (oldest deactivated ${backlog.oldestOverdueDeactivatedAt})`,
    });
  }
  if (backlog.blobsParked > 0) {
    alarms.push({
      code: 'blobs_parked',
      job: 'purge-deleted-blobs',
      count: backlog.blobsParked,
      message: `${backlog.blobsParked} blob deletion(s) gave up after ${config.blobMaxAttempts} attempts (see blob_deletions.last_error)`,
    });
  }
  return alarms;
}

/** The figures that matter for each job, by job name. */
export function backlogByJob(b: Backlog): Record<string, Record<string, number>> {
  return {
    [ACCOUNTS_JOB]: { eligible: b.accountsEligible, overdue: b.accountsOverdue },
    'delete-stale-empty-chats': { eligible: b.emptyChatsEligible },
    'purge-deleted-blobs': { pending: b.blobsPending, parked: b.blobsParked },
    'clear-stale-streams': { deletedChatsQueued: b.streamDeletionsQueued },
    'delete-orphaned-message-sources': { orphaned: b.orphanedSources, checksQueued: b.sourceChecksQueued },
  };
}
