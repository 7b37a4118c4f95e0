/**
 * Drains `stream_deletions`, the queue of chats deleted while they may have had stream state in
 * Redis (filled by a trigger on chats). Shared by the account job, which cleans up after the
 * chats it just deleted, and the stream sweep, which catches every other deletion.
 * Redis first, then the queue rows: if Redis fails, the rows stay for the next run. With
 * STREAM_STATE `resumable-stream` only the rows go (nothing in Redis is keyed by chat).
 *
 * The two can drain at once (the account job's chain and the sweep), read the same rows and both
 * remove their Redis state (a no-op the second time). Each counts only the rows its own DELETE
 * removed (RETURNING): of two DELETEs of one row, the second waits for the first and then finds
 * it gone (READ COMMITTED), so a row is counted by one drain only.
 */
import { inArray, sql } from 'drizzle-orm';
import { streamDeletions } from '../db/schema';
import { removeChatStreams } from '../redis/streams';
import { batchSize, inBatches, timedBatch } from '../run/batched-run';
import type { JobContext } from '../run/job';

/** Chat ids in the first Redis script call of a run. */
export const STREAM_DRAIN_BATCH = 500;
/** The most chat ids per Redis script call: one EVAL stays small (ids of ≈ 40 bytes: ≈ 200 KB). */
const STREAM_DRAIN_MAX = 5000;

export async function drainStreamDeletions(ctx: JobContext): Promise<{ counts: Record<string, number>; more: boolean }> {
  if (ctx.dryRun) {
    const [row] = await ctx.budget.request(() => ctx.db.select({ n: sql<number>`count(*)::int` }).from(streamDeletions));
    return { counts: { stream_deletions: row?.n ?? 0 }, more: false };
  }
  const keyedByChat = ctx.config.streamState === 'heartbeats';
  const counts: Record<string, number> = keyedByChat ? { stream_deletions: 0, redis_streams: 0 } : { stream_deletions: 0 };
  // The batch's three requests are timed together: the script's time grows with the ids too.
  const size = batchSize(ctx, { start: STREAM_DRAIN_BATCH, max: STREAM_DRAIN_MAX });
  const more = await inBatches(ctx.budget, 3, async () => {
    const { full } = await timedBatch(ctx, size, async (limit) => {
      const rows = await ctx.budget.request(() =>
        ctx.db.select({ chatId: streamDeletions.chatId }).from(streamDeletions).orderBy(streamDeletions.enqueuedAt).limit(limit),
      );
      if (rows.length === 0) return { full: false };
      const ids = rows.map((r) => r.chatId);
      // The `resumable-stream` layout keys nothing by chat: a deleted chat's sentinel expires by
      // itself (24 h), and no reload can resume a stream of a chat that is gone.
      if (keyedByChat) counts.redis_streams! += await ctx.budget.request(() => removeChatStreams(ctx.redis, ids));
      const removed = await ctx.budget.request(() =>
        ctx.db.delete(streamDeletions).where(inArray(streamDeletions.chatId, ids)).returning({ chatId: streamDeletions.chatId }),
      );
      counts.stream_deletions! += removed.length;
      return { full: rows.length === limit };
    });
    return full;
  });
  return { counts, more };
}
