/**
 * What one run may spend: outgoing requests (every Neon query or batch, every Upstash command,
 * every R2 call is one subrequest) and wall time. Jobs ask `canAfford` before a batch and stop
 * with `more: true` rather than start a batch they could not finish.
 */

export class BudgetExceededError extends Error {
  override name = 'BudgetExceededError';
}

export class Budget {
  #used = 0;
  readonly #limit: number;
  readonly #deadline: number;
  readonly #clock: () => number;

  constructor(opts: { subrequests: number; timeMs: number; clock: () => number }) {
    this.#limit = opts.subrequests;
    this.#clock = opts.clock;
    this.#deadline = opts.clock() + opts.timeMs;
  }

  get used(): number {
    return this.#used;
  }

  get remaining(): number {
    return this.#limit - this.#used;
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
}
