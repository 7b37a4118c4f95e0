/**
 * Every job, and which cron expression runs which jobs. The expressions must be exactly those of
 * wrangler.toml [triggers] crons (a test checks both ways); at most three, since a Free account
 * has five cron triggers in all.
 */
import { clearStaleStreams } from '../jobs/clear-stale-streams';
import { deleteOrphanedMessageSources } from '../jobs/delete-orphaned-message-sources';
import { deleteStaleDeactivatedAccounts } from '../jobs/delete-stale-deactivated-accounts';
import { deleteStaleEmptyChats } from '../jobs/delete-stale-empty-chats';
import { purgeDeletedBlobs } from '../jobs/purge-deleted-blobs';
import type { Job } from './job';

export const JOBS: readonly Job[] = [
  deleteStaleDeactivatedAccounts,
  deleteStaleEmptyChats,
  purgeDeletedBlobs,
  clearStaleStreams,
  deleteOrphanedMessageSources,
];

/** Cron expression → the jobs it runs, in order. */
export const CRONS: Readonly<Record<string, readonly string[]>> = {
  '0 0 1 * *': ['delete-stale-deactivated-accounts'],
  '0 */12 * * *': ['delete-stale-empty-chats'],
  // Cleanup after deletions: blobs before orphaned sources is irrelevant, all three are independent.
  '*/10 * * * *': ['purge-deleted-blobs', 'clear-stale-streams', 'delete-orphaned-message-sources'],
};

export function findJob(name: string): Job | undefined {
  return JOBS.find((job) => job.name === name);
}

/** The jobs a cron expression runs, or undefined when no job claims it. */
export function jobsForCron(cron: string): Job[] | undefined {
  const names = CRONS[cron];
  return names?.map((name) => {
    const job = findJob(name);
    if (!job) throw new Error(`CRONS names unknown job ${name}`);
    return job;
  });
}

/** The cron expression that runs `job`. */
export function cronOf(job: string): string | undefined {
  return Object.keys(CRONS).find((cron) => CRONS[cron]?.includes(job));
}
