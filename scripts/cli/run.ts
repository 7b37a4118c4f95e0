/**
 * `npm run job -- <name>`: calls the HTTP runner again and again while the Worker reports
 * `more: true` (each call is one budgeted run), summing the counts, until the job is done, a run
 * fails, or another run holds the job's lock. A dry run is one call: it counts, deletes nothing.
 */
import { formatCounts, formatDuration } from './format.ts';
import { apiError, callWorker } from './http.ts';
import { CliError, EXIT } from './errors.ts';
import type { Secret } from './secret.ts';

/** The fields of the Worker's run report (docs/contract.md, §6: "A run answers") the CLI uses. */
export interface RunReport {
  job: string;
  runId: string;
  status: 'succeeded' | 'failed' | 'skipped';
  dryRun?: boolean;
  counts?: Record<string, number>;
  more?: boolean;
  subrequests?: number;
  durationMs?: number;
  error?: string;
  phase?: string;
  heldBy?: string | null;
  /** Set when the run was skipped because the job is paused. */
  paused?: { reason: string; by: string | null; since: string };
}

export interface RunLoopOptions {
  url: string;
  secret: Secret;
  job: string;
  dryRun: boolean;
  /** The one account (or other item) the job's run is for: `?account=<id>`. */
  target?: { param: string; id: string };
  /** Stop after this many runs even if work is left. */
  maxRuns: number;
  /** Where progress lines go (stderr). */
  progress: (line: string) => void;
  /** Checked between runs: true stops the loop (Ctrl-C). */
  interrupted: () => boolean;
}

export type LoopEnd = 'done' | 'more' | 'failed' | 'skipped' | 'interrupted';

export interface RunLoopResult {
  end: LoopEnd;
  runs: RunReport[];
  /** Counts summed over all runs, per table or store. */
  totals: Record<string, number>;
  subrequests: number;
  durationMs: number;
}

/** Runs the job until done (or failed, skipped, interrupted, or `maxRuns` reached). */
export async function runUntilDone(opts: RunLoopOptions): Promise<RunLoopResult> {
  const result: RunLoopResult = { end: 'done', runs: [], totals: {}, subrequests: 0, durationMs: 0 };
  const query = opts.target ? `?${opts.target.param}=${encodeURIComponent(opts.target.id)}` : opts.dryRun ? '?dryRun=1' : '';
  const path = `/api/internal/jobs/${encodeURIComponent(opts.job)}${query}`;
  for (let n = 1; ; n++) {
    const answer = await callWorker(opts.url, path, opts.secret, 'POST');
    if (answer.status === 404 && answer.body.error === 'unknown_job') {
      const jobs = Array.isArray(answer.body.jobs) ? answer.body.jobs.join(', ') : '(the Worker did not list them)';
      throw new CliError(`unknown job "${opts.job}". Jobs: ${jobs}`, EXIT.usage);
    }
    if (typeof answer.body.status !== 'string' || typeof answer.body.runId !== 'string') throw apiError(`${opts.url}${path}`, answer);
    const report = answer.body as unknown as RunReport;
    result.runs.push(report);
    for (const [table, count] of Object.entries(report.counts ?? {})) result.totals[table] = (result.totals[table] ?? 0) + count;
    result.subrequests += report.subrequests ?? 0;
    result.durationMs += report.durationMs ?? 0;
    opts.progress(progressLine(n, report, result));

    if (report.status === 'failed') return { ...result, end: 'failed' };
    if (report.status === 'skipped') return { ...result, end: 'skipped' };
    if (opts.dryRun || !report.more) return { ...result, end: 'done' };
    if (n >= opts.maxRuns) return { ...result, end: 'more' };
    if (opts.interrupted()) return { ...result, end: 'interrupted' };
  }
}

function progressLine(n: number, r: RunReport, sum: RunLoopResult): string {
  const parts = [`run ${n}: ${r.status}${r.dryRun ? ' (dry run)' : ''}`, formatCounts(r.counts)];
  if (n > 1) parts.push(`so far: ${formatCounts(sum.totals)}`);
  parts.push(`${r.subrequests ?? '?'} subrequest${r.subrequests === 1 ? '' : 's'}`, formatDuration(r.durationMs));
  if (r.status === 'succeeded' && r.more && !r.dryRun) parts.push('more to do');
  return parts.join(' · ');
}
