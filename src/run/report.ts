/**
 * What a run is asked to do (RunOptions) and what it reports (RunReport): the run's `job_run` log
 * line and the HTTP route's answer.
 */
import type { RunTrigger } from '../db/schema';
import type { Alarm } from './alarms';
import type { Pause } from './pauses';

export type { RunTrigger };
/** Where a failed run failed: taking the lock, running the job, or recording the outcome. */
export type RunPhase = 'lock' | 'run' | 'record';

export interface RunOptions {
  trigger: RunTrigger;
  now: Date;
  dryRun: boolean;
  /** Run id; a fresh UUID by default. */
  runId?: string;
  /** The run this one follows in its chain (src/chain/chain.ts): the `continues` of its queue message. */
  continues?: string;
  /** Wall clock for the time budget and the duration (tests pass a fake one). */
  clock?: () => number;
  /**
   * The share of the invocation's budget this run may use. Jobs that share one cron invocation
   * split RUN_SUBREQUEST_BUDGET and RUN_TIME_BUDGET_MS between them; one job alone gets all.
   */
  share?: number;
  /** Subrequests the caller spends after the run (sending the chain's next message), kept out of the budget. */
  reserve?: number;
  /** The one item the run is for (a job with `target` only): an operator's run. */
  target?: string;
  /** The slot a scheduled run is for (src/chain/slots.ts). */
  slot?: Date;
  /** Missed slots of the job's schedule (ISO): recorded with the run, and its heartbeat fails. */
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
  /** For skipped runs: another run already followed the same run, or already ran the same slot. */
  duplicate?: boolean;
  /** For runs skipped because the job is paused: the pause. */
  paused?: Pause;
  /** The slot the run is for (scheduled runs). */
  slot?: string;
  /** Slots of the job's schedule whose delivery never came, found by this run (oldest first). */
  missed?: string[];
  /** The run this one follows in its chain, if any. */
  continues?: string;
  /** Alarms the run left standing (data overdue, blob deletions parked). */
  alarms?: Alarm[];
}
