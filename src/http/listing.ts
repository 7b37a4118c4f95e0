/**
 * The jobs listing: one read shared by the JSON route and the status page, so the two cannot
 * disagree about a job's last run, next run, backlog or alarms.
 */
import { latestRuns } from '../db/job-runs';
import type { Invocation } from '../deps';
import { backlogAt } from '../run/alarms';
import { isEnabled, type Job } from '../run/job';
import { JOBS } from '../jobs';
import { listPauses, pauseAlarms } from '../run/pauses';
import { nextRunAt } from '../run/schedule';

/** One job as the listing shows it. */
export type ListedJob = Awaited<ReturnType<typeof jobListing>>['jobs'][number];

/**
 * What GET /api/internal/jobs answers, and the status page shows: per job, its cron and next
 * scheduled time, its last run, the latest slots it found missed, its pause and its backlog; plus
 * the alarms standing. Three Postgres requests (last runs, backlog, pauses), sent together.
 */
export async function jobListing(deps: Invocation, now: Date) {
  const [runs, backlog, pauses] = await Promise.all([
    latestRuns(
      deps.db,
      JOBS.map((j) => j.name),
    ),
    backlogAt(deps.db, JOBS, { config: deps.config, now }),
    listPauses(deps.db),
  ]);
  const alarms = [...backlog.alarms, ...pauseAlarms(pauses, deps.config, now)];
  const next = (job: Job) => (isEnabled(job, deps.config) ? nextRunAt(job.cron, now) : null);
  // A sweep's own cron runs it only while users are active (src/chain/tick.ts); on an idle app it
  // runs after the next chain of a deleting job. With CONTINUATION_MAX_HOPS=0 every tick sweeps.
  const idleSweep = deps.config.continuationMaxHops > 0 ? earliest(JOBS.filter((j) => !j.sweep).map(next)) : undefined;
  return {
    now: now.toISOString(),
    ok: alarms.length === 0,
    alarms,
    jobs: JOBS.map((job) => {
      const cron = job.cron;
      const run = runs.find((r) => r.job === job.name);
      return {
        name: job.name,
        description: job.description,
        cron,
        enabled: isEnabled(job, deps.config),
        deletes: job.deletes ?? null,
        nextRunAt: next(job)?.toISOString() ?? null,
        ...(job.sweep && idleSweep !== undefined ? { nextRunAtIfIdle: idleSweep?.toISOString() ?? null } : {}),
        lastRun: run
          ? {
              id: run.id,
              status: run.status,
              trigger: run.trigger,
              dryRun: run.dryRun,
              startedAt: run.startedAt.toISOString(),
              finishedAt: run.finishedAt?.toISOString() ?? null,
              durationMs: run.finishedAt ? run.finishedAt.getTime() - run.startedAt.getTime() : null,
              counts: run.counts,
              more: run.more,
              subrequests: run.subrequests,
              error: run.error,
              continues: run.continues,
              slot: run.slot?.toISOString() ?? null,
              missed: run.missed,
            }
          : null,
        missed: run?.lastMissed
          ? {
              runId: run.lastMissed.runId,
              slots: run.lastMissed.slots,
              foundAt: run.lastMissed.foundAt.toISOString(),
              status: run.lastMissed.status,
            }
          : null,
        paused: pauses.find((p) => p.job === job.name) ?? null,
        backlog: backlog.byJob.get(job.name) ?? {},
      };
    }),
  };
}

function earliest(dates: Array<Date | null>): Date | null {
  const times = dates.filter((d) => d !== null).map((d) => d.getTime());
  return times.length > 0 ? new Date(Math.min(...times)) : null;
}
