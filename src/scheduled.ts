/**
 * Cron entry point: dispatches on `controller.cron` to the jobs the registry maps it to, each run
 * for the delivery's slot, after a catch-up of any deleting job's missed slot (src/run/slots.ts). A run
 * that stops at its budget with work left is continued through the CONTINUATIONS queue. A cron of
 * sweeps runs them only when its Upstash-only tick finds the app active; a cron of deleting jobs
 * is followed by the sweeps through the queue. An
 * expression no job claims, a bad config, or a failed job makes the invocation throw, so the
 * dashboard shows the cron event as failed.
 */
import type { Config } from './config/parse';
import { latestSlots } from './db/job-runs';
import { fromEnv, type Invocation } from './deps';
import { runContinuing } from './run/continuation';
import { isEnabled, type Job } from './run/job';
import { recoverFailedRun } from './run/recovery';
import { JOBS, jobsForCron, SWEEPS } from './jobs';
import type { RunReport } from './run/runner';
import { planRuns, type SlotRun, tracksSlots } from './run/slots';
import { tick } from './run/tick';
import { logEvent, publicMessage } from './log';

export class ScheduledError extends Error {
  override name = 'ScheduledError';
}

/**
 * A cron of sweeps only (the frequent tick) first asks Upstash whether they are needed
 * (src/run/tick.ts). The deferral needs the queue: with CONTINUATION_MAX_HOPS = 0 every tick runs
 * the sweeps, as before.
 */
function sweepsOnly(jobs: readonly Job[]): boolean {
  return jobs.every((job) => job.sweep);
}

/** The sweeps follow the chain of a cron's deleting jobs (sent after its last one is done). */
function followUps(jobs: readonly Job[], config: Config): string[] {
  return sweepsOnly(jobs) ? [] : SWEEPS.filter((job) => isEnabled(job, config)).map((job) => job.name);
}

export async function scheduled(controller: ScheduledController, env: Env, _ctx: ExecutionContext): Promise<void> {
  const declared = jobsForCron(controller.cron);
  if (!declared) {
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
  // An optional job left unconfigured takes no share of the invocation's budget.
  const jobs = declared.filter((job) => isEnabled(job, deps.config));
  // The slot this delivery is for: Cloudflare's scheduledTime is the cron's time, not the clock's.
  const now = new Date(controller.scheduledTime);
  const defers = deps.config.continuationMaxHops > 0;
  if (defers && sweepsOnly(jobs) && !(await tick(deps, deps.config, now, controller.cron)).sweep) return;
  // From here the delivery touches Postgres anyway: it checks for missed slots first (one request).
  const runs = await slotRuns(deps, jobs, now, controller.cron);
  const reports: RunReport[] = [];
  const then = defers ? followUps(jobs, deps.config) : [];
  // Sequentially: the runs of one delivery share the invocation's subrequest limit.
  for (const [i, run] of runs.entries()) {
    const opts = {
      trigger: 'scheduled',
      now,
      dryRun: false,
      share: 1 / runs.length,
      slot: run.slot,
      missed: run.missed,
      catchUp: run.catchUp,
      // The slot check's request comes out of the last run's share: the first runs of a tick are
      // the heaviest sweeps (the blob purge needs 5 for one batch).
      reserve: i === runs.length - 1 ? SLOT_CHECK_SUBREQUESTS : 0,
    } as const;
    const follow = i === runs.length - 1 ? then : [];
    const report = await runContinuing(run.job, deps, env.CONTINUATIONS, opts, 1, follow);
    // A failed run is retried through the queue within minutes, not at the next cron; the sweeps
    // that would have followed it follow its recovery.
    await recoverFailedRun(run.job, report, env.CONTINUATIONS, deps.config, new Date(), 1, follow);
    reports.push(report);
  }
  const failed = reports.filter((r) => r.status === 'failed');
  if (failed.length > 0) {
    throw new ScheduledError(failed.map((r) => `${r.job} failed: ${r.error}`).join('; '));
  }
}

/** The slot check's one Neon request, spent before the runs (kept out of the first run's budget). */
const SLOT_CHECK_SUBREQUESTS = 1;

/**
 * The runs of this delivery: a catch-up for each deleting job whose latest slot was missed, then
 * the cron's own jobs (src/run/slots.ts); one `slots_missed` line per job that missed slots. If
 * Postgres does not answer the check, the cron's own jobs run (and report the outage themselves).
 */
async function slotRuns(deps: Invocation, own: readonly Job[], now: Date, cron: string): Promise<SlotRun[]> {
  const deleting = JOBS.filter((job) => tracksSlots(job) && isEnabled(job, deps.config));
  let latest: Map<string, Date>;
  try {
    latest = await latestSlots(
      deps.db,
      deleting.map((job) => job.name),
    );
  } catch (err) {
    logEvent('warn', 'slot_check_failed', { cron, error: publicMessage(err) });
    latest = new Map();
  }
  const runs = planRuns(own, deleting, latest, now);
  for (const run of runs.filter((r) => r.missed.length > 0)) {
    logEvent('warn', 'slots_missed', { job: run.job.name, cron: run.job.cron, delivery: cron, slots: run.missed, catchUp: run.catchUp });
  }
  return runs;
}
