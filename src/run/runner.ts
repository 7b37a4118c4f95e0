/**
 * Runs one job once, in three phases: acquire (take the job's lock, recording the run in
 * job_runs), execute (the job within its budget, between the heartbeat's start and its outcome
 * ping) and record (the outcome and the alarm check, one request); then it logs one `job_run`
 * line. Expected outcomes come back as values (`skipped`, `failed`); only programmer errors throw.
 */
import type { Config } from '../config/parse';
import { type Acquired, acquireRun, finishRun, type RunFinish, type Skipped } from '../db/job-runs';
import { logEvent, publicMessage } from '../log';
import { before, DAY_MS, MINUTE_MS } from '../time';
import { type Alarm, alarmCheck as alarmCheckOf, alarmOf } from './alarms';
import { Budget } from './budget';
import { retryTransient, timedOut } from './retry';
import { ping } from './heartbeat';
import { APP_MAP } from '../app-map';
import { AppMapDriftError, driftQuery } from '../app-map/drift';
import { type Invocation, isEnabled, type Job, type JobOutcome } from './job';
import type { RunOptions, RunPhase, RunReport } from './report';

/** The bundled map's catalog check, built once per isolate (src/app-map/drift.ts). */
const DRIFT_CHECK = driftQuery(APP_MAP);

/** Lock (1) and finish (1) are spent outside the job's own batches. */
const RUN_OVERHEAD_SUBREQUESTS = 2;
/** The lease outlives the time budget, so it only expires when the holder really died. */
const LEASE_MARGIN_MS = MINUTE_MS;

/** Runs `job` once for `invocation` (its clients and config): acquire → execute → record. */
export async function runJob(job: Job, invocation: Invocation, opts: RunOptions): Promise<RunReport> {
  const run = begin(job, invocation.config, opts);
  if (!isEnabled(job, run.config)) {
    // Not configured: nothing to do and nothing to record, so not even the lock is taken.
    return logged(reportOf(run, { status: 'skipped', error: 'not configured', durationMs: 0 }));
  }
  const lock = await acquire(run, invocation);
  if (!lock.ok) {
    // Postgres unreachable: nothing ran and nothing can be recorded there; the log line is the record.
    const subrequests = lock.attempts + (run.heartbeat ? 1 : 0);
    const report = reportOf(run, { status: 'failed', phase: 'lock', more: true, subrequests, error: publicMessage(lock.error) });
    if (run.heartbeat) await ping(run.heartbeat, 'fail', { ...run.pingInfo, body: `${job.name}: ${report.error}` });
    return logged(report);
  }
  if (!lock.taken.acquired) return logged(reportOf(run, { subrequests: lock.attempts, ...refused(lock.taken) }));
  const executed = await execute(run, invocation, lock.attempts, lock.taken.differences);
  const { alarms, ...recorded } = await record(run, invocation, executed);
  await pingOutcome(run, recorded.error ?? alarms.map((a) => a.message).join('\n'), executed);
  const { counts, more, subrequests } = executed;
  return logged(reportOf(run, { counts, more, subrequests, ...recorded, ...(alarms.length > 0 ? { alarms } : {}) }));
}

/** What every phase of one run reads: the job, its settings and options, its id and its clock. */
interface Run {
  job: Job;
  config: Config;
  opts: RunOptions;
  runId: string;
  clock: () => number;
  started: number;
  /** The job's HEARTBEAT_URL_*; none for a dry run, which is not the scheduled work. */
  heartbeat: string | undefined;
  pingInfo: { job: string; runId: string };
}

function begin(job: Job, config: Config, opts: RunOptions): Run {
  const clock = opts.clock ?? Date.now;
  const started = clock();
  const runId = opts.runId ?? crypto.randomUUID();
  const heartbeat = opts.dryRun ? undefined : config.heartbeatUrls[job.name];
  return { job, config, opts, runId, clock, started, heartbeat, pingInfo: { job: job.name, runId } };
}

/** Phase 1: the job's lock, taken with the run's own row; or the error that kept it from being taken. */
async function acquire(
  { job, config, opts, runId }: Run,
  { db }: Invocation,
): Promise<{ attempts: number } & ({ ok: false; error: unknown } | { ok: true; taken: Acquired })> {
  let attempts = 0;
  try {
    // Retried once on a transient failure, like the finish: taking the lock is idempotent by run
    // id (a retry after a commit whose reply was lost finds this run's own `running` row and goes
    // on), and a lock committed but never answered would otherwise be held until the lease ends.
    // Not after a timeout: the statement was cancelled with the request, and a hung endpoint
    // would only make the run wait its 10 s again (a failed scheduled run is recovered later).
    const taken = await retryTransient(
      () => {
        attempts++;
        return acquireRun(db, {
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
    return { attempts, ok: true, taken };
  } catch (error) {
    return { attempts, ok: false, error };
  }
}

/** A lock not taken: the run is skipped, and says who holds the job or why it does not run. */
function refused(lock: Skipped): Partial<RunReport> & Pick<RunReport, 'status'> {
  return {
    status: 'skipped',
    heldBy: lock.heldBy,
    error: lock.reason,
    ...(lock.duplicate ? { duplicate: true } : {}),
    ...(lock.paused ? { paused: lock.paused } : {}),
  };
}

interface Executed extends JobOutcome {
  subrequests: number;
  /** What the job threw, if it failed. */
  error?: unknown;
}

/** Phase 2: the job itself, within its share of the budget, after the heartbeat's start ping. */
async function execute(run: Run, invocation: Invocation, lockAttempts: number, differences: string[]): Promise<Executed> {
  const { job, config, opts, runId, clock } = run;
  if (run.heartbeat) await ping(run.heartbeat, 'start', run.pingInfo);
  const share = opts.share ?? 1;
  // Lock, finish and the two pings are spent outside the job's own batches.
  const fixed = RUN_OVERHEAD_SUBREQUESTS + (lockAttempts - 1) + (run.heartbeat ? 2 : 0);
  const budget = new Budget({
    subrequests: Math.floor(config.runSubrequestBudget * share) - fixed - (opts.reserve ?? 0),
    timeMs: Math.floor(config.runTimeBudgetMs * share),
    clock,
  });
  let outcome: JobOutcome = { counts: {}, more: false };
  try {
    // The live schema must still be the mapped one, or the job's SQL could delete by a column that
    // means something else: the run deletes nothing and fails, naming each difference.
    if (differences.length > 0) throw new AppMapDriftError(differences);
    if (opts.target !== undefined && !job.target) throw new Error(`${job.name} runs for no single item`);
    outcome = await job.run({ ...invocation, config, budget, now: opts.now, dryRun: opts.dryRun, runId, target: opts.target });
    // Work left and nothing spent on it: the budget cannot afford one batch. Continuing such a
    // run would only repeat it; fail it so the misconfiguration shows.
    if (outcome.more && budget.used === 0) throw new BudgetTooSmallError(budget.limit, config, share);
    return { ...outcome, subrequests: budget.used + fixed };
  } catch (error) {
    // A failed run has work left, whatever it counted before it failed.
    return { counts: outcome.counts, more: true, subrequests: budget.used + fixed, error };
  }
}

interface Recorded {
  status: RunReport['status'];
  error?: string;
  phase?: RunPhase;
  alarms: Alarm[];
}

/** Phase 3: the outcome written to the run's row, with the alarm check in the same request. */
async function record({ job, config, opts, runId }: Run, { db }: Invocation, executed: Executed): Promise<Recorded> {
  const failed = executed.error !== undefined;
  const status: RunFinish['status'] = failed ? 'failed' : 'succeeded';
  const error = failed ? publicMessage(executed.error) : undefined;
  const own: Recorded = { status, ...(failed ? { error, phase: 'run' as const } : {}), alarms: [] };
  // Only a run that finished its work can say what it left behind (one that stops with `more` is
  // continued, and its last run checks); dry runs check nothing. The check rides in the finish.
  const checksAlarm = !opts.dryRun && job.alarm !== undefined && !failed && !executed.more;
  const alarmCheck = checksAlarm ? alarmCheckOf(db, job, { config, now: opts.now }) : undefined;
  try {
    const result = { status, counts: executed.counts, more: executed.more, subrequests: executed.subrequests, error: error ?? null };
    // Retried once on a transient failure (it only updates this run's own `running` row, so it is
    // safe to repeat): a lost finish would hold the lock until the lease expires. The retry uses
    // the slack between RUN_SUBREQUEST_BUDGET and the platform's limit.
    const { read, recorded } = await retryTransient(() => finishRun(db, runId, result, alarmCheck?.query), { attempts: 2 });
    const alarm = alarmCheck && alarmOf(job, alarmCheck.read(read), config);
    const alarms = alarm ? [alarm] : [];
    if (recorded === status) return { ...own, alarms };
    // The record is not ours to overwrite: say what it says, and why.
    return {
      status: 'abandoned',
      error:
        `the run's lease ran out before it finished and its record says ${recorded ?? 'nothing'}` +
        `${error ? ` (its own outcome: ${error})` : ''}; another run may have taken over`,
      ...(failed ? { phase: 'run' as const } : {}),
      alarms,
    };
  } catch (finishError) {
    // The lease will expire and the next run marks this one abandoned; say so in the log.
    logEvent('error', 'job_run_record_failed', { job: job.name, runId, error: publicMessage(finishError) });
    if (failed) return own;
    return {
      status: 'failed',
      phase: 'record',
      error: `the run finished but could not be recorded: ${publicMessage(finishError)}`,
      alarms: [],
    };
  }
}

/** The heartbeat's end ping: `fail` with what went wrong (an error, the alarms, missed slots), else `success`. */
async function pingOutcome({ job, opts, heartbeat, pingInfo }: Run, wrong: string, { counts, more }: JobOutcome): Promise<void> {
  if (!heartbeat) return;
  const failure = [wrong, missedMessage(job, opts.missed)].filter(Boolean).join('\n');
  if (failure) await ping(heartbeat, 'fail', { ...pingInfo, body: `${job.name}: ${failure}` });
  else await ping(heartbeat, 'success', { ...pingInfo, body: JSON.stringify({ counts, more }) });
}

/** The one report builder: the run's identity, then what the phase that ended it found. */
function reportOf(run: Run, found: Partial<RunReport> & Pick<RunReport, 'status'>): RunReport {
  const { job, opts, runId } = run;
  return {
    job: job.name,
    runId,
    trigger: opts.trigger,
    dryRun: opts.dryRun,
    ...(opts.continues ? { continues: opts.continues } : {}),
    ...(opts.slot ? { slot: opts.slot.toISOString() } : {}),
    ...(opts.missed && opts.missed.length > 0 ? { missed: [...opts.missed] } : {}),
    // Every report has its fields in this order; what the phase found fills them in.
    ...{ status: found.status, counts: {}, more: false, subrequests: 0, durationMs: 0 },
    ...found,
    durationMs: found.durationMs ?? run.clock() - run.started,
  };
}

/** Logs the run's one `job_run` line, and returns its report. */
function logged(report: RunReport): RunReport {
  const failed = report.status === 'failed' || report.status === 'abandoned';
  logEvent(failed ? 'error' : report.alarms ? 'warn' : 'info', 'job_run', { ...report });
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
