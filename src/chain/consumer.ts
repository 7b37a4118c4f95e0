/**
 * The consumer's side of the chain: one delivered message, one run, and what its report means for
 * the message. The run takes the invocation's whole budget (max_batch_size = 1 in wrangler.toml).
 * - succeeded → ack (the chain's next message was sent if one follows, see runInChain);
 * - skipped as a duplicate (this run's predecessor was already followed) → ack;
 * - skipped because the job is paused → ack: the chain stops there (its follow-ups were sent on,
 *   see nextMessage); the next cron after the resume does the work;
 * - skipped because another run holds the lock → retry later (that run may be a manual one that
 *   will not continue the chain);
 * - failed → retry with a delay; after the queue's max_retries the message is dropped and the next
 *   cron takes over, which the failed runs in job_runs and the heartbeat make visible;
 * - failed, for a recovery of a failed scheduled run → retry after the next delay of its backoff,
 *   or ack once its attempts are used up (src/chain/recovery.ts).
 */
import { logEvent } from '../log';
import type { Invocation, Job } from '../run/job';
import { type ChainMessage, type ChainQueue, runInChain, toWire } from './chain';
import { nextRecoveryDelay } from './recovery';

const BUSY_RETRY_SECONDS = 60;
const FAILED_RETRY_SECONDS = 120;

/** What a delivered message comes to: acknowledged, or delivered again after `delaySeconds`. */
export type Settled = { ack: true } | { ack: false; delaySeconds: number };

const ACK: Settled = { ack: true };
const retry = (delaySeconds: number): Settled => ({ ack: false, delaySeconds });

/**
 * Runs the delivered `message` (of `job`) at its position, and says whether to ack or retry it.
 * `attempts` is the queue's count of deliveries; `share` the run's part of the invocation.
 */
export async function consume(
  job: Job,
  message: ChainMessage,
  invocation: Invocation,
  { queue, attempts, share }: { queue: ChainQueue; attempts: number; share: number },
): Promise<Settled> {
  const now = new Date();
  const run = { trigger: 'queue', now, dryRun: false, continues: message.continues, share } as const;
  const report = await runInChain(job, invocation, { queue, run, position: message.position, followUps: message.followUps });
  if (report.status === 'failed' && message.why === 'recover') return retryRecovery(job, message, attempts, invocation.config, now);
  if (report.status === 'failed') return retry(FAILED_RETRY_SECONDS);
  if (report.status === 'skipped' && !report.duplicate && !report.paused) return retry(BUSY_RETRY_SECONDS);
  return ACK;
}

/** A delivered recovery attempt failed: delivered again after the next delay, or given up. */
function retryRecovery(job: Job, message: ChainMessage, attempts: number, config: Invocation['config'], now: Date): Settled {
  const body = toWire(message);
  const delaySeconds = nextRecoveryDelay(job, attempts, config, now);
  if (delaySeconds === undefined) {
    logEvent('error', 'recovery_exhausted', { ...body, attempts, message: 'the next cron does the work' });
    return ACK;
  }
  logEvent('warn', 'recovery_sent', { ...body, attempt: attempts + 1, delaySeconds });
  return retry(delaySeconds);
}
