/**
 * A cron delivery's runs: each of the cron's jobs for the delivery's slot, after a catch-up of any
 * deleting job's missed slot (src/chain/slots.ts), each the first run of its chain
 * (src/chain/chain.ts). A cron of sweeps runs them only when its Upstash-only tick finds the app
 * active (src/chain/tick.ts); a cron of deleting jobs is followed by the sweeps through the queue.
 */
import type { Config } from '../config/parse';
import { latestSlots } from '../db/job-runs';
import { logEvent, publicMessage } from '../log';
import { type Invocation, isEnabled, type Job } from '../run/job';
import { JOBS, SWEEPS } from '../jobs';
import type { RunReport } from '../run/report';
import { type ChainQueue, runInChain } from './chain';
import { planRuns, type SlotRun, tracksSlots } from './slots';
import { tick } from './tick';

/** The slot check's one Neon request, spent before the runs (kept out of the first run's budget). */
const SLOT_CHECK_SUBREQUESTS = 1;

/**
 * Runs the delivery of `cron` at `scheduledTime` for the jobs it declares, one after another (the
 * runs of one delivery share the invocation's subrequest limit), and returns their reports (none
 * when the tick defers the sweeps).
 */
export async function runDelivery(
  invocation: Invocation,
  { queue, cron, declared, scheduledTime }: { queue: ChainQueue; cron: string; declared: readonly Job[]; scheduledTime: number },
): Promise<RunReport[]> {
  const { config } = invocation;
  // An optional job left unconfigured takes no share of the invocation's budget.
  const jobs = declared.filter((job) => isEnabled(job, config));
  // The slot this delivery is for: Cloudflare's scheduledTime is the cron's time, not the clock's.
  const now = new Date(scheduledTime);
  // The deferral needs the queue: with CONTINUATION_MAX_HOPS = 0 every tick runs the sweeps.
  const defers = config.continuationMaxHops > 0;
  if (defers && sweepsOnly(jobs) && !(await tick(invocation, config, now, cron)).sweep) return [];
  // From here the delivery touches Postgres anyway: it checks for missed slots first (one request).
  const runs = await slotRuns(invocation, jobs, now, cron);
  const followUps = defers ? followUpsOf(jobs, config) : [];
  const reports: RunReport[] = [];
  for (const [i, slotRun] of runs.entries()) {
    const last = i === runs.length - 1;
    const run = {
      trigger: 'scheduled',
      now,
      dryRun: false,
      share: 1 / runs.length,
      slot: slotRun.slot,
      missed: slotRun.missed,
      catchUp: slotRun.catchUp,
      // The slot check's request comes out of the last run's share: the first runs of a tick are
      // the heaviest sweeps (the blob purge needs 5 for one batch).
      reserve: last ? SLOT_CHECK_SUBREQUESTS : 0,
    } as const;
    // The sweeps follow the last run's chain; a failed run is recovered with them.
    reports.push(await runInChain(slotRun.job, invocation, { queue, run, position: 1, followUps: last ? followUps : [] }));
  }
  return reports;
}

/** A cron of sweeps only (the frequent tick) first asks Upstash whether they are needed. */
function sweepsOnly(jobs: readonly Job[]): boolean {
  return jobs.every((job) => job.sweep);
}

/** The follow-ups of a cron's deleting jobs: the configured sweeps, sent after its last chain is done. */
function followUpsOf(jobs: readonly Job[], config: Config): string[] {
  return sweepsOnly(jobs) ? [] : SWEEPS.filter((job) => isEnabled(job, config)).map((job) => job.name);
}

/**
 * The runs of this delivery: a catch-up for each deleting job whose latest slot was missed, then
 * the cron's own jobs (src/chain/slots.ts); one `slots_missed` line per job that missed slots. If
 * Postgres does not answer the check, the cron's own jobs run (and report the outage themselves).
 */
async function slotRuns(invocation: Invocation, own: readonly Job[], now: Date, cron: string): Promise<SlotRun[]> {
  const deleting = JOBS.filter((job) => tracksSlots(job) && isEnabled(job, invocation.config));
  let latest: Map<string, Date>;
  try {
    latest = await latestSlots(
      invocation.db,
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
