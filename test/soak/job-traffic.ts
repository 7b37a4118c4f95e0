/**
 * The jobs' side of the soak: every job run over and over through the Worker's own fetch handler
 * (GET and POST, now and then a dry run), and the three crons delivered through its scheduled
 * handler, all concurrently with the app traffic. Outcomes are tallied per job and status.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import worker from '../../src/index';
import { CRONS } from '../support/crons';
import type { RunReport } from '../../src/run/report';
import { enabledJobs, type TestEnv } from '../worker/support';

export interface JobTally {
  /** job → status (or `http <code>`) → count. */
  runs: Record<string, Record<string, number>>;
  /** cron → delivered / threw. */
  crons: Record<string, Record<string, number>>;
  /** job → counts summed over its non-dry runs (what the jobs deleted during the soak). */
  deleted: Record<string, Record<string, number>>;
  /** Errors of failed runs (expected: none). */
  failures: string[];
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function newTally(): JobTally {
  return { runs: {}, crons: {}, deleted: {}, failures: [] };
}

function bump(table: Record<string, Record<string, number>>, key: string, outcome: string, n = 1) {
  const row = (table[key] ??= {});
  row[outcome] = (row[outcome] ?? 0) + n;
}

/** One run of `job` through the Worker's fetch handler; returns its report (tallied). */
export async function runOverHttp(e: TestEnv, job: string, tally: JobTally, init: { method?: string; dryRun?: boolean } = {}) {
  const ctx = createExecutionContext();
  const url = `http://worker/api/internal/jobs/${job}${init.dryRun ? '?dryRun=1' : ''}`;
  const res = await worker.fetch(
    new Request(url, { method: init.method ?? 'POST', headers: { Authorization: `Bearer ${e.CRON_SECRET}` } }),
    e,
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const report = (await res.json()) as RunReport;
  bump(tally.runs, job, res.status === 200 ? report.status : `http ${res.status}`);
  if (!report.dryRun) for (const [key, n] of Object.entries(report.counts ?? {})) bump(tally.deleted, job, key, n);
  if (report.status === 'failed') tally.failures.push(`${job} (http): ${report.error}`);
  return report;
}

/** Runs every job over HTTP in a loop, and delivers a random cron every `cronEveryMs`, until `stopAt`. */
export async function playJobs(e: TestEnv, tally: JobTally, stopAt: number, cronEveryMs = 700) {
  const http = enabledJobs(e).map(async (job, j) => {
    for (let i = 0; Date.now() < stopAt; i++) {
      await runOverHttp(e, job.name, tally, { method: (i + j) % 2 ? 'GET' : 'POST', dryRun: i % 10 === 9 });
      await pause(Math.random() * 300);
    }
  });
  const crons = (async () => {
    const expressions = Object.keys(CRONS);
    while (Date.now() < stopAt) {
      const cron = expressions[Math.floor(Math.random() * expressions.length)]!;
      const ctx = createExecutionContext();
      try {
        await worker.scheduled(createScheduledController({ cron, scheduledTime: Date.now() }), e, ctx);
        await waitOnExecutionContext(ctx);
        bump(tally.crons, cron, 'delivered');
      } catch (err) {
        bump(tally.crons, cron, 'threw');
        tally.failures.push(`cron ${cron}: ${(err as Error).message}`);
      }
      await pause(cronEveryMs);
    }
  })();
  await Promise.all([...http, crons]);
}

/** The final quiet run: each job until it reports no work left (cleanup jobs after the deleting ones). */
export async function quietRun(e: TestEnv, tally: JobTally) {
  for (const job of enabledJobs(e)) {
    for (let i = 0; i < 50; i++) {
      const report = await runOverHttp(e, job.name, tally);
      if (report.status === 'succeeded' && !report.more) break;
      if (report.status === 'skipped') await pause(100);
    }
  }
}
