/**
 * Runs one job once: takes the job's lock (recording the run in job_runs), runs it within its
 * budget, records the outcome, releases the lock, and logs one JSON line. Expected outcomes come
 * back as values (`skipped`, `failed`); only programmer errors throw.
 */
import type { Config } from '../config';
import { acquireRun, finishRun } from '../db/job-runs';
import { logEvent } from '../log';
import { Budget } from './budget';
import type { Job, JobDeps } from './types';

export type RunTrigger = 'scheduled' | 'http' | 'workflow';

export interface RunOptions {
  trigger: RunTrigger;
  now: Date;
  dryRun: boolean;
  /** Run id; a fresh UUID by default. */
  runId?: string;
  /** The run this one continues (Workflow steps). */
  continues?: string;
  /** Wall clock for the time budget and the duration (tests pass a fake one). */
  clock?: () => number;
  /**
   * The share of the invocation's budget this run may use. Jobs that share one cron invocation
   * split RUN_SUBREQUEST_BUDGET and RUN_TIME_BUDGET_MS between them; one job alone gets all.
   */
  share?: number;
}

export interface RunReport {
  job: string;
  runId: string;
  trigger: RunTrigger;
  status: 'succeeded' | 'failed' | 'skipped';
  dryRun: boolean;
  counts: Record<string, number>;
  more: boolean;
  subrequests: number;
  durationMs: number;
  /** Safe to show to the caller: a message, never SQL, a stack or a secret. */
  error?: string;
  /** For skipped runs: the run that holds the lock. */
  heldBy?: string | null;
}

/** Lock (1) and finish (1) are spent outside the job's own batches. */
const RUN_OVERHEAD_SUBREQUESTS = 2;
/** The lease outlives the time budget, so it only expires when the holder really died. */
const LEASE_MARGIN_MS = 60_000;

export async function runJob(job: Job, deps: JobDeps, config: Config, opts: RunOptions): Promise<RunReport> {
  const clock = opts.clock ?? Date.now;
  const started = clock();
  const runId = opts.runId ?? crypto.randomUUID();
  const base = { job: job.name, runId, trigger: opts.trigger, dryRun: opts.dryRun };

  let lock: Awaited<ReturnType<typeof acquireRun>>;
  try {
    lock = await acquireRun(deps.db, {
      id: runId,
      job: job.name,
      trigger: opts.trigger,
      dryRun: opts.dryRun,
      leaseMs: config.runTimeBudgetMs + LEASE_MARGIN_MS,
      continues: opts.continues,
    });
  } catch (err) {
    // Postgres unreachable: nothing ran and nothing can be recorded there; the log line is the record.
    const report: RunReport = {
      ...base,
      status: 'failed',
      counts: {},
      more: true,
      subrequests: 1,
      durationMs: clock() - started,
      error: publicMessage(err),
    };
    logEvent('error', 'job_run', { ...report, phase: 'lock' });
    return report;
  }
  if (!lock.acquired) {
    const report: RunReport = {
      ...base,
      status: 'skipped',
      counts: {},
      more: false,
      subrequests: 1,
      durationMs: clock() - started,
      heldBy: lock.heldBy,
    };
    logEvent('info', 'job_run', { ...report });
    return report;
  }

  const share = opts.share ?? 1;
  const budget = new Budget({
    subrequests: Math.floor(config.runSubrequestBudget * share) - RUN_OVERHEAD_SUBREQUESTS,
    timeMs: Math.floor(config.runTimeBudgetMs * share),
    clock,
  });
  let outcome: { counts: Record<string, number>; more: boolean } = { counts: {}, more: false };
  let error: unknown;
  try {
    outcome = await job.run({ ...deps, config, budget, now: opts.now, dryRun: opts.dryRun });
  } catch (err) {
    error = err;
  }
  const status = error === undefined ? 'succeeded' : 'failed';
  const subrequests = budget.used + RUN_OVERHEAD_SUBREQUESTS;
  const report: RunReport = {
    ...base,
    status,
    counts: outcome.counts,
    more: error === undefined ? outcome.more : true,
    subrequests,
    durationMs: 0,
    ...(error === undefined ? {} : { error: publicMessage(error) }),
  };
  try {
    await finishRun(deps.db, runId, { status, counts: report.counts, more: report.more, subrequests, error: report.error ?? null });
  } catch (finishError) {
    // The lease will expire and the next run marks this one abandoned; say so in the log.
    logEvent('error', 'job_run_record_failed', { job: job.name, runId, error: publicMessage(finishError) });
    if (error === undefined) {
      error = finishError;
      report.status = 'failed';
      report.error = `the run finished but could not be recorded: ${publicMessage(finishError)}`;
    }
  }
  report.durationMs = clock() - started;
  logEvent(report.status === 'failed' ? 'error' : 'info', 'job_run', { ...report, phase: error ? 'run' : undefined });
  return report;
}

/**
 * An error message fit for a caller and a log line: the error's class and message, with anything
 * that looks like a connection string or bearer token masked. Never a stack or the SQL text.
 */
export function publicMessage(err: unknown): string {
  // Drizzle wraps driver errors as "Failed query: <sql>\nparams: …"; the driver's error is the cause.
  while (err instanceof Error && err.message.startsWith('Failed query') && err.cause !== undefined) err = err.cause;
  const name = err instanceof Error ? err.name : 'Error';
  const raw = err instanceof Error ? err.message : String(err);
  const firstLine = raw.split('\n')[0] ?? '';
  const masked = firstLine.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, '<url>').replace(/Bearer\s+\S+/gi, 'Bearer <redacted>');
  return `${name}: ${masked}`.slice(0, 300);
}
