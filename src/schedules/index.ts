/**
 * The schedules the jobs run on, each written once: a job names one (`schedule: SCHEDULES.tick`),
 * and its cron, and whether it is a sweep, follow from it. wrangler.toml [triggers] crons lists
 * each expression with the jobs it runs (test/node/wrangler-config.test.ts checks both).
 */
import type { Schedule } from '../run/job';

export const SCHEDULES = {
  /** 00:00 UTC on the 1st of each month. */
  monthly: { cron: '0 0 1 * *' },
  /** 00:00 and 12:00 UTC. */
  twiceADay: { cron: '0 */12 * * *' },
  /**
   * Every 10 minutes: the tick, the schedule of the sweeps (src/chain/tick.ts). One expression for
   * them all keeps the Worker within a Free account's five cron triggers.
   */
  tick: { cron: '*/10 * * * *', tick: true },
} as const satisfies Record<string, Schedule>;

/** The account job's schedule: the deletion notices (src/events/) announce its runs. */
export const ACCOUNT_DELETIONS: Schedule = SCHEDULES.monthly;
