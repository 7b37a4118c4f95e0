/**
 * clear-stale-streams: removes resumable-stream state in Redis whose heartbeat is older than
 * STALE_STREAM_AFTER_MINUTES, and the state of chats that no longer exist (queued in
 * stream_deletions by a trigger when they were deleted). Commands issued grow with the stale
 * entries only: one bounded script call per STALE_STREAM_BATCH stale members, never a SCAN.
 */
import { countStaleStreams, removeStaleStreams } from '../redis/streams';
import { drainStreamDeletions } from './stream-deletions';
import { addCounts, inBatches } from '../run/batched-run';
import type { Job } from '../run/job';
import { before, MINUTE_MS } from '../time';

export const STALE_STREAM_BATCH = 500;

export const clearStaleStreams: Job = {
  name: 'clear-stale-streams',
  description: 'Removes stream state in Redis whose heartbeat stopped, or whose chat no longer exists.',
  async run(ctx) {
    const cutoffMs = before(ctx.now, ctx.config.staleStreamAfterMinutes, MINUTE_MS).getTime();
    if (ctx.dryRun) {
      const stale = await ctx.budget.request(() => countStaleStreams(ctx.redis, cutoffMs));
      const queued = await drainStreamDeletions(ctx);
      return { counts: { redis_streams: stale, ...queued.counts }, more: false };
    }
    const counts = { redis_streams: 0 };
    const staleMore = await inBatches(ctx.budget, 1, async () => {
      const removed = await ctx.budget.request(() => removeStaleStreams(ctx.redis, cutoffMs, STALE_STREAM_BATCH));
      counts.redis_streams += removed;
      return removed === STALE_STREAM_BATCH;
    });
    const deleted = await drainStreamDeletions(ctx);
    addCounts(counts, deleted.counts);
    return { counts, more: staleMore || deleted.more };
  },
};
