/**
 * clear-stale-streams: removes the stream state that can no longer be live, in the layout
 * STREAM_STATE names (docs/contract.md, §4).
 *
 * `resumable-stream` (the AI SDK's resume recipe, Spacerr's): chats whose active-stream column
 * names a stream whose sentinel is gone, "DONE", or older than STREAM_MAX_DURATION_SECONDS get the
 * column reset by compare-and-set, and the dead sentinel is ended (src/streams/resumable-streams.ts).
 *
 * `heartbeats`: members of `active-streams` last seen longer ago than
 * STALE_STREAM_AFTER_MINUTES, with their keys: one bounded script call per STALE_STREAM_BATCH stale
 * members, never a SCAN.
 *
 * Either way, the state of chats that no longer exist (queued in stream_deletions by a trigger
 * when they were deleted).
 */
import { sql } from 'drizzle-orm';
import { capped } from '../db/backlog';
import { countStaleStreams, removeStaleStreams } from '../redis/streams';
import { addCounts, inBatches } from '../run/batched-run';
import { type AsOf, defineJob } from '../run/job';
import { before, MINUTE_MS } from '../time';
import { clearStaleActiveStreams, HAS_ACTIVE_STREAM_COLUMN } from '../streams/resumable-streams';
import { drainStreamDeletions } from '../streams/stream-deletions';
import { SCHEDULES } from '../schedules';
import type { ConfigOf, Setting } from '../config/settings';
import { integer, keyPrefix, oneOf } from '../config/values';

export const STALE_STREAM_BATCH = 500;

/** A stream last seen before this is stale. */
const cutoff = ({ config, now }: AsOf) => before(now, config.staleStreamAfterMinutes, MINUTE_MS);

/** Where the app keeps its stream state in Redis (docs/contract.md, §4). */
export const STREAM_STATES = ['resumable-stream', 'heartbeats'] as const;

/** Its own settings, which the tick reads too (src/chain/tick.ts). */
const SETTINGS = [
  {
    name: 'STREAM_STATE',
    kind: 'var',
    topic: 'deletion',
    default: 'resumable-stream',
    meaning:
      "the app's stream state: `resumable-stream` (the AI SDK's resume recipe: the chat's active-stream column and the package's sentinels) or `heartbeats` (the `active-streams` sorted set)",
    key: 'streamState',
    parse: oneOf(STREAM_STATES),
  },
  {
    name: 'STREAM_KEY_PREFIX',
    kind: 'var',
    topic: 'deletion',
    default: 'resumable-stream',
    meaning:
      'with `resumable-stream`: the `keyPrefix` the app gives `createResumableStreamContext` (sentinels are `<prefix>:rs:sentinel:<streamId>`)',
    key: 'streamKeyPrefix',
    parse: keyPrefix,
  },
  {
    name: 'STREAM_MAX_DURATION_SECONDS',
    kind: 'var',
    topic: 'deletion',
    default: 300,
    meaning:
      "with `resumable-stream`: the longest a stream's function can run (the chat route's `maxDuration` on Vercel); a live sentinel older than this is dead (1–86400)",
    key: 'streamMaxDurationSeconds',
    parse: integer(1, 86_400),
  },
  {
    name: 'STALE_STREAM_AFTER_MINUTES',
    kind: 'var',
    topic: 'deletion',
    default: 10,
    meaning: 'with `heartbeats`: a stream last seen longer ago than this is stale',
    key: 'staleStreamAfterMinutes',
    parse: integer(1, 10_080),
  },
] as const satisfies readonly Setting[];

declare module '../config/settings' {
  interface Config extends ConfigOf<typeof SETTINGS> {}
}

export const clearStaleStreams = defineJob({
  name: 'clear-stale-streams',
  description:
    'Clears stream state that cannot be live (a dead or finished stream, one not seen for too long), or whose chat no longer exists.',
  schedule: SCHEDULES.tick,
  settings: SETTINGS,
  deletes: ['redis_streams'],
  cutoff,
  // The stale members are in Redis, which the listing does not call: it shows the queued chats.
  figures: () => ({ deletedChatsQueued: capped(sql`FROM spacerr_jobs.stream_deletions`) }),
  backlog: ['deletedChatsQueued'],
  async run(ctx) {
    if (ctx.config.streamState === 'resumable-stream') {
      const active = HAS_ACTIVE_STREAM_COLUMN ? await clearStaleActiveStreams(ctx) : { counts: {}, more: false };
      const queued = await drainStreamDeletions(ctx);
      return { counts: addCounts(active.counts, queued.counts), more: active.more || queued.more };
    }
    const cutoffMs = cutoff(ctx).getTime();
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
});
