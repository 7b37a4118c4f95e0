/**
 * Cron entry point: dispatches on `controller.cron` to the jobs the registry maps it to. A run
 * that stops at its budget with work left is continued through the CONTINUATIONS queue. An
 * expression no job claims, a bad config, or a failed job makes the invocation throw, so the
 * dashboard shows the cron event as failed.
 */
import { fromEnv } from './deps';
import { runContinuing } from './run/continuation';
import { recoverFailedRun } from './run/recovery';
import { jobsForCron } from './run/registry';
import type { RunReport } from './run/runner';
import { logEvent, publicMessage } from './log';

export class ScheduledError extends Error {
  override name = 'ScheduledError';
}

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const jobs = jobsForCron(controller.cron);
  if (!jobs) {
    logEvent('error', 'unknown_cron', { cron: controller.cron });
    throw new ScheduledError(`no job is mapped to cron "${controller.cron}" (no job in src/jobs/ declares it)`);
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
  // Sequentially: the jobs of one cron share the invocation's subrequest limit.
  for (const job of jobs) {
    const report = await runContinuing(
      job,
      deps,
      env.CONTINUATIONS,
      { trigger: 'scheduled', now, dryRun: false, share: 1 / jobs.length },
      1,
    );
    // A failed run is retried through the queue within minutes, not at the next cron.
    await recoverFailedRun(job, report, env.CONTINUATIONS, deps.config, new Date(), 1);
    reports.push(report);
  }
  const failed = reports.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    throw new ScheduledError(failed.map((r) => `${r.job} failed: ${r.error}`).join('; '));
  }
}
