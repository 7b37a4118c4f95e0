/**
 * Cron entry point: dispatches on `controller.cron` to the jobs the registry maps it to. A run
 * that stops at its budget with work left is continued through the CONTINUATIONS queue. An
 * expression no job claims, a bad config, or a failed job makes the invocation throw, so the
 * dashboard shows the cron event as failed.
 */
import { fromEnv } from './deps';
import { CONTINUATION_SUBREQUESTS, nextHop, sendContinuation } from './jobs/continuation';
import { jobsForCron } from './jobs/registry';
import { type RunReport, runJob } from './jobs/runner';
import { logEvent, publicMessage } from './log';

export class ScheduledError extends Error {
  override name = 'ScheduledError';
}

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const jobs = jobsForCron(controller.cron);
  if (!jobs) {
    logEvent('error', 'unknown_cron', { cron: controller.cron });
    throw new ScheduledError(`no job is mapped to cron "${controller.cron}" (see src/jobs/registry.ts)`);
  }
  let deps: ReturnType<typeof fromEnv>;
  try {
    deps = fromEnv(env);
  } catch (err) {
    logEvent('error', 'config_invalid', { cron: controller.cron, error: publicMessage(err) });
    throw err;
  }
  const now = new Date(controller.scheduledTime);
  const reports: RunReport[] = [];
  const reserve = deps.config.continuationMaxHops > 0 ? CONTINUATION_SUBREQUESTS : 0;
  // Sequentially: the jobs of one cron share the invocation's subrequest limit.
  for (const job of jobs) {
    const report = await runJob(job, deps, deps.config, { trigger: 'scheduled', now, dryRun: false, share: 1 / jobs.length, reserve });
    reports.push(report);
    const next = nextHop(report, 1, deps.config.continuationMaxHops);
    if (next) await sendContinuation(env.CONTINUATIONS, next);
  }
  const failed = reports.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    throw new ScheduledError(failed.map((r) => `${r.job} failed: ${r.error}`).join('; '));
  }
}
