/**
 * The tick: the frequent schedule's first step, which talks to Upstash only: with nothing to do, a cron delivery
 * must not wake Neon (a scale-to-zero compute stays up ~5 minutes after each query, and Neon Free
 * gives 100 CU-hours a month). Its one script tells whether users are streaming, in the layout
 * STREAM_STATE names:
 *
 * - `resumable-stream`: SCAN the sentinels under STREAM_KEY_PREFIX for a live one (src/redis/sentinels.ts),
 *   ending the dead ones on the way (so a reload of their chat answers "done" at once, before a
 *   sweep resets the chat's column). Stops at the first live sentinel. At most TICK_SCAN_CALLS
 *   calls of TICK_SCAN_COUNT keys: a keyspace the scan cannot go round counts as busy.
 * - `heartbeats`: remove the streams last seen more than STALE_STREAM_AFTER_MINUTES ago — the
 *   same atomic compare-and-delete as the sweep that clears stale streams, so a stream seen again
 *   meanwhile is never lost — and count the streams seen within it.
 *
 * A live stream means users are chatting, so the app is using Postgres and the compute is awake
 * anyway: the cron's sweeps run as usual. Otherwise the sweeps are deferred: they follow the
 * next scheduled chain of a deleting job (every 12 h: its follow-ups, src/chain/delivery.ts). Such
 * an idle tick writes no job_runs row; its record is one `tick` log line. The tick's one Upstash
 * command is spent outside RUN_SUBREQUEST_BUDGET (45 of the platform's 50).
 */
import type { Config } from '../config/parse';
import { logEvent, publicMessage } from '../log';
import { scanLiveSentinels } from '../redis/sentinels';
import { removeStaleCountFresh } from '../redis/streams';
import { before, MINUTE_MS } from '../time';
import type { JobDeps } from '../run/job';

/** Stale streams one tick removes; a tick that hits it runs the sweeps, which remove the rest. */
export const TICK_STALE_LIMIT = 500;
/**
 * Keys a SCAN call of the sentinel tick asks for, and the most calls: 20,000 keys. Billed: one
 * command a call, one MGET per call that matched sentinels, one TTL per non-DONE sentinel.
 */
export const TICK_SCAN_COUNT = 1000;
export const TICK_SCAN_CALLS = 20;

export type TickReason = 'active' | 'stale-left' | 'scan-left' | 'redis-failed' | 'idle';

export interface TickOutcome {
  /** Whether the cron's sweeps run now (they touch Postgres). */
  sweep: boolean;
  reason: TickReason;
  /** Stale streams removed (`heartbeats`) or dead sentinels ended (`resumable-stream`) by the tick itself. */
  removed: number;
  /** Streams in active-streams seen within STALE_STREAM_AFTER_MINUTES, or 1 when a live sentinel was found. */
  fresh: number;
}

/** Runs the tick's Redis step and decides whether the sweeps run; logs one `tick` line. */
export async function tick(deps: Pick<JobDeps, 'redis'>, config: Config, now: Date, cron: string): Promise<TickOutcome> {
  let outcome: TickOutcome;
  try {
    outcome = config.streamState === 'resumable-stream' ? await sentinelTick(deps, config) : await activeStreamsTick(deps, config, now);
  } catch (err) {
    // Upstash did not answer: run the sweeps, which report the failure in job_runs.
    logEvent('warn', 'tick', { cron, sweeps: 'run', reason: 'redis-failed', error: publicMessage(err) });
    return { sweep: true, reason: 'redis-failed', removed: 0, fresh: 0 };
  }
  logEvent('info', 'tick', { cron, sweeps: outcome.sweep ? 'run' : 'deferred', ...outcome });
  return outcome;
}

async function activeStreamsTick(deps: Pick<JobDeps, 'redis'>, config: Config, now: Date): Promise<TickOutcome> {
  const cutoffMs = before(now, config.staleStreamAfterMinutes, MINUTE_MS).getTime();
  const { removed, fresh } = await removeStaleCountFresh(deps.redis, cutoffMs, TICK_STALE_LIMIT);
  return { ...decide(removed, fresh), removed, fresh };
}

async function sentinelTick(deps: Pick<JobDeps, 'redis'>, config: Config): Promise<TickOutcome> {
  const limits = { prefix: config.streamKeyPrefix, maxDurationSeconds: config.streamMaxDurationSeconds };
  const scan = await scanLiveSentinels(deps.redis, limits, { count: TICK_SCAN_COUNT, maxCalls: TICK_SCAN_CALLS });
  const fresh = scan.live ? 1 : 0;
  if (!scan.live && !scan.complete) return { sweep: true, reason: 'scan-left', removed: scan.ended, fresh };
  return { ...decide(0, fresh), removed: scan.ended, fresh };
}

/** Sweep when the app is active, or when stale streams are left over for the sweeps. */
export function decide(removed: number, fresh: number): Pick<TickOutcome, 'sweep' | 'reason'> {
  if (fresh > 0) return { sweep: true, reason: 'active' };
  if (removed >= TICK_STALE_LIMIT) return { sweep: true, reason: 'stale-left' };
  return { sweep: false, reason: 'idle' };
}
