/**
 * Cron entry point: reads the delivery (the jobs its cron declares, the invocation's config and
 * clients), runs it (src/chain/delivery.ts), then fails the invocation if a run failed. An
 * expression no job claims, a bad config, or a failed job makes the invocation throw, so the
 * dashboard shows the cron event as failed.
 */
import { runDelivery } from './chain/delivery';
import { fromEnv } from './deps';
import { jobsForCron } from './jobs';
import { logEvent, publicMessage } from './log';

export class ScheduledError extends Error {
  override name = 'ScheduledError';
}

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const { cron, scheduledTime } = controller;
  const declared = jobsForCron(cron);
  if (!declared) {
    logEvent('error', 'unknown_cron', { cron });
    throw new ScheduledError(`no job is mapped to cron "${cron}" (no job in src/jobs/ declares it)`);
  }
  let invocation: ReturnType<typeof fromEnv>;
  try {
    invocation = fromEnv(env);
  } catch (err) {
    logEvent('error', 'config_invalid', { cron, error: publicMessage(err) });
    throw err;
  }
  const reports = await runDelivery(invocation, { queue: env.CONTINUATIONS, cron, declared, scheduledTime });
  const failed = reports.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    throw new ScheduledError(failed.map((r) => `${r.job} failed: ${r.error}`).join('; '));
  }
}
