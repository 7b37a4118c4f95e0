/**
 * The Worker contender: the real Worker under `wrangler dev`, each job called over HTTP
 * (`POST /api/internal/jobs/{job}`) until it answers `more: false`, its statements going through
 * the local Neon HTTP endpoint to Postgres. The endpoint reports every statement with its duration
 * (`onQuery`), which gives the longest lock hold and the statements each run sent.
 */
import { randomBytes } from 'node:crypto';
import type { QueryTiming } from '../scripts/stack/neon-http.ts';
import { startLocalWorker } from '../scripts/stack/worker.ts';
import type { BenchJob } from './jobs.ts';
import { connect, countRows, explain, rowsGone, settle } from './measure.ts';
import type { JobResult } from './result.ts';

/** What the bench's Neon endpoint saw; the Worker is its only client while this contender runs. */
export interface QueryLog {
  queries: QueryTiming[];
}

export interface WorkerTarget {
  databaseUrl: string;
  neonUrl: string;
  upstashUrl: string;
  upstashToken: string;
  /** Overrides of wrangler.toml [vars], e.g. DELETE_BATCH_SIZE. */
  vars: Record<string, string>;
}

interface RunReport {
  status: string;
  more: boolean;
  subrequests: number;
  error?: string;
}

/** Lock, finish and the alarm check: bookkeeping, not batches. */
const OVERHEAD = /job_runs|accounts_eligible/;

/** Runs every job to completion through the Worker, then once more with nothing left (no-op). */
export async function runWorkerContender(target: WorkerTarget, jobs: BenchJob[], log: QueryLog) {
  const secret = randomBytes(16).toString('hex');
  const worker = await startLocalWorker({
    vars: {
      DATABASE_URL: target.databaseUrl,
      NEON_HTTP_ENDPOINT: target.neonUrl,
      UPSTASH_REDIS_REST_URL: target.upstashUrl,
      UPSTASH_REDIS_REST_TOKEN: target.upstashToken,
      CRON_SECRET: secret,
      ...target.vars,
    },
  });
  const call = async (job: string): Promise<RunReport & { ms: number }> => {
    const started = performance.now();
    const res = await fetch(`${worker.url}/api/internal/jobs/${job}`, { method: 'POST', headers: { authorization: `Bearer ${secret}` } });
    const report = (await res.json()) as RunReport;
    if (report.status !== 'succeeded') throw new Error(`${job} through the Worker: ${report.status} ${report.error ?? ''}`);
    return { ...report, ms: performance.now() - started };
  };
  const client = await connect(target.databaseUrl);
  const results: Record<string, JobResult> = {};
  const firstBatches: Record<string, QueryTiming> = {};
  try {
    for (const job of jobs) {
      const before = await countRows(client, job.tables);
      const from = log.queries.length;
      let runs = 0;
      let subrequests = 0;
      let maxSubrequestsPerRun = 0;
      let maxOverheadPerRun = 0;
      const started = performance.now();
      for (let more = true; more; runs++) {
        const mark = log.queries.length;
        const report = await call(job.name);
        more = report.more;
        subrequests += report.subrequests;
        maxSubrequestsPerRun = Math.max(maxSubrequestsPerRun, report.subrequests);
        const overhead = new Set(log.queries.slice(mark).flatMap((q) => (OVERHEAD.test(q.query) ? [q.request] : [])));
        maxOverheadPerRun = Math.max(maxOverheadPerRun, overhead.size);
      }
      const wallMs = performance.now() - started;
      const sent = log.queries.slice(from);
      const first = sent.find((q) => !OVERHEAD.test(q.query) && /\b(DELETE|UPDATE)\b/i.test(q.query));
      if (first) firstBatches[job.name] = first;
      const after = await countRows(client, job.tables);
      const rowsDeleted = rowsGone(before, after, job.tables);

      await settle(client, job.tables);
      const noopFrom = log.queries.length;
      const noopRun = await call(job.name);
      const noopSent = log.queries.slice(noopFrom);
      const plans = [];
      for (const q of noopSent.filter((s) => !OVERHEAD.test(s.query))) plans.push(await explain(client, q.query, q.params));
      results[job.name] = {
        rowsDeleted,
        wallMs,
        rowsPerSec: rowsDeleted / (wallMs / 1000),
        statements: sent.length,
        subrequests,
        runs,
        maxSubrequestsPerRun,
        maxOverheadPerRun,
        dbMs: sent.reduce((sum, q) => sum + q.ms, 0),
        longestStatementMs: longestTransaction(sent),
        noop: {
          wallMs: noopRun.ms,
          dbMs: noopSent.reduce((sum, q) => sum + q.ms, 0),
          statements: noopSent.length,
          subrequests: noopRun.subrequests,
          buffers: plans.reduce((sum, p) => sum + p.buffers, 0),
          plans: plans.map((p) => p.plan),
        },
      };
    }
  } finally {
    await client.end();
    await worker.stop();
  }
  return { results, firstBatches };
}

/** The statements of one request run in one transaction: its row locks are held for their sum. */
function longestTransaction(sent: QueryTiming[]): number {
  const byRequest = new Map<number, number>();
  for (const q of sent) byRequest.set(q.request, (byRequest.get(q.request) ?? 0) + q.ms);
  return Math.max(0, ...byRequest.values());
}
