/**
 * Continuing a scheduled run that stopped at its budget with `more: true`, without waiting for the
 * next cron (a month, for the account job): the run sends one message to the CONTINUATIONS queue,
 * and its consumer (src/queue.ts) runs the job again in a fresh invocation, with a fresh budget.
 * That run continues the chain the same way until the work is done or the chain reaches
 * CONTINUATION_MAX_HOPS. Each link is a row in job_runs (trigger `queue`, `continues` = the run
 * before it), so the chain is visible and a message delivered twice is recognised (job-runs.ts).
 *
 * Why a Queue rather than a Workflow: on the Free plan a Workflow instance gets 50 subrequests in
 * all, and 10 ms CPU per step; every queue consumer invocation is a Worker invocation with its
 * own 50 subrequests, which is what draining a large backlog run by run needs.
 */
import type { Invocation } from './job';
import { logEvent, publicMessage } from '../log';
import { type RunOptions, type RunReport, runJob } from './runner';
import type { Job } from './job';

export interface Continuation {
  job: string;
  /** The run this message continues. */
  continues: string;
  /** 1 for the first continuation of a scheduled run. */
  hop: number;
  /**
   * Set when this message retries the failed run `continues` (src/run/recovery.ts): the job runs
   * again as the same link of its chain, rather than the next one.
   */
  recovery?: true;
  /** Jobs to run one after another once this job's chain is done (the sweeps after a deleting job). */
  then?: string[];
}

/** Producer side of the CONTINUATIONS queue (the only method used). */
export type ContinuationQueue = Pick<Queue<Continuation>, 'send'>;

/** Sending a continuation costs one subrequest, kept out of the run's budget by runContinuing. */
const CONTINUATION_SUBREQUESTS = 1;

/** Whether the run should be continued, and as which hop. */
function nextHop(report: RunReport, hop: number, maxHops: number, then: readonly string[]): Continuation | undefined {
  if (report.status !== 'succeeded' || !report.more || report.dryRun || hop > maxHops) return undefined;
  return { job: report.job, continues: report.runId, hop, ...withThen(then) };
}

/**
 * The first of `then`, once this chain is done: the sweeps follow a deleting job's chain right
 * away instead of waiting for the next tick (src/run/tick.ts). Bounded by the list, not by
 * CONTINUATION_MAX_HOPS; a failed run sends nothing (the queue retries it with its `then`).
 */
function followUp(report: RunReport, hop: number, then: readonly string[]): Continuation | undefined {
  const [job, ...rest] = then;
  // A paused job's chain ends at once, and the jobs that were to follow it still run.
  const done = (report.status === 'succeeded' && !report.more) || report.paused !== undefined;
  if (job === undefined || !done || report.dryRun) return undefined;
  return { job, continues: report.runId, hop, ...withThen(rest) };
}

export function withThen(then: readonly string[]): Pick<Continuation, 'then'> {
  return then.length > 0 ? { then: [...then] } : {};
}

/** Reads a queue message body; undefined when it is not a continuation this Worker sent. */
export function parseContinuation(body: unknown): Continuation | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { job, continues, hop, recovery, then } = body as Record<string, unknown>;
  if (typeof job !== 'string' || typeof continues !== 'string' || typeof hop !== 'number' || !Number.isSafeInteger(hop) || hop < 1) {
    return undefined;
  }
  if (recovery !== undefined && recovery !== true) return undefined;
  if (then !== undefined && !(Array.isArray(then) && then.every((t) => typeof t === 'string'))) return undefined;
  return { job, continues, hop, ...(recovery ? { recovery } : {}), ...withThen(then ?? []) };
}

/** Sends a continuation. If the queue is unreachable the next cron picks the work up: logged, not thrown. */
async function sendContinuation(queue: ContinuationQueue, next: Continuation): Promise<void> {
  try {
    await queue.send(next, { contentType: 'json' });
    logEvent('info', 'continuation_sent', { ...next });
  } catch (err) {
    logEvent('error', 'continuation_failed', { ...next, error: publicMessage(err) });
  }
}

/**
 * Runs `job` as link `hop` of a chain (1 for a scheduled run), keeping one subrequest for the
 * continuation, and sends the next link when the run stopped with work left — or, when the chain
 * is done (or the job is paused), the first job of `then`. `opts.reserve` is what the caller spent
 * besides. The one path by
 * which both cron runs and queued continuations run and continue.
 */
export async function runContinuing(
  job: Job,
  deps: Invocation,
  queue: ContinuationQueue,
  opts: RunOptions,
  hop: number,
  then: readonly string[] = [],
): Promise<RunReport> {
  const maxHops = deps.config.continuationMaxHops;
  const sends = maxHops > 0 || then.length > 0;
  const report = await runJob(job, deps, deps.config, { ...opts, reserve: (opts.reserve ?? 0) + (sends ? CONTINUATION_SUBREQUESTS : 0) });
  const next = nextHop(report, hop, maxHops, then) ?? followUp(report, hop, then);
  if (next) await sendContinuation(queue, next);
  else if (report.status === 'succeeded' && report.more && maxHops > 0 && hop > maxHops) {
    logEvent('warn', 'continuation_limit', {
      job: job.name,
      continues: report.runId,
      hop,
      message: 'CONTINUATION_MAX_HOPS reached; the next cron continues',
    });
  }
  return report;
}
