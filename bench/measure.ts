/**
 * Measurements taken straight from Postgres, the same way for every contender: row counts before
 * and after a job (rows deleted), and EXPLAIN (ANALYZE, BUFFERS) of a statement inside a
 * transaction that is rolled back, so the plan is shown without changing the data; and the
 * order and statistics of the app-write comparisons.
 */
import pg from 'pg';
import type { BenchLayout } from './layout.ts';

/** One plan: its text, and the shared buffers (hit + read) its top node touched. */
export interface Explained {
  plan: string;
  buffers: number;
  executionMs: number;
}

/** Rows per table (the layout's physical names, bench/layout.ts `tables`), counted exactly. */
export async function countRows(client: pg.Client, L: BenchLayout, tables: readonly string[] = L.tables): Promise<Record<string, number>> {
  const select = tables.map((t) => `(SELECT count(*) FROM ${L.qualified(t)})::bigint AS ${pg.escapeIdentifier(t)}`).join(', ');
  const { rows } = await client.query(`SELECT ${select}`);
  return Object.fromEntries(Object.entries(rows[0] as Record<string, string>).map(([k, v]) => [k, Number(v)]));
}

/** Sum over `tables` of how many rows went away between two counts. */
export function rowsGone(before: Record<string, number>, after: Record<string, number>, tables: readonly string[]): number {
  return tables.reduce((sum, t) => sum + Math.max(0, (before[t] ?? 0) - (after[t] ?? 0)), 0);
}

/** EXPLAIN (ANALYZE, BUFFERS) of `query`, executed and rolled back. */
export async function explain(client: pg.Client, query: string, params: unknown[] = []): Promise<Explained> {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query({ text: `EXPLAIN (ANALYZE, BUFFERS) ${query}`, values: params });
    const plan = rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
    return { plan, buffers: topBuffers(plan), executionMs: Number(/Execution Time: ([\d.]+)/.exec(plan)?.[1] ?? NaN) };
  } finally {
    await client.query('ROLLBACK');
  }
}

/**
 * VACUUM (ANALYZE) of the tables a job touched, before its no-op run: a scheduled no-op run comes
 * hours after the last deletions, when autovacuum has removed the dead rows and index entries.
 * Measured without it, the no-op would time the cleanup of the run just before, not the design.
 */
export async function settle(client: pg.Client, L: BenchLayout, tables: readonly string[]): Promise<void> {
  // Deleted chats also left their rows in spacerr_jobs.empty_chats (by trigger): vacuumed with them.
  const all = [...tables.map(L.qualified), ...(tables.includes(L.t('chat').name) ? ['spacerr_jobs.empty_chats'] : [])];
  await client.query(`VACUUM (ANALYZE) ${all.join(', ')}`);
}

/** Runs one statement and times it from the client (loopback: the round trip is negligible). */
export async function timed(client: pg.Client, query: string): Promise<{ ms: number; rowCount: number }> {
  const started = performance.now();
  const result = await client.query(query);
  return { ms: performance.now() - started, rowCount: result.rowCount ?? 0 };
}

/** A connected client; the caller ends it. */
export async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}

/**
 * Whether round (or block) `r` of an interleaved comparison runs with the Worker's triggers on:
 * off, on, on, off, off, on, … — each pair one of each mode, each mode first as often as last.
 */
export const triggersOn = (r: number) => r % 4 === 1 || r % 4 === 2;

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

export function median(values: number[]): number {
  return percentile(values, 0.5);
}

/** Each mode's median (µs of the writes timed in it), their ratio and difference. */
export function compared(without: number[], withTriggers: number[]) {
  const withoutUs = median(without);
  const withUs = median(withTriggers);
  return { n: withTriggers.length, withoutUs, withUs, ratio: withUs / withoutUs, addedUs: withUs - withoutUs };
}

export function mean(values: number[]): number {
  return values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
}

// The first "Buffers:" line belongs to the top plan node, which includes its children's.
function topBuffers(plan: string): number {
  // Planning buffers come after "Planning:"; a plan that touched nothing has no line of its own.
  const nodes = plan.split('\nPlanning')[0] ?? '';
  const line = nodes.split('\n').find((l) => l.trim().startsWith('Buffers:')) ?? '';
  const hit = Number(/hit=(\d+)/.exec(line)?.[1] ?? 0);
  const read = Number(/read=(\d+)/.exec(line)?.[1] ?? 0);
  return hit + read;
}
