/**
 * The chain: the runs that follow one scheduled run through the CONTINUATIONS queue. A run that
 * stops at its budget with work left is continued (`continue`) without waiting for the next cron
 * (a month, for the account job); a failed scheduled run is made again within minutes
 * (`recover`, src/chain/recovery.ts); once a deleting job's chain is done, the sweeps follow it
 * one after another (`follow`). Each run of a chain is a row in job_runs (trigger `queue`,
 * `continues` = the run it follows), so the chain is visible and a message delivered twice is
 * recognised (src/db/job-runs.ts). This module owns the chain's one message, the one decision of
 * what follows a run, and the one path by which cron runs and queued runs run and send it.
 *
 * Why a Queue rather than a Workflow: on the Free plan a Workflow instance gets 50 subrequests in
 * all, and 10 ms CPU per step; every queue consumer invocation is a Worker invocation with its
 * own 50 subrequests, which is what draining a large backlog run by run needs.
 */
import type { Config } from '../config/parse';
import { logEvent, publicMessage } from '../log';
import type { Invocation, Job } from '../run/job';
import type { RunOptions, RunReport } from '../run/report';
import { runJob } from '../run/runner';
import { nextRecoveryDelay } from './recovery';

/** Why a run follows the one before it in its chain. */
export type Why = 'continue' | 'recover' | 'follow';

/** The chain's one message: what runs next, after which run, at which position, and why. */
export interface ChainMessage {
  /** The job that runs next. */
  job: string;
  /** The run it follows: the `continues` of the run it makes. */
  continues: string;
  /** The position the run takes in its chain (1 is the scheduled run). */
  position: number;
  /**
   * A message read from the queue is a `recover` or a `continue`: the queue's shape does not tell
   * a follow-up from a continuation, and both run at the next position.
   */
  why: Why;
  /** The follow-ups still to come once this run's chain is done, in order. */
  followUps: readonly string[];
  /** How long the queue holds the message before delivering it (a recovery's backoff). */
  delaySeconds?: number;
}

/**
 * A message as the queue carries it and the log lines show it. `hop` is the position of the run
 * `continues` names: a recovery runs at that position again, a continuation or a follow-up at the
 * next one. `then` lists the follow-ups still to come.
 */
export interface WireMessage {
  job: string;
  continues: string;
  hop: number;
  recovery?: true;
  then?: string[];
}

/** Producer side of the CONTINUATIONS queue (the only method used; the binding's `Queue` is one). */
export interface ChainQueue {
  send(body: WireMessage, options: { contentType: 'json'; delaySeconds?: number }): Promise<unknown>;
}

/** Sending the next message costs one subrequest, kept out of the run's budget by runInChain. */
const SEND_SUBREQUESTS = 1;

/** The message as the queue carries it. */
export function toWire(message: ChainMessage): WireMessage {
  const recovery = message.why === 'recover';
  return {
    job: message.job,
    continues: message.continues,
    hop: recovery ? message.position : message.position - 1,
    ...(recovery ? { recovery } : {}),
    ...(message.followUps.length > 0 ? { then: [...message.followUps] } : {}),
  };
}

/** Reads a queue message body; undefined when it is not a message this Worker sent. */
export function parseMessage(body: unknown): ChainMessage | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const { job, continues, hop, recovery, then } = body as Record<string, unknown>;
  if (typeof job !== 'string' || typeof continues !== 'string' || typeof hop !== 'number' || !Number.isSafeInteger(hop) || hop < 1) {
    return undefined;
  }
  if (recovery !== undefined && recovery !== true) return undefined;
  if (then !== undefined && !(Array.isArray(then) && then.every((t) => typeof t === 'string'))) return undefined;
  const followUps = then ?? [];
  return recovery
    ? { job, continues, position: hop, why: 'recover', followUps }
    : { job, continues, position: hop + 1, why: 'continue', followUps };
}

/** A run of a chain as the decision reads it: its job, its report, its position and the follow-ups after it. */
export interface RunInChain {
  job: Job;
  report: RunReport;
  position: number;
  followUps: readonly string[];
}

/**
 * What follows a run in its chain, or undefined when the chain ends there. A dry run is followed
 * by nothing. Otherwise, in this order:
 * - `continue`: the run stopped at its budget with work left, and its position is within
 *   CONTINUATION_MAX_HOPS: the same job runs next, with the same follow-ups;
 * - `follow`: the run's chain is done, or its job is paused (its chain ends at once and the jobs
 *   that were to follow it still run): the first follow-up runs next, with the rest after it. A
 *   run that failed sends none (the queue retries it with its follow-ups);
 * - `recover`: a scheduled run failed: it is made again at the same position, with the same
 *   follow-ups, after the first recovery delay (src/chain/recovery.ts), unless the job's next
 *   cron comes first.
 */
export function nextMessage(
  { job, report, position, followUps }: RunInChain,
  config: Pick<Config, 'continuationMaxHops' | 'recoveryDelaySeconds'>,
  now: Date,
): ChainMessage | undefined {
  if (report.dryRun) return undefined;
  const after = { continues: report.runId, position: position + 1 };
  if (report.status === 'succeeded' && report.more) {
    return position > config.continuationMaxHops ? undefined : { job: job.name, ...after, why: 'continue', followUps };
  }
  const [next, ...rest] = followUps;
  const done = report.status === 'succeeded' || report.paused !== undefined;
  if (done) return next === undefined ? undefined : { job: next, ...after, why: 'follow', followUps: rest };
  if (report.status !== 'failed' || report.trigger !== 'scheduled') return undefined;
  const delaySeconds = nextRecoveryDelay(job, 0, config, now);
  if (delaySeconds === undefined) return undefined;
  return { job: job.name, continues: report.runId, position, why: 'recover', followUps, delaySeconds };
}

/**
 * Sends the next message. If the queue is unreachable the next cron picks the work up: logged,
 * not thrown (a failed scheduled run whose recovery cannot be sent fails its invocation anyway).
 */
async function send(queue: ChainQueue, message: ChainMessage): Promise<void> {
  const body = toWire(message);
  const recovery = message.why === 'recover';
  try {
    await queue.send(body, recovery ? { contentType: 'json', delaySeconds: message.delaySeconds } : { contentType: 'json' });
    if (recovery) logEvent('warn', 'recovery_sent', { ...body, attempt: 1, delaySeconds: message.delaySeconds });
    else logEvent('info', 'continuation_sent', { ...body });
  } catch (err) {
    logEvent('error', recovery ? 'recovery_failed' : 'continuation_failed', { ...body, error: publicMessage(err) });
  }
}

/**
 * Runs `job` at `position` of its chain (1 for a scheduled run), keeping one subrequest for the
 * chain's next message when there may be one, then sends what nextMessage says follows it.
 * `run.reserve` is what the caller spent besides. The one path by which both cron runs and queued
 * runs run and continue their chain.
 */
export async function runInChain(
  job: Job,
  invocation: Invocation,
  { queue, run, position, followUps = [] }: { queue: ChainQueue; run: RunOptions; position: number; followUps?: readonly string[] },
): Promise<RunReport> {
  const { config } = invocation;
  const sends = config.continuationMaxHops > 0 || followUps.length > 0;
  const report = await runJob(job, invocation, { ...run, reserve: (run.reserve ?? 0) + (sends ? SEND_SUBREQUESTS : 0) });
  // A recovery's delay is counted from the end of the run it recovers.
  const next = nextMessage({ job, report, position, followUps }, config, new Date());
  if (next) await send(queue, next);
  else if (report.status === 'succeeded' && report.more && config.continuationMaxHops > 0 && position > config.continuationMaxHops) {
    logEvent('warn', 'continuation_limit', {
      job: job.name,
      continues: report.runId,
      hop: position,
      message: 'CONTINUATION_MAX_HOPS reached; the next cron continues',
    });
  }
  return report;
}
