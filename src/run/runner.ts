/**
 * Runs one job once: takes the job's lock (recording the run in job_runs), pings the heartbeat,
 * runs the job within its budget, records the outcome and checks its alarms (one request), pings
 * again and logs one JSON line. Expected outcomes come back as values (`skipped`, `failed`); only
 * programmer errors throw.
 */
import type { Config } from '../config/parse';
import { acquireRun, finishRun, type RunFinish } from '../db/job-runs';
import type { RunTrigger } from '../db/schema';
import { logEvent, publicMessage } from '../log';
import { before, DAY_MS, MINUTE_MS } from '../time';
import { type Alarm, alarmCheck as alarmCheckOf, alarmOf } from './alarms';
import { Budget } from './budget';
import { retryTransient, timedOut } from './retry';
import { ping } from './heartbeat';
import { APP_MAP } from '../app-map';
import { AppMapDriftError, driftQuery } from '../app-map/drift';
import { isEnabled, type Job, type JobDeps } from './job';
import type { Pause } from './pauses';

/** The bundled map's catalog check, built once per isolate (src/app-map/drift.ts). */
const DRIFT_CHECK = driftQuery(APP_MAP);

export type { RunTrigger };
/** Where a failed run failed: taking the lock, running the job, or recording the outcome. */
export type RunPhase = 'lock' | 'run' | 'record';

export interface RunOptions {
  trigger: RunTrigger;
  now: Date;
  dryRun: boolean;
  /** Run id; a fresh UUID by default. */
  runId?: string;
  /** The run this one continues (a queued continuation of a run that stopped with `more`). */
  continues?: string;
  /** Wall clock for the time budget and the duration (tests pass a fake one). */
  clock?: () => number;
  /**
   * The share of the invocation's budget this run may use. Jobs that share one cron invocation
   * split RUN_SUBREQUEST_BUDGET and RUN_TIME_BUDGET_MS between them; one job alone gets all.
   */
  share?: number;
  /** Subrequests the caller spends after the run (sending a continuation), kept out of the budget. */
  reserve?: number;
  /** The one item the run is for (a job with `target` only): an operator's run. */
  target?: string;
  /** The cron slot a scheduled run is for (src/run/slots.ts). */
  slot?: Date;
  /** Slots of the job's cron found missed (ISO): recorded with the run, and its heartbeat fails. */
  missed?: readonly string[];
  /** The run catches up a missed slot (`slot` is the latest of `missed`). */
  catchUp?: boolean;
}

export interface RunReport {
  job: string;
  runId: string;
  trigger: RunTrigger;
  /** `abandoned`: the run's lease ran out before it finished, and its record says so (another run took over). */
  status: 'succeeded' | 'failed' | 'skipped' | 'abandoned';
  dryRun: boolean;
  counts: Record<string, number>;
  more: boolean;
  subrequests: number;
  durationMs: number;
  /** Safe to show to the caller: a message, never SQL, a stack or a secret. */
  error?: string;
  /** For failed runs: where it failed. */
  phase?: RunPhase;
  /** For skipped runs: the run that holds the lock. */
  heldBy?: string | null;
  /** For skipped runs: another run already continued the same run, or already ran the same slot. */
  duplicate?: boolean;
  /** For runs skipped because the job is paused: the pause. */
  paused?: Pause;
  /** The cron slot the run is for (scheduled runs). */
  slot?: string;
  /** Slots of the job's cron whose delivery never came, found by this run (oldest first). */
  missed?: string[];
  /** The run this one continues, if any. */
  continues?: string;
  /** Alarms the run left standing (data overdue, blob deletions parked). */
  alarms?: Alarm[];
}

/** Lock (1) and finish (1) are spent outside the job's own batches. */
const RUN_OVERHEAD_SUBREQUESTS = 2;
/** The lease outlives the time budget, so it only expires when the holder really died. */
const LEASE_MARGIN_MS = MINUTE_MS;

export async function runJob(job: Job, deps: JobDeps, config: Config, opts: RunOptions): Promise<RunReport> {
  const clock = opts.clock ?? Date.now;
  const started = clock();
  const runId = opts.runId ?? crypto.randomUUID();
  const base = {
    job: job.name,
    runId,
    trigger: opts.trigger,
    dryRun: opts.dryRun,
    ...(opts.continues ? { continues: opts.continues } : {}),
    ...(opts.slot ? { slot: opts.slot.toISOString() } : {}),
    ...(opts.missed && opts.missed.length > 0 ? { missed: [...opts.missed] } : {}),
  };
  // Dry runs are not the scheduled work: they neither ping nor check alarms.
  const heartbeat = opts.dryRun ? undefined : config.heartbeatUrls[job.name];
  const checksAlarm = !opts.dryRun && job.alarm !== undefined;
  const pingInfo = { job: job.name, runId };

  if (!isEnabled(job, config)) {
    // Not configured: nothing to do and nothing to record, so not even the lock is taken.
    const report: RunReport = {
      ...base,
      status: 'skipped',
      counts: {},
      more: false,
      subrequests: 0,
      durationMs: 0,
      error: 'not configured',
    };
    logEvent('info', 'job_run', { ...report });
    return report;
  }
  let lock: Awaited<ReturnType<typeof acquireRun>>;
  let lockAttempts = 0;
  try {
    // Retried once on a transient failure, like the finish: taking the lock is idempotent by run
    // id (a retry after a commit whose reply was lost finds this run's own `running` row and goes
    // on), and a lock committed but never answered would otherwise be held until the lease ends.
    // Not after a timeout: the statement was cancelled with the request, and a hung endpoint
    // would only make the run wait its 10 s again (a failed scheduled run is recovered later).
    lock = await retryTransient(
      () => {
        lockAttempts++;
        return acquireRun(deps.db, {
          id: runId,
          job: job.name,
          trigger: opts.trigger,
          dryRun: opts.dryRun,
          leaseMs: config.runTimeBudgetMs + LEASE_MARGIN_MS,
          continues: opts.continues,
          slot: opts.slot,
          missed: opts.missed,
          catchUp: opts.catchUp,
          pruneBefore: before(opts.now, config.jobRunsRetentionDays, DAY_MS),
          driftCheck: DRIFT_CHECK,
        });
      },
      { attempts: 2, mayRetry: (err) => !timedOut(err) },
    );
  } catch (err) {
    // Postgres unreachable: nothing ran and nothing can be recorded there; the log line is the record.
    const report: RunReport = {
      ...base,
      status: 'failed',
      phase: 'lock',
      counts: {},
      more: true,
      subrequests: lockAttempts + (heartbeat ? 1 : 0),
      durationMs: clock() - started,
      error: publicMessage(err),
    };
    if (heartbeat) await ping(heartbeat, 'fail', { ...pingInfo, body: `${job.name}: ${report.error}` });
    logEvent('error', 'job_run', { ...report });
    return report;
  }
  if (!lock.acquired) {
    const report: RunReport = {
      ...base,
      status: 'skipped',
      counts: {},
      more: false,
      subrequests: lockAttempts,
      durationMs: clock() - started,
      heldBy: lock.heldBy,
      error: lock.reason,
      ...(lock.duplicate ? { duplicate: true } : {}),
      ...(lock.paused ? { paused: lock.paused } : {}),
    };
    logEvent('info', 'job_run', { ...report });
    return report;
  }
  if (heartbeat) await ping(heartbeat, 'start', pingInfo);

  const share = opts.share ?? 1;
  // Lock, finish and the two pings are spent outside the job's own batches.
  const fixed = RUN_OVERHEAD_SUBREQUESTS + (lockAttempts - 1) + (heartbeat ? 2 : 0);
  const budget = new Budget({
    subrequests: Math.floor(config.runSubrequestBudget * share) - fixed - (opts.reserve ?? 0),
    timeMs: Math.floor(config.runTimeBudgetMs * share),
    clock,
  });
  let outcome: { counts: Record<string, number>; more: boolean } = { counts: {}, more: false };
  let error: unknown;
  let phase: RunPhase | undefined;
  try {
    // The live schema must still be the mapped one, or the job's SQL could delete by a column that
    // means something else now: the run deletes nothing and fails, naming each difference.
    if (lock.differences.length > 0) throw new AppMapDriftError(lock.differences);
    if (opts.target !== undefined && !job.target) throw new Error(`${job.name} runs for no single item`);
    outcome = await job.run({ ...deps, config, budget, now: opts.now, dryRun: opts.dryRun, runId, target: opts.target });
    // Work left and nothing spent on it: the budget cannot afford one batch. Continuing such a
    // run would only repeat it; fail it so the misconfiguration shows.
    if (outcome.more && budget.used === 0) throw new BudgetTooSmallError(budget.limit, config, share);
  } catch (err) {
    error = err;
    phase = 'run';
  }
  // Only a run that finished its work can say what it left behind (one that stops with `more` is
  // continued, and its last run checks). The check rides in the finishing request.
  const alarmCheck =
    checksAlarm && error === undefined && !outcome.more ? alarmCheckOf(deps.db, job, { config, now: opts.now }) : undefined;
  const status = error === undefined ? 'succeeded' : 'failed';
  const subrequests = budget.used + fixed;
  const report: RunReport = {
    ...base,
    status,
    counts: outcome.counts,
    more: error === undefined ? outcome.more : true,
    subrequests,
    durationMs: 0,
    ...(error === undefined ? {} : { error: publicMessage(error), phase }),
  };
  let alarms: Alarm[] = [];
  try {
    const result: RunFinish = { status, counts: report.counts, more: report.more, subrequests, error: report.error ?? null };
    // Retried once on a transient failure (it only updates this run's own `running` row, so it is
    // safe to repeat): a lost finish would hold the lock until the lease expires. The retry uses
    // the slack between RUN_SUBREQUEST_BUDGET and the platform's limit.
    const { read, recorded } = await retryTransient(() => finishRun(deps.db, runId, result, alarmCheck?.query), { attempts: 2 });
    if (recorded !== status) {
      // The record is not ours to overwrite: say what it says, and why.
      report.status = 'abandoned';
      report.error =
        `the run's lease ran out before it finished and its record says ${recorded ?? 'nothing'}` +
        `${report.error ? ` (its own outcome: ${report.error})` : ''}; another run may have taken over`;
    }
    const alarm = alarmCheck && alarmOf(job, alarmCheck.read(read), config);
    if (alarm) alarms = [alarm];
    if (alarms.length > 0) report.alarms = alarms;
  } catch (finishError) {
    // The lease will expire and the next run marks this one abandoned; say so in the log.
    logEvent('error', 'job_run_record_failed', { job: job.name, runId, error: publicMessage(finishError) });
    if (error === undefined) {
      report.status = 'failed';
      report.phase = 'record';
      report.error = `the run finished but could not be recorded: ${publicMessage(finishError)}`;
    }
  }
  if (heartbeat) {
    const failure = [report.error ?? alarms.map((a) => a.message).join('\n'), missedMessage(job, report.missed)].filter(Boolean).join('\n');
    if (failure) await ping(heartbeat, 'fail', { ...pingInfo, body: `${job.name}: ${failure}` });
    else await ping(heartbeat, 'success', { ...pingInfo, body: JSON.stringify({ counts: report.counts, more: report.more }) });
  }
  report.durationMs = clock() - started;
  const level = report.status === 'failed' || report.status === 'abandoned' ? 'error' : alarms.length > 0 ? 'warn' : 'info';
  logEvent(level, 'job_run', { ...report });
  return report;
}

/** The heartbeat's word on missed slots: a delivery that never came is a failure to know about. */
function missedMessage(job: Job, missed: readonly string[] | undefined): string {
  if (!missed || missed.length === 0) return '';
  return `${missed.length} slot(s) of cron "${job.cron}" were never delivered (${missed.join(', ')}); this run caught up`;
}

export class BudgetTooSmallError extends Error {
  override name = 'BudgetTooSmallError';
  constructor(left: number, config: Config, share: number) {
    super(
      `RUN_SUBREQUEST_BUDGET=${config.runSubrequestBudget}${share < 1 ? ` split between ${Math.round(1 / share)} jobs` : ''} ` +
        `leaves ${left} subrequest(s) after the run's own requests (lock, finish, heartbeats, checks): not enough for one batch`,
    );
  }
}
