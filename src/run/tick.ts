/**
 * The frequent cron's first step, which talks to Upstash only: with nothing to do, a cron delivery
 * must not wake Neon (a scale-to-zero compute stays up ~5 minutes after each query, and Neon Free
 * gives 100 CU-hours a month). One script (src/redis/streams.ts) removes the streams whose
 * heartbeat is older than STALE_STREAM_AFTER_MINUTES — the same atomic compare-and-delete as
 * the stream cleanup job's, so a heartbeat landing meanwhile is never lost — and counts the fresh ones.
 *
 * Fresh heartbeats mean users are chatting, so the app is using Postgres and the compute is awake
 * anyway: the cron's sweeps run as usual. Without them the sweeps are deferred: they follow the
 * next scheduled chain of a deleting job (every 12 h, see SWEEPS and runContinuing's `then`). Such
 * an idle tick writes no job_runs row; its record is one `tick` log line.
 */
import type { Config } from '../config/parse';
import { logEvent, publicMessage } from '../log';
import { removeStaleCountFresh } from '../redis/streams';
import { before, MINUTE_MS } from '../time';
import type { JobDeps } from './job';

/** Stale streams one tick removes; a tick that hits it runs the sweeps, which remove the rest. */
export const TICK_STALE_LIMIT = 500;
/** The tick's one Upstash command, spent outside RUN_SUBREQUEST_BUDGET (45 of the platform's 50). */
export const TICK_SUBREQUESTS = 1;

export type TickReason = 'active' | 'stale-left' | 'redis-failed' | 'idle';

export interface TickOutcome {
  /** Whether the cron's sweeps run now (they touch Postgres). */
  sweep: boolean;
  reason: TickReason;
  /** Stale streams removed by the tick itself. */
  removed: number;
  /** Fresh heartbeats in active-streams. */
  fresh: number;
}

/** Runs the tick's Redis step and decides whether the sweeps run; logs one `tick` line. */
export async function tick(deps: Pick<JobDeps, 'redis'>, config: Config, now: Date, cron: string): Promise<TickOutcome> {
  const cutoffMs = before(now, config.staleStreamAfterMinutes, MINUTE_MS).getTime();
  let outcome: TickOutcome;
  try {
    const { removed, fresh } = await removeStaleCountFresh(deps.redis, cutoffMs, TICK_STALE_LIMIT);
    outcome = { ...decide(removed, fresh), removed, fresh };
  } catch (err) {
    // Upstash did not answer: run the sweeps, which report the failure in job_runs as they always did.
    logEvent('warn', 'tick', { cron, sweeps: 'run', reason: 'redis-failed', error: publicMessage(err) });
    return { sweep: true, reason: 'redis-failed', removed: 0, fresh: 0 };
  }
  logEvent('info', 'tick', { cron, sweeps: outcome.sweep ? 'run' : 'deferred', ...outcome });
  return outcome;
}

/** Sweep when the app is active, or when stale streams are left over for the sweeps. */
export function decide(removed: number, fresh: number): Pick<TickOutcome, 'sweep' | 'reason'> {
  if (fresh > 0) return { sweep: true, reason: 'active' };
  if (removed >= TICK_STALE_LIMIT) return { sweep: true, reason: 'stale-left' };
  return { sweep: false, reason: 'idle' };
}
