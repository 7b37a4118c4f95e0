/**
 * The app's resumable-stream state in Redis (docs/contract.md, §4):
 *   active-streams           sorted set, member = chat id, score = last seen (epoch ms)
 *   active-stream:{chatId}   string, the chat's stream id
 * Each function is one Lua script, so one command and one subrequest, and atomic: an update of
 * last seen (ZADD) lands either before the script, and then the member is fresh and kept, or after it.
 */
import type { RedisClient } from './client';

export const ACTIVE_STREAMS_KEY = 'active-streams';
export const streamKey = (chatId: string) => `active-stream:${chatId}`;

// Compare and delete in one step: ZRANGE BYSCORE picks members strictly older than the cutoff
// (the '(' prefix), bounded by LIMIT, so the cost follows the stale entries, never the keyspace.
const REMOVE_STALE_STEP = `
local ids = redis.call('ZRANGE', KEYS[1], '-inf', '(' .. ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('DEL', 'active-stream:' .. id)
end`;
const REMOVE_STALE = `${REMOVE_STALE_STEP}
return #ids`;

// Streams of chats that no longer exist, whenever they were last seen.
const REMOVE_CHATS = `
local removed = 0
for i = 2, #KEYS do
  removed = removed + redis.call('ZREM', KEYS[1], ARGV[i - 1])
  redis.call('DEL', KEYS[i])
end
return removed`;

// The cron tick's one Upstash command (src/chain/tick.ts): REMOVE_STALE, then how many streams were
// seen since the cutoff (ZCOUNT over [cutoff, +inf)). Billed as 3 commands when nothing is stale (EVAL, ZRANGE,
// ZCOUNT), plus 2 per stream removed.
const TICK = `${REMOVE_STALE_STEP}
return {#ids, redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')}`;

/**
 * Removes up to `limit` streams last seen before `cutoffMs`, atomically as
 * {@link removeStaleStreams} does, and counts the streams seen since: one command.
 */
export async function removeStaleCountFresh(
  redis: RedisClient,
  cutoffMs: number,
  limit: number,
): Promise<{ removed: number; fresh: number }> {
  const [removed, fresh] = (await redis.eval(TICK, [ACTIVE_STREAMS_KEY], [String(cutoffMs), String(limit)])) as [unknown, unknown];
  return { removed: Number(removed), fresh: Number(fresh) };
}

/** Removes up to `limit` streams last seen before `cutoffMs`. Returns how many. */
export async function removeStaleStreams(redis: RedisClient, cutoffMs: number, limit: number): Promise<number> {
  return Number(await redis.eval(REMOVE_STALE, [ACTIVE_STREAMS_KEY], [String(cutoffMs), String(limit)]));
}

/** Removes the stream state of these chats. Returns how many were in `active-streams`. */
export async function removeChatStreams(redis: RedisClient, chatIds: readonly string[]): Promise<number> {
  if (chatIds.length === 0) return 0;
  return Number(await redis.eval(REMOVE_CHATS, [ACTIVE_STREAMS_KEY, ...chatIds.map(streamKey)], [...chatIds]));
}

/** How many streams are stale at `cutoffMs` (dry runs). */
export async function countStaleStreams(redis: RedisClient, cutoffMs: number): Promise<number> {
  return Number(await redis.zcount(ACTIVE_STREAMS_KEY, '-inf', `(${cutoffMs}`));
}
