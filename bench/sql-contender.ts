/**
 * The two SQL contenders: each job as one statement sent straight to Postgres with `pg` — the
 * limit on the indexed schema, the naive statement on the schema without the supporting indexes.
 * One statement is one transaction, so its duration is also how long it holds its row locks.
 * With `link` (a run with --rtt-ms), the timed statement goes over the same link as the Worker's:
 * Neon's HTTP driver through the local endpoint and its added latency.
 */
import { neon, neonConfig } from '@neondatabase/serverless';
import type { BenchJob } from './jobs.ts';
import type { BenchLayout } from './layout.ts';
import { connect, countRows, explain, rowsGone, settle, timed } from './measure.ts';
import type { JobResult } from './result.ts';

/** Runs every job once, in order, on the database at `url`; then each again with nothing left (no-op). */
export async function runSqlContender(
  url: string,
  L: BenchLayout,
  jobs: BenchJob[],
  pick: 'limit' | 'naive',
  link?: { neonUrl: string },
): Promise<Record<string, JobResult>> {
  const client = await connect(url);
  const results: Record<string, JobResult> = {};
  try {
    for (const job of jobs) {
      const query = job[pick];
      const before = await countRows(client, L, job.tables);
      const run = link ? await timedOverLink(link.neonUrl, url, query) : await timed(client, query);
      const after = await countRows(client, L, job.tables);
      const rowsDeleted = rowsGone(before, after, job.tables);
      // The no-op: the same statement once nothing is stale, then its plan and buffers.
      await settle(client, L, job.tables);
      const noop = await timed(client, query);
      const plan = await explain(client, query);
      results[job.name] = {
        rowsDeleted,
        wallMs: run.ms,
        rowsPerSec: rowsDeleted / (run.ms / 1000),
        statements: 1,
        subrequests: 0,
        runs: 1,
        maxSubrequestsPerRun: 0,
        maxOverheadPerRun: 0,
        dbMs: run.ms,
        longestStatementMs: run.ms,
        noop: { wallMs: noop.ms, dbMs: noop.ms, statements: 1, subrequests: 0, buffers: plan.buffers, plans: [plan.plan] },
      };
    }
  } finally {
    await client.end();
  }
  return results;
}

/** One statement through Neon's HTTP driver and the local endpoint at `neonUrl`, timed from here. */
async function timedOverLink(neonUrl: string, databaseUrl: string, query: string): Promise<{ ms: number }> {
  neonConfig.fetchEndpoint = () => neonUrl;
  const sql = neon(databaseUrl);
  const started = performance.now();
  await sql.query(query);
  return { ms: performance.now() - started };
}
