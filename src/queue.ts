/**
 * Queue entry point: the consumer of CONTINUATIONS (see src/run/continuation.ts). One message,
 * one run, with the invocation's whole budget (max_batch_size = 1 in wrangler.toml). Outcomes:
 * - succeeded → ack (the next hop was sent if the run stopped with `more`, see runContinuing);
 * - skipped as a duplicate (this run was already continued) → ack;
 * - skipped because the job is paused → ack: the chain stops there (the jobs of its `then` were
 *   sent on, see runContinuing); the next cron after the resume does the work;
 * - skipped because another run holds the lock → retry later (that run may be a manual one that
 *   will not continue the chain);
 * - failed → retry with a delay; after the queue's max_retries the message is dropped and the next
 *   cron takes over, which the failed runs in job_runs and the heartbeat make visible;
 * - failed, for a recovery of a failed scheduled run → retry after the next delay of its backoff,
 *   or ack once its attempts are used up (src/run/recovery.ts).
 */
import { fromEnv } from './deps';
import { parseContinuation, runContinuing } from './run/continuation';
import { retryRecovery } from './run/recovery';
import { findJob } from './jobs';
import { logEvent, publicMessage } from './log';

const BUSY_RETRY_SECONDS = 60;
const FAILED_RETRY_SECONDS = 120;

export async function queue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
  let deps: ReturnType<typeof fromEnv>;
  try {
    deps = fromEnv(env);
  } catch (err) {
    logEvent('error', 'config_invalid', { queue: batch.queue, error: publicMessage(err) });
    batch.retryAll({ delaySeconds: FAILED_RETRY_SECONDS });
    return;
  }
  for (const message of batch.messages) {
    const body = parseContinuation(message.body);
    const job = body && findJob(body.job);
    if (!body || !job) {
      logEvent('error', 'continuation_invalid', { queue: batch.queue, messageId: message.id });
      message.ack();
      continue;
    }
    const now = new Date();
    // A recovery runs again as the link that failed; a continuation as the next one.
    const report = await runContinuing(
      job,
      deps,
      env.CONTINUATIONS,
      { trigger: 'queue', now, dryRun: false, continues: body.continues, share: 1 / batch.messages.length },
      body.recovery ? body.hop : body.hop + 1,
      body.then,
    );
    if (report.status === 'failed' && body.recovery) retryRecovery(job, message, body, deps.config, now);
    else if (report.status === 'failed') message.retry({ delaySeconds: FAILED_RETRY_SECONDS });
    else if (report.status === 'skipped' && !report.duplicate && !report.paused) message.retry({ delaySeconds: BUSY_RETRY_SECONDS });
    else message.ack();
  }
}
