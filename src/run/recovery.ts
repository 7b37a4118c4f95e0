/**
 * Recovery of a failed scheduled run: instead of waiting for the next cron (a month, for the
 * account job), the run is tried again through the CONTINUATIONS queue after RECOVERY_DELAY_SECONDS
 * × 1, 5, 15 and 60 (1, 5, 15, 60 minutes by default), so a transient outage delays deletions by
 * minutes. The failed run sends one delayed message (`recovery: true`, `continues` = its id);
 * its consumer (src/queue.ts) runs the job, and while that attempt fails it asks the queue to
 * deliver the same message again after the next delay (`message.retry`, counted by
 * `message.attempts`), so every attempt is a `job_runs` row with `continues` = the failed run.
 * An attempt that would land after the job's next cron is not made: that run does the work.
 *
 * Cost: one send and at most 4 deliveries per failed run, against the Free plan's 10,000 queue
 * operations a day; the jobs of the 10-minute cron, whose next run is near, get at most the attempts before it.
 *
 * If the send itself fails (Queues unavailable), the failure is logged (`recovery_failed`) and the
 * cron invocation fails as it would have; the next cron is the backstop, and for the account job
 * the deadline alarm and the heartbeat's /fail ping say the work is late.
 */
import type { Config } from '../config/parse';
import { logEvent, publicMessage } from '../log';
import { SECOND_MS } from '../time';
import { type Continuation, type ContinuationQueue, withThen } from './continuation';
import type { Job } from './job';
import type { RunReport } from './runner';
import { nextRunAt } from './schedule';

/** The attempts' delays, in multiples of RECOVERY_DELAY_SECONDS. */
export const RECOVERY_STEPS = [1, 5, 15, 60] as const;
/** Cloudflare Queues refuses a `delaySeconds` above 12 hours (on send and on retry). */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;

/**
 * The delay before recovery attempt `attempt` (1 for the first), or undefined when there is none:
 * the attempts are used up, or the job's next cron comes first.
 */
export function recoveryDelay(attempt: number, config: Pick<Config, 'recoveryDelaySeconds'>, now: Date, nextRun: Date | null) {
  const step = RECOVERY_STEPS[attempt - 1];
  if (step === undefined) return undefined;
  const seconds = Math.min(step * config.recoveryDelaySeconds, MAX_QUEUE_DELAY_SECONDS);
  if (nextRun !== null && now.getTime() + seconds * SECOND_MS >= nextRun.getTime()) return undefined;
  return seconds;
}

/**
 * After a scheduled run (link `hop` of its chain) failed: sends the first recovery attempt, with
 * the jobs that were to follow its chain (`then`). Never throws: a queue that refuses is logged,
 * and the caller fails the invocation as before.
 */
export async function recoverFailedRun(
  job: Job,
  report: RunReport,
  queue: ContinuationQueue,
  config: Config,
  now: Date,
  hop: number,
  then: readonly string[] = [],
) {
  if (report.status !== 'failed' || report.dryRun) return;
  const delaySeconds = recoveryDelay(1, config, now, nextRunAt(job.cron, now));
  if (delaySeconds === undefined) return;
  const body: Continuation = { job: job.name, continues: report.runId, hop, recovery: true, ...withThen(then) };
  try {
    await queue.send(body, { contentType: 'json', delaySeconds });
    logEvent('warn', 'recovery_sent', { ...body, attempt: 1, delaySeconds });
  } catch (err) {
    logEvent('error', 'recovery_failed', { ...body, error: publicMessage(err) });
  }
}

/** A delivered recovery attempt failed: have the queue deliver it again after the next delay, or give up. */
export function retryRecovery(
  job: Job,
  message: Pick<Message, 'attempts' | 'retry' | 'ack'>,
  body: Continuation,
  config: Config,
  now: Date,
) {
  const delaySeconds = recoveryDelay(message.attempts + 1, config, now, nextRunAt(job.cron, now));
  if (delaySeconds === undefined) {
    logEvent('error', 'recovery_exhausted', { ...body, attempts: message.attempts, message: 'the next cron does the work' });
    message.ack();
    return;
  }
  logEvent('warn', 'recovery_sent', { ...body, attempt: message.attempts + 1, delaySeconds });
  message.retry({ delaySeconds });
}
