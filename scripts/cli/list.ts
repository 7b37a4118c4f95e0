/**
 * `npm run job -- list`: the Worker's jobs listing (GET /api/internal/jobs) as a table — cron,
 * next run, last run and backlog per job — followed by any standing alarms. Fields the Worker
 * does not send show as "-".
 */
import { formatCounts, formatDuration, formatRelative } from './format.ts';
import { apiError, callWorker } from './http.ts';
import type { Secret } from './secret.ts';
import { renderTable } from './table.ts';

interface LastRun {
  id?: string;
  status?: string;
  trigger?: string;
  dryRun?: boolean;
  startedAt?: string;
  finishedAt?: string | null;
  durationMs?: number | null;
  counts?: Record<string, number>;
  more?: boolean;
  error?: string | null;
}

interface JobEntry {
  name: string;
  cron?: string | null;
  nextRunAt?: string | null;
  lastRun?: LastRun | null;
  backlog?: Record<string, number>;
  paused?: { reason?: string; by?: string | null; since?: string } | null;
  missed?: { runId?: string; slots?: string[]; foundAt?: string } | null;
}

interface Alarm {
  code?: string;
  job?: string;
  message?: string;
  count?: number;
}

/** Fetches the listing and returns it rendered for the terminal. */
export async function listJobs(url: string, secret: Secret): Promise<string> {
  const answer = await callWorker(url, '/api/internal/jobs', secret, 'GET');
  if (answer.status !== 200 || !Array.isArray(answer.body.jobs)) throw apiError(`${url}/api/internal/jobs`, answer);
  return renderListing(answer.body as { now?: string; ok?: boolean; jobs: JobEntry[]; alarms?: Alarm[] });
}

/** Renders a listing; `now` (the Worker's clock when present) anchors the relative times. */
export function renderListing(listing: { now?: string; ok?: boolean; jobs: JobEntry[]; alarms?: Alarm[] }): string {
  const now = Date.parse(listing.now ?? '') || Date.now();
  const rows = listing.jobs.map((job) => {
    const run = job.lastRun;
    return [
      job.name,
      job.cron ?? '-',
      formatRelative(job.nextRunAt, now),
      run ? runStatus(run) : 'never',
      run ? formatRelative(run.finishedAt ?? run.startedAt, now) : '-',
      run ? formatDuration(run.durationMs) : '-',
      run ? formatCounts(run.counts) : '-',
      formatCounts(job.backlog),
    ];
  });
  const out = [renderTable(['job', 'cron', 'next run', 'last run', 'when', 'duration', 'counts', 'backlog'], rows)];
  const errors = listing.jobs.filter((j) => j.lastRun?.error && j.lastRun.status !== 'succeeded');
  for (const job of errors) out.push(`${job.name}: last run ${job.lastRun?.id ?? ''} ${job.lastRun?.status}: ${job.lastRun?.error}`);
  for (const job of listing.jobs.filter((j) => j.paused)) {
    const p = job.paused!;
    out.push(`${job.name}: PAUSED${p.by ? ` by ${p.by}` : ''} since ${p.since ?? '?'}: ${p.reason ?? ''}`);
  }
  for (const job of listing.jobs.filter((j) => j.missed?.slots?.length)) {
    const m = job.missed!;
    out.push(`${job.name}: missed slot(s) ${m.slots!.join(', ')} (found by run ${m.runId ?? '?'}, ${formatRelative(m.foundAt, now)})`);
  }
  const alarms = listing.alarms ?? [];
  if (alarms.length > 0) {
    out.push('', `ALARMS (${alarms.length}):`);
    for (const a of alarms) out.push(`  ${a.code ?? 'alarm'} [${a.job ?? '-'}] ${a.message ?? ''}`);
  } else if (listing.ok !== undefined) {
    out.push('', listing.ok ? 'no alarms' : 'not ok (see the health route)');
  }
  return out.join('\n');
}

function runStatus(run: LastRun): string {
  const flags = [run.trigger, run.dryRun ? 'dry run' : undefined, run.more ? 'more' : undefined].filter(Boolean);
  return `${run.status ?? '?'}${flags.length ? ` (${flags.join(', ')})` : ''}`;
}
