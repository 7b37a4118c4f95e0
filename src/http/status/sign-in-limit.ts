/**
 * Failed sign-ins to the status page, counted per client IP in Upstash (fixed window from the
 * first failure). One EVAL per sign-in attempt, right or wrong: a failure adds one and reads the
 * count, a success only reads it, so an IP that used up its failures is refused even when it
 * finally sends the right secret (a guesser learns nothing from the answer while blocked).
 */
import type { RedisClient } from '../../redis/client';

const KEY_PREFIX = 'spacerr-jobs:status:sign-in-failures:';

// KEYS[1] the IP's counter; ARGV[1] '1' on a failed attempt; ARGV[2] the window in ms.
// Returns { failures so far, ms until the window ends }.
const SCRIPT = `
local n
if ARGV[1] == '1' then
  n = redis.call('INCR', KEYS[1])
  if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
else
  n = tonumber(redis.call('GET', KEYS[1]) or '0')
end
return { n, redis.call('PTTL', KEYS[1]) }`;

export interface SignInVerdict {
  /** False: refuse with 429, whatever the secret. */
  allowed: boolean;
  /** Failures left in this window (0 once refused). */
  left: number;
  /** Seconds until the window ends (0 when nothing is counted). */
  retryAfter: number;
}

/** Records one attempt from `ip` (`failed` or not) and says whether it may sign in. One request. */
export async function countSignIn(
  redis: Pick<RedisClient, 'eval'>,
  ip: string,
  failed: boolean,
  limits: { maxFailures: number; windowMinutes: number },
): Promise<SignInVerdict> {
  const [n, ttl] = (await redis.eval(SCRIPT, [KEY_PREFIX + ip], [failed ? '1' : '0', String(limits.windowMinutes * 60_000)])) as [
    number,
    number,
  ];
  const failures = Number(n);
  const retryAfter = Number(ttl) > 0 ? Math.ceil(Number(ttl) / 1000) : 0;
  // A failure within the budget is answered as a wrong secret; the one past it, and everything
  // after it in the window, with 429.
  const allowed = failed ? failures <= limits.maxFailures : failures < limits.maxFailures;
  return { allowed, left: Math.max(0, limits.maxFailures - failures), retryAfter };
}
