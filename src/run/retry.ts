/**
 * Retrying what failed in transit: the one backoff loop every retried request goes through. Which
 * failures are worth another try is decided by their structure, in transient.ts.
 */

import { isTransient } from './transient';

export { isTransient, statementTimedOut, timedOut } from './transient';

const BACKOFF_MS = 200;

/**
 * Sends, and retries a transient failure after 200 ms, 400 ms, … up to `attempts` in all (and
 * while `mayRetry` allows); anything else, or the last failure, is thrown.
 */
export async function retryTransient<T>(
  send: () => Promise<T>,
  opts: { attempts: number; sleep?: ((ms: number) => Promise<void>) | undefined; mayRetry?: (err: unknown) => boolean },
): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (attempt >= opts.attempts || !isTransient(err) || opts.mayRetry?.(err) === false) throw err;
      await sleep(BACKOFF_MS * 2 ** (attempt - 1));
    }
  }
}
