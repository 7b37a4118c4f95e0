/**
 * Recovery of a failed scheduled run: instead of waiting for the next cron (a month, for the
 * account job), the run is made again through the CONTINUATIONS queue after RECOVERY_DELAY_SECONDS
 * × 1, 5, 15 and 60 (1, 5, 15, 60 minutes by default), so a transient outage delays deletions by
 * minutes. The failed run sends one delayed message (`recovery: true`, `continues` = its id,
 * src/chain/chain.ts); its consumer (src/chain/consumer.ts) runs the job, and while that attempt
 * fails it asks the queue to deliver the same message again after the next delay
 * (`message.retry`, counted by `message.attempts`), so every attempt is a `job_runs` row with
 * `continues` = the failed run. An attempt that would land after the job's next cron is not made:
 * that run does the work.
 *
 * Cost: one send and at most 4 deliveries per failed run, against the Free plan's 10,000 queue
 * operations a day; the jobs of the 10-minute cron, whose next run is near, get at most the
 * attempts before it.
 *
 * If the send itself fails (Queues unavailable), the failure is logged (`recovery_failed`) and the
 * cron invocation fails; the next cron is the backstop, and for the account job the deadline alarm
 * and the heartbeat's /fail ping say the work is late.
 */
import type { Config } from '../config/parse';
import { SECOND_MS } from '../time';
import type { Job } from '../run/job';
import { nextRunAt } from '../run/schedule';

/** The attempts' delays, in multiples of RECOVERY_DELAY_SECONDS. */
export const RECOVERY_STEPS = [1, 5, 15, 60] as const;
/** Cloudflare Queues refuses a `delaySeconds` above 12 hours (on send and on retry). */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;

type Delays = Pick<Config, 'recoveryDelaySeconds'>;

/**
 * The delay before recovery attempt `attempt` (1 for the first), or undefined when there is none:
 * the attempts are used up, or the job's next cron comes first.
 */
export function recoveryDelay(attempt: number, config: Delays, now: Date, nextRun: Date | null) {
  const step = RECOVERY_STEPS[attempt - 1];
  if (step === undefined) return undefined;
  const seconds = Math.min(step * config.recoveryDelaySeconds, MAX_QUEUE_DELAY_SECONDS);
  if (nextRun !== null && now.getTime() + seconds * SECOND_MS >= nextRun.getTime()) return undefined;
  return seconds;
}

/**
 * After `attempts` recovery attempts of `job` failed (0: the scheduled run itself, ended at
 * `now`): the delay before the next, or undefined when the attempts end or the next cron is nearer.
 */
export function nextRecoveryDelay(job: Pick<Job, 'cron'>, attempts: number, config: Delays, now: Date): number | undefined {
  return recoveryDelay(attempts + 1, config, now, nextRunAt(job.cron, now));
}
