/**
 * Every job, in the order a cron that runs several runs them. Adding a job is one file in
 * src/jobs/ and one line here (and its cron in wrangler.toml if it is new: a test checks both
 * ways). Everything else — the listing, the alarms, the chain's sweeps — is derived from the list.
 */
import { checkJobs } from '../run/registry-checks';
import type { Job } from '../run/job';
import { clearStaleStreams } from './clear-stale-streams';
import { deleteOrphanedMessageSources } from './delete-orphaned-message-sources';
import { deleteStaleDeactivatedAccounts } from './delete-stale-deactivated-accounts';
import { deleteStaleEmptyChats } from './delete-stale-empty-chats';
import { deleteStripeCustomers } from './delete-stripe-customers';
import { deliverAccountEvents } from './deliver-account-events';
import { purgeDeletedBlobs } from './purge-deleted-blobs';

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
