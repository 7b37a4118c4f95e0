/**
 * Every job, in the order a cron that runs several runs them. Adding a job is one file in
 * src/jobs/ and one line here (and its cron in wrangler.toml if it is new: a test checks both
 * ways). Everything else — the cron map, the listing, the alarms — is derived from the list.
 */
import { clearStaleStreams } from '../jobs/clear-stale-streams';
import { deleteOrphanedMessageSources } from '../jobs/delete-orphaned-message-sources';
import { deleteStaleDeactivatedAccounts } from '../jobs/delete-stale-deactivated-accounts';
import { deleteStaleEmptyChats } from '../jobs/delete-stale-empty-chats';
import { deleteStripeCustomers } from '../jobs/delete-stripe-customers';
import { deliverAccountEvents } from '../jobs/deliver-account-events';
import { purgeDeletedBlobs } from '../jobs/purge-deleted-blobs';
import type { Job } from './job';
import { cronMap, checkJobs } from './registry-checks';

export const JOBS = checkJobs([
  deleteStaleDeactivatedAccounts,
  deleteStaleEmptyChats,
  purgeDeletedBlobs,
  deleteStripeCustomers,
  clearStaleStreams,
  deleteOrphanedMessageSources,
  deliverAccountEvents,
] as const);

/** Every job name, as a literal type. */
export type JobName = (typeof JOBS)[number]['name'];

/** Cron expression → the names of the jobs it runs, in order (derived from the declarations). */
export const CRONS: Readonly<Record<string, readonly string[]>> = cronMap(JOBS);

/** The sweeps, in order: what follows every scheduled chain of a deleting job. */
export const SWEEPS: readonly Job[] = JOBS.filter((job) => job.sweep);

export function findJob(name: string): Job | undefined {
  return JOBS.find((job) => job.name === name);
}

/** The jobs a cron expression runs, or undefined when no job claims it. */
export function jobsForCron(cron: string): Job[] | undefined {
  const jobs = JOBS.filter((job) => job.cron === cron);
  return jobs.length > 0 ? jobs : undefined;
}
