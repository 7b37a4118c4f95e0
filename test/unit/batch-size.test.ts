// How batch sizes follow BATCH_TARGET_MS (src/run/batch-size.ts): the rule on its own, with the
// time each batch took given as a number. The jobs' use of it runs against the stack
// (test/worker/batch-size.test.ts).
import { describe, expect, it } from 'vitest';
import { BatchSize, GROWTH_MAX } from '../../src/run/batch-size.ts';

/** The sizes of successive full batches that each took `took(size)` ms. */
function sizes(size: BatchSize, took: (n: number) => number, batches: number): number[] {
  const seen: number[] = [];
  for (let i = 0; i < batches; i++) {
    const n = size.value;
    seen.push(n);
    size.observe(n, true, took(n));
  }
  return seen;
}

describe('BatchSize', () => {
  it('grows fast batches at most ×4 a batch, up to the job bound', () => {
    const size = new BatchSize({ start: 500, max: 20_000 }, 250);
    // 25 ms of transport, 0.001 ms a row: transport dominates until the batch is large.
    expect(sizes(size, (n) => 25 + n * 0.001, 6)).toEqual([500, 2000, 8000, 20_000, 20_000, 20_000]);
  });

  it('settles where a batch takes the target time', () => {
    const size = new BatchSize({ start: 2000, max: 20_000 }, 250);
    // 0.025 ms a row: 10,000 rows take the target.
    const seen = sizes(size, (n) => n * 0.025, 8);
    expect(seen.slice(0, 2)).toEqual([2000, 8000]);
    for (const n of seen.slice(3)) expect(Math.abs(n - 10_000)).toBeLessThanOrEqual(10);
  });

  it('shrinks slow batches at most ÷4 a batch, down to a tenth of the first size', () => {
    const size = new BatchSize({ start: 500, max: 500 }, 250);
    // 2 ms a row: 500 rows take 1 s, four times the target.
    expect(sizes(size, (n) => n * 2, 3)).toEqual([500, 125, 125]);
    const slower = new BatchSize({ start: 500, max: 500 }, 250);
    expect(sizes(slower, () => 10_000, 4)).toEqual([500, 125, 50, 50]);
  });

  it('never grows after a batch that was not full (it was the last), but shrinks after a slow one', () => {
    const size = new BatchSize({ start: 500, max: 20_000 }, 250);
    size.observe(500, false, 10);
    expect(size.value).toBe(500);
    size.observe(500, false, 1000);
    expect(size.value).toBe(500 / GROWTH_MAX);
  });

  it('keeps every batch at its first size when the target is 0', () => {
    const size = new BatchSize({ start: 500, max: 20_000 }, 0);
    expect(sizes(size, () => 1, 3)).toEqual([500, 500, 500]);
    expect(sizes(size, () => 5000, 3)).toEqual([500, 500, 500]);
  });

  it('starts within its bounds, however the first size was set', () => {
    expect(new BatchSize({ start: 50_000, max: 10_000 }, 250).value).toBe(10_000);
    expect(new BatchSize({ start: 1, max: 10 }, 250).value).toBe(1);
  });
});
