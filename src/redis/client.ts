import { Redis } from '@upstash/redis/cloudflare';

/** The narrow slice of the Upstash client the jobs use (keeps them testable and metered). */
export type RedisClient = Pick<Redis, 'eval' | 'ping' | 'zcount'>;

/**
 * Upstash's REST client. Its own retries are off: the runner retries transient failures itself
 * so that every attempt is counted against the run's subrequest budget.
 */
/** A command that has not answered by then is abandoned. */
export const COMMAND_TIMEOUT_MS = 10_000;

export function createRedis(url: string, token: string): Redis {
  return new Redis({
    url,
    token,
    // `retry: false` still makes a second attempt on a network error; retries: 0 means one.
    retry: { retries: 0 },
    automaticDeserialization: false,
    enableTelemetry: false,
    enableAutoPipelining: false,
    // A function, so each request gets a fresh timeout (a plain AbortSignal would be shared).
    signal: () => AbortSignal.timeout(COMMAND_TIMEOUT_MS),
  });
}
