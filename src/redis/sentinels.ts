/**
 * The `resumable-stream` package's state in Redis (docs/contract.md, §4), as its source has it
 * (github.com/vercel/resumable-stream, src/runtime.ts):
 *   <keyPrefix>:rs:sentinel:<streamId>   "1" from `createNewResumableStream` (SET … EX 86400), a
 *                                        listener count from `resumableStream` (INCR, no expiry),
 *                                        "DONE" once the stream finished (SET … EX 86400)
 *   <keyPrefix>:rs:request:<id>, :chunk:<id>   pub/sub channels: no keys, nothing to clean
 * `keyPrefix` defaults to "resumable-stream". `resumeExistingStream` answers `undefined` for a
 * missing sentinel and `null` for "DONE", both at once; for any other value it publishes a request
 * and waits a second for the producer's answer, and a producer that died never answers: the resume
 * fails with "Timeout waiting for ack". Ending a dead sentinel (setting it to "DONE") is what makes
 * a reload of its chat answer "done" at once.
 *
 * A sentinel's age is told by its remaining expiry (24 h when set, never refreshed by the package).
 * One with no expiry (the INCR path) has no age: it is given the package's 24 h, so that its age
 * counts from the first time the Worker saw it. Each function is one Lua script: one command and
 * one subrequest, and atomic, so a stream that finishes meanwhile is either seen finished or
 * finishes after the script.
 */
import type { RedisClient } from './client';

/** The package's expiry of a sentinel, in seconds (`EX: 24 * 60 * 60` in src/runtime.ts). */
export const SENTINEL_TTL_SECONDS = 86_400;
/** The package's value of a finished stream's sentinel. */
export const DONE = 'DONE';

export const sentinelKey = (prefix: string, streamId: string) => `${prefix}:rs:sentinel:${streamId}`;

/** What a stream's sentinel says: whether a stream can still be live. */
export type SentinelState = 'live' | 'done' | 'gone' | 'ended';

// Shared by both scripts: judges KEYS[i]'s value `v` (GET) with ARGV[1] = the longest age a live
// stream can have, ARGV[2] = the package's TTL, ARGV[3] = '1' to end dead sentinels. A value
// that is neither "DONE" nor gone is live unless its age (TTL elapsed) exceeds the longest run.
const JUDGE = `
local function judge(key, v)
  if not v then return 'gone' end
  if v == 'DONE' then return 'done' end
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    if ARGV[3] == '1' then redis.call('EXPIRE', key, ARGV[2]) end
    return 'live'
  end
  if tonumber(ARGV[2]) - ttl <= tonumber(ARGV[1]) then return 'live' end
  if ARGV[3] == '1' then redis.call('SET', key, 'DONE', 'EX', math.max(ttl, 1)) end
  return 'ended'
end`;

const JUDGE_KEYS = `${JUDGE}
local vals = redis.call('MGET', unpack(KEYS))
local out = {}
for i, key in ipairs(KEYS) do out[i] = judge(key, vals[i]) end
return out`;

/**
 * The tick's busy sign (src/chain/tick.ts): SCAN the sentinels under the prefix (ARGV[4], a pattern
 * with no glob character but the trailing `*`), COUNT ARGV[5] a call, at most ARGV[6] calls; judge
 * each batch (one MGET, one TTL per non-DONE value), ending the dead; stop at the first live one.
 * Returns { live found (0/1), sentinels ended, SCAN calls, whether the pass went round (1) }.
 */
const SCAN_LIVE = `${JUDGE}
local cursor, ended, calls = '0', 0, 0
repeat
  local r = redis.call('SCAN', cursor, 'MATCH', ARGV[4], 'COUNT', tonumber(ARGV[5]))
  cursor, calls = r[1], calls + 1
  if #r[2] > 0 then
    local vals = redis.call('MGET', unpack(r[2]))
    for i, key in ipairs(r[2]) do
      local s = judge(key, vals[i])
      if s == 'live' then return {1, ended, calls, 0} end
      if s == 'ended' then ended = ended + 1 end
    end
  end
until cursor == '0' or calls >= tonumber(ARGV[6])
return {0, ended, calls, cursor == '0' and 1 or 0}`;

export interface SentinelLimits {
  prefix: string;
  /** STREAM_MAX_DURATION_SECONDS: a live sentinel older than this is dead. */
  maxDurationSeconds: number;
}

/**
 * The state of each stream's sentinel, in order; with `end`, the dead ones (live-looking but older
 * than the longest run) are set to "DONE" keeping their remaining expiry, and those without an
 * expiry are given the package's.
 */
export async function judgeSentinels(
  redis: RedisClient,
  limits: SentinelLimits,
  streamIds: readonly string[],
  end: boolean,
): Promise<SentinelState[]> {
  if (streamIds.length === 0) return [];
  const keys = streamIds.map((id) => sentinelKey(limits.prefix, id));
  const out = (await redis.eval(JUDGE_KEYS, keys, [
    String(limits.maxDurationSeconds),
    String(SENTINEL_TTL_SECONDS),
    end ? '1' : '0',
  ])) as unknown[];
  return out.map((s) => String(s) as SentinelState);
}

export interface ScanOutcome {
  /** A live sentinel was found (the scan stopped there). */
  live: boolean;
  /** Dead sentinels set to "DONE" on the way. */
  ended: number;
  /** SCAN calls made (each a billed command, as are the MGETs and TTLs). */
  scans: number;
  /** The scan went round the whole keyspace. */
  complete: boolean;
}

/** Looks for a live sentinel under the prefix, ending dead ones on the way: one command. */
export async function scanLiveSentinels(
  redis: RedisClient,
  limits: SentinelLimits,
  scan: { count: number; maxCalls: number },
): Promise<ScanOutcome> {
  const pattern = `${sentinelKey(limits.prefix, '')}*`;
  const args = [String(limits.maxDurationSeconds), String(SENTINEL_TTL_SECONDS), '1', pattern, String(scan.count), String(scan.maxCalls)];
  const [live, ended, scans, complete] = (await redis.eval(SCAN_LIVE, [], args)) as unknown[];
  return { live: Number(live) === 1, ended: Number(ended), scans: Number(scans), complete: Number(complete) === 1 };
}
