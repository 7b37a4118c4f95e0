/**
 * The registry's invariants, checked once when the Worker loads (a broken list fails every
 * invocation at once, loudly): job names unique and fit for a route and a heartbeat variable,
 * every cron a five-field expression, at most three expressions (a Free account has five cron
 * triggers in all). That each backlog and alarm figure is declared, the type of `defineJob` checks.
 */
import type { Job } from './job';

export const MAX_CRONS = 3;
const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

export class RegistryError extends Error {
  override name = 'RegistryError';
}

/** Returns `jobs` unchanged, or throws {@link RegistryError} naming what is wrong. */
export function checkJobs<const T extends readonly Job[]>(jobs: T): T {
  const seen = new Set<string>();
  for (const job of jobs) {
    if (!NAME.test(job.name)) throw new RegistryError(`job name "${job.name}" must be kebab-case`);
    if (seen.has(job.name)) throw new RegistryError(`job "${job.name}" is declared twice`);
    seen.add(job.name);
    if (job.cron.trim().split(/\s+/).length !== 5) throw new RegistryError(`${job.name}: cron "${job.cron}" must have five fields`);
  }
  const crons = Object.keys(cronMap(jobs));
  if (crons.length > MAX_CRONS) throw new RegistryError(`${crons.length} cron expressions; at most ${MAX_CRONS} fit a Free account`);
  return jobs;
}

/** Cron expression → the names of the jobs it runs, in the jobs' order. */
export function cronMap(jobs: readonly Job[]): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const job of jobs) (map[job.cron] ??= []).push(job.name);
  return map;
}
