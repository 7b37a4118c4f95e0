/** Cron expression → the names of the jobs it runs, in the jobs' order: the crons the tests fire. */
import { JOBS } from '../../src/jobs/index.ts';
import { cronMap } from '../../src/run/registry-checks.ts';

export const CRONS: Readonly<Record<string, readonly string[]>> = cronMap(JOBS);
