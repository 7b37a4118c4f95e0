/**
 * Queue entry point: the consumer of CONTINUATIONS. For each message: read it (a body this Worker
 * did not send is logged and acked), run it (src/chain/consumer.ts), then ack or retry it as the
 * run's report says. A bad config retries the whole batch later.
 */
import { parseMessage } from './chain/chain';
import { consume } from './chain/consumer';
import { fromEnv } from './deps';
import { findJob } from './jobs';
import { logEvent, publicMessage } from './log';

const CONFIG_RETRY_SECONDS = 120;

export async function queue(batch: MessageBatch<unknown>, env: Env, _ctx: ExecutionContext): Promise<void> {
  let invocation: ReturnType<typeof fromEnv>;
  try {
    invocation = fromEnv(env);
  } catch (err) {
    logEvent('error', 'config_invalid', { queue: batch.queue, error: publicMessage(err) });
    batch.retryAll({ delaySeconds: CONFIG_RETRY_SECONDS });
    return;
  }
  for (const message of batch.messages) {
    const next = parseMessage(message.body);
    const job = next && findJob(next.job);
    if (!next || !job) {
      logEvent('error', 'continuation_invalid', { queue: batch.queue, messageId: message.id });
      message.ack();
      continue;
    }
    const opts = { queue: env.CONTINUATIONS, attempts: message.attempts, share: 1 / batch.messages.length };
    const settled = await consume(job, next, invocation, opts);
    if (settled.ack) message.ack();
    else message.retry({ delaySeconds: settled.delaySeconds });
  }
}
