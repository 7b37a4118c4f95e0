import type { Config } from '../config';
import type { Db } from '../db/client';
import type { RedisClient } from '../redis/client';
import type { Budget } from './budget';

/** The clients a job talks to, built once per invocation (src/deps.ts). */
export interface JobDeps {
  db: Db;
  redis: RedisClient;
  /** The attachments bucket; only deletes are needed (R2's `delete` takes up to 1000 keys). */
  blobs: { delete(keys: string | string[]): Promise<void> };
}

export interface JobContext extends JobDeps {
  config: Config;
  budget: Budget;
  /** The run's reference time: cutoffs are computed from it, never from the clock. */
  now: Date;
  /** Count what would be deleted; delete nothing. */
  dryRun: boolean;
}

export interface JobOutcome {
  /** Rows or keys per table/store touched (or, in a dry run, that would be). */
  counts: Record<string, number>;
  /** True when the run stopped at its budget with work left for the next run. */
  more: boolean;
}

export interface Job {
  name: string;
  description: string;
  run(ctx: JobContext): Promise<JobOutcome>;
}
