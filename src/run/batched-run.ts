/**
 * The batch loop every job shares: run batches while the budget affords them, add up what they
 * deleted, and say whether work is left (`more`). A dry run counts once and deletes nothing.
 * Batch sizes follow BATCH_TARGET_MS (src/run/batch-size.ts): `timedBatch` runs one batch at the
 * current size and sizes the next from how long it took.
 */
import { type BatchBounds, BatchSize } from './batch-size';
import type { Budget } from './budget';
import type { JobContext, JobOutcome } from './job';

/** This run's batch size for one kind of batch of a job: `bounds`, adapting to BATCH_TARGET_MS. */
export function batchSize(ctx: JobContext, bounds: BatchBounds): BatchSize {
  return new BatchSize(bounds, ctx.config.batchTargetMs);
}

/** Sends one batch of `size.value` rows, times it on the run's clock, and sizes the next batch. */
export async function timedBatch<T extends { full: boolean }>(
  ctx: JobContext,
  size: BatchSize,
  send: (limit: number) => Promise<T>,
): Promise<T> {
  const limit = size.value;
  const started = ctx.budget.now();
  const batch = await send(limit);
  size.observe(limit, batch.full, ctx.budget.now() - started);
  return batch;
}

/** Adds `b` into `a`, table by table. */
export function addCounts(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  for (const [k, v] of Object.entries(b)) a[k] = (a[k] ?? 0) + v;
  return a;
}

/**
 * Runs `step` while the budget affords `cost` more subrequests (a number, or the cost of the next
 * batch at its current size). `step` returns true when more work may remain. Returns `more`: true
 * if it stopped at the budget rather than running out of work.
 */
export async function inBatches(budget: Budget, cost: number | (() => number), step: () => Promise<boolean>): Promise<boolean> {
  for (;;) {
    if (!budget.canAfford(typeof cost === 'number' ? cost : cost())) return true;
    if (!(await step())) return false;
  }
}

/** One batch of a batched delete: how many candidates it locked, and what it deleted per table. */
export interface DeleteBatch {
  selected: number;
  counts: Record<string, number>;
}

/** One batch of any job: what it did per table, and whether it was full (so more may remain). */
export interface Batch {
  counts: Record<string, number>;
  full: boolean;
}

/**
 * The run of a batched job: a dry run counts once; otherwise batches run while the budget
 * affords `cost` subrequests each (the batch itself plus whatever the job keeps in hand for
 * after the loop), adding up their counts, until a batch is not full.
 */
export async function batchedRun(
  ctx: JobContext,
  opts: {
    cost: number | (() => number);
    count: (ctx: JobContext) => Promise<Record<string, number>>;
    batch: (ctx: JobContext) => Promise<Batch>;
  },
): Promise<JobOutcome> {
  if (ctx.dryRun) return { counts: await opts.count(ctx), more: false };
  const counts: Record<string, number> = {};
  const more = await inBatches(ctx.budget, opts.cost, async () => {
    const batch = await opts.batch(ctx);
    addCounts(counts, batch.counts);
    return batch.full;
  });
  return { counts, more };
}

/**
 * `batchedRun` for a job that deletes what is older than a cutoff, up to `limit` candidates per
 * batch: a batch that locked fewer than that was the last one.
 */
export function batchedDeletes(
  ctx: JobContext,
  opts: {
    cutoff: Date;
    size: BatchSize;
    cost: number;
    count: (ctx: JobContext, cutoff: Date) => Promise<Record<string, number>>;
    deleteBatch: (ctx: JobContext, cutoff: Date, limit: number) => Promise<DeleteBatch>;
  },
): Promise<JobOutcome> {
  return batchedRun(ctx, {
    cost: opts.cost,
    count: (c) => opts.count(c, opts.cutoff),
    batch: (c) =>
      timedBatch(c, opts.size, async (limit) => {
        const batch = await opts.deleteBatch(c, opts.cutoff, limit);
        return { counts: batch.counts, full: batch.selected >= limit };
      }),
  });
}
