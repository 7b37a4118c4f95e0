/**
 * Retrying what failed in transit: which failures are worth another try (the service answered
 * 5xx, or could not be reached), and the one backoff loop every retried request goes through.
 */

const BACKOFF_MS = 200;

/**
 * Sends, and retries a transient failure after 200 ms, 400 ms, … up to `attempts` in all (and
 * while `mayRetry` allows); anything else, or the last failure, is thrown.
 */
export async function retryTransient<T>(
  send: () => Promise<T>,
  opts: { attempts: number; sleep?: ((ms: number) => Promise<void>) | undefined; mayRetry?: () => boolean },
): Promise<T> {
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      if (attempt >= opts.attempts || !isTransient(err) || opts.mayRetry?.() === false) throw err;
      await sleep(BACKOFF_MS * 2 ** (attempt - 1));
    }
  }
}

/** Failures of the transport or the service, not of the statement: worth one more try. */
export function isTransient(err: unknown): boolean {
  const text =
    err instanceof Error ? `${err.name}: ${err.message} ${String((err.cause as Error | undefined)?.message ?? '')}` : String(err);
  return /HTTP status 5\d\d|Error connecting to database|fetch failed|network|ECONNRESET|ECONNREFUSED|timed? ?out|aborted|503|502|504|unavailable/i.test(
    text,
  );
}
