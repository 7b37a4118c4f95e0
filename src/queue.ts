/**
 * Queue entry point: the consumer of CONTINUATIONS (see src/jobs/continuation.ts). One message,
 * one run, with the invocation's whole budget (max_batch_size = 1 in wrangler.toml). Outcomes:
 * - succeeded → ack, and send the next hop if the run stopped with `more`;
 * - skipped as a duplicate (this run was already continued) → ack;
 * - skipped because another run holds the lock → retry later (that run may be a manual one that
 *   will not continue the chain);
 * - failed → retry with a delay; after the queue's max_retries the message is dropped and the next
 *   cron takes over, which the failed runs in job_runs and the heartbeat make visible.
 */
import { fromEnv } from './deps';
import { CONTINUATION_SUBREQUESTS, type Continuation, nextHop, parseContinuation, sendContinuation } from './jobs/continuation';
import { findJob } from './jobs/registry';
import { runJob } from './jobs/runner';
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
    const report = await runJob(job, deps, deps.config, {
      trigger: 'queue',
      now: new Date(),
      dryRun: false,
      continues: body.continues,
      share: 1 / batch.messages.length,
      reserve: CONTINUATION_SUBREQUESTS,
    });
    if (report.status === 'failed') {
      message.retry({ delaySeconds: FAILED_RETRY_SECONDS });
    } else if (report.status === 'skipped' && !report.duplicate) {
      message.retry({ delaySeconds: BUSY_RETRY_SECONDS });
    } else {
      const next: Continuation | undefined = nextHop(report, body.hop + 1, deps.config.continuationMaxHops);
      if (next) await sendContinuation(env.CONTINUATIONS, next);
      else if (report.more && report.status === 'succeeded') {
        logEvent('warn', 'continuation_limit', { ...body, message: 'CONTINUATION_MAX_HOPS reached; the next cron continues' });
      }
      message.ack();
    }
  }
}
