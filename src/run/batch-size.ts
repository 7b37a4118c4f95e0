/**
 * Batch sizes that follow a target time (BATCH_TARGET_MS). Over a link where each request costs
 * tens of milliseconds before Postgres starts (Workers to Neon over the internet), a fixed batch
 * of 500 cheap rows spends most of its time in transport; where one batch is costly, a fixed size
 * holds its locks longer than it needs to. So each job starts at its configured size and, after
 * every batch, sizes the next from how long this one took as the Worker saw it (transport
 * included, so a slow link grows batches until Postgres's share dominates):
 *
 *   next = size × target / took, at most ×GROWTH_MAX and at least ×1/GROWTH_MAX per batch,
 *   within the job's bounds, and grown only after a full batch (more rows were there).
 *
 * A transaction is one batch's statement, so with the default target (250 ms) and the ×4 step,
 * a batch that grows is predicted to take no longer than the target; the bounds keep a sudden
 * change of cost per row from reaching the 1 s the jobs promise (README, "Batches"). 0 turns the
 * adaptation off: every batch has the configured size.
 */

/** The most a batch may grow, or shrink, from one batch to the next. */
export const GROWTH_MAX = 4;

export interface BatchBounds {
  /** The first batch's size (a job's configured size). */
  start: number;
  /** The largest batch the job allows (why: next to each job's bound). */
  max: number;
  /** The smallest (default: start / 10, at least 1): a slow link alone cannot shrink batches to nothing. */
  min?: number;
}

export class BatchSize {
  #size: number;
  readonly #min: number;
  readonly #max: number;
  readonly #targetMs: number;

  constructor(bounds: BatchBounds, targetMs: number) {
    this.#max = Math.max(1, Math.floor(bounds.max));
    this.#min = Math.min(this.#max, Math.max(1, Math.floor(bounds.min ?? bounds.start / 10)));
    this.#size = clamp(Math.floor(bounds.start), this.#min, this.#max);
    this.#targetMs = targetMs;
  }

  /** The size of the next batch. */
  get value(): number {
    return this.#size;
  }

  /**
   * Records that a batch of `size` took `tookMs` (its request as the Worker saw it) and whether it
   * was full, and sizes the next one. A batch that was not full was the last: nothing to learn.
   */
  observe(size: number, full: boolean, tookMs: number): void {
    if (this.#targetMs === 0) return;
    const ratio = this.#targetMs / Math.max(tookMs, 1);
    if (ratio >= 1 && !full) return;
    const factor = clamp(ratio, 1 / GROWTH_MAX, GROWTH_MAX);
    this.#size = clamp(Math.floor(size * factor), this.#min, this.#max);
  }
}

function clamp(n: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, n));
}
