/**
 * What one run may spend: outgoing requests (every Neon query or batch, every Upstash command,
 * every R2 call is one subrequest) and wall time. Jobs ask `canAfford` before a batch and stop
 * with `more: true` rather than start a batch they could not finish. Every request goes through
 * `request`, which counts each attempt and retries transient failures with backoff while the
 * budget allows.
 */

import { retryTransient } from './retry';

export class BudgetExceededError extends Error {
  override name = 'BudgetExceededError';
}

/** Attempts per request, the first included. */
export const MAX_ATTEMPTS = 3;

export class Budget {
  #used = 0;
  readonly #limit: number;
  readonly #deadline: number;
  readonly #clock: () => number;
  readonly #sleep: ((ms: number) => Promise<void>) | undefined;

  constructor(opts: { subrequests: number; timeMs: number; clock: () => number; sleep?: (ms: number) => Promise<void> }) {
    this.#limit = opts.subrequests;
    this.#clock = opts.clock;
    this.#deadline = opts.clock() + opts.timeMs;
    this.#sleep = opts.sleep;
  }

  get used(): number {
    return this.#used;
  }

  /** The run's clock (wall time; in a Worker it moves only across I/O, which is what batches time). */
  now(): number {
    return this.#clock();
  }

  /** The subrequests this budget allows in all. */
  get limit(): number {
    return this.#limit;
  }

  /** True when `subrequests` more fit and the wall-time deadline has not passed. */
  canAfford(subrequests: number): boolean {
    return this.#used + subrequests <= this.#limit && this.#clock() < this.#deadline;
  }

  /** Records one outgoing request; throws if it would go past the limit (a programmer error). */
  spend(n = 1): void {
    if (this.#used + n > this.#limit) {
      throw new BudgetExceededError(`subrequest budget of ${this.#limit} exceeded (a job did not check canAfford)`);
    }
    this.#used += n;
  }

  /**
   * Sends one request, counted. A transient failure (the service answered 5xx, or could not be
   * reached) is retried after 200 ms, then 400 ms, if budget and time remain; anything else, or
   * the last failure, is thrown. Every statement the jobs send is safe to repeat: a batch whose
   * reply was lost either committed (and its rows are gone) or did not (and they are picked again).
   * `mayRetry` can refuse another try of a failure the caller handles itself (a timed-out batch
   * is retried smaller, never as it was).
   */
  request<T>(send: () => Promise<T>, opts: { mayRetry?: (err: unknown) => boolean } = {}): Promise<T> {
    return retryTransient(
      () => {
        this.spend();
        return send();
      },
      { attempts: MAX_ATTEMPTS, sleep: this.#sleep, mayRetry: (err) => this.canAfford(1) && (opts.mayRetry?.(err) ?? true) },
    );
  }
}
