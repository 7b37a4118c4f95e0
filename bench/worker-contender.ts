/**
 * The Worker contender: the real Worker under `wrangler dev`, each job called over HTTP
 * (`POST /api/internal/jobs/{job}`) until it answers `more: false`, its statements going through
 * the local Neon HTTP endpoint to Postgres. The endpoint reports every statement with its duration
 * (`onQuery`), which gives the longest lock hold and the statements each run sent.
 */
import { randomBytes } from 'node:crypto';
import type { QueryTiming } from '../scripts/stack/neon-http.ts';
import { listedJobs, seedHistory } from '../scripts/status/history.ts';
import { startLocalWorker } from '../scripts/stack/worker.ts';
import { cpuNs as cpuNsOf, findWorkerd, measureCpu } from './cpu.ts';
import type { BenchJob } from './jobs.ts';
import type { BenchLayout } from './layout.ts';
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

/**
 * Lock, finish and the alarm check: bookkeeping, not batches. The app-map drift check
 * (src/app-map/drift.ts, a catalog SELECT sent in the lock request) is bookkeeping too: its text
 * names `ON DELETE` rules, so without it here it passed for the first batch of every job, and its
 * catalog reads (≈ 60–80 buffers, the same at any scale) for part of every no-op's data cost.
 */
const OVERHEAD = /job_runs|accounts_eligible|', mapped as '/;
/** A batch's own setting (the server-side statement_timeout of the account job): no plan to explain. */
const SETTING = /^\s*SELECT set_config\(/;

/** Runs every job to completion through the Worker, then once more with nothing left (no-op). */
export async function runWorkerContender(target: WorkerTarget, L: BenchLayout, jobs: BenchJob[], log: QueryLog) {
  const secret = randomBytes(16).toString('hex');
  const worker = await startLocalWorker({
    // The Worker bundles the map of the layout the bench's database has (src/app-map/index.ts).
    appMapFile: L.mapFile,
    vars: {
      DATABASE_URL: target.databaseUrl,
      NEON_HTTP_ENDPOINT: target.neonUrl,
      UPSTASH_REDIS_REST_URL: target.upstashUrl,
      UPSTASH_REDIS_REST_TOKEN: target.upstashToken,
      // The bench's files are R2 keys (bench/dataset.ts), in wrangler dev's local R2.
      BLOB_STORE: 'r2',
      CRON_SECRET: secret,
      ...target.vars,
    },
  });
  // CPU per invocation (bench/cpu.ts): every call below is alone in the Worker, and timed in workerd.
  const workerd = findWorkerd(worker.pid);
  const cpu: Record<string, number[]> = {};
  const sample = (key: string, ms: number) => void (cpu[key] ??= []).push(ms);
  const call = async (job: string, kind = 'run'): Promise<RunReport & { ms: number }> => {
    const started = performance.now();
    const { value: report, cpuMs } = await measureCpu(workerd, async () => {
      const res = await fetch(`${worker.url}/api/internal/jobs/${job}`, { method: 'POST', headers: { authorization: `Bearer ${secret}` } });
      return (await res.json()) as RunReport;
    });
    if (report.status !== 'succeeded') throw new Error(`${job} through the Worker: ${report.status} ${report.error ?? ''}`);
    sample(
      `${job} ${kind === 'noop' ? 'no-op' : report.subrequests >= FULL_RUN ? 'full budget (≥ 40 subrequests)' : 'with full batches'}`,
      cpuMs,
    );
    return { ...report, ms: performance.now() - started };
  };
  const client = await connect(target.databaseUrl);
  const results: Record<string, JobResult> = {};
  const firstBatches: Record<string, QueryTiming> = {};
  try {
    for (const job of jobs) {
      const before = await countRows(client, L, job.tables);
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
      const after = await countRows(client, L, job.tables);
      const rowsDeleted = rowsGone(before, after, job.tables);

      await settle(client, L, job.tables);
      const noopFrom = log.queries.length;
      const noopRun = await call(job.name, 'noop');
      const noopSent = log.queries.slice(noopFrom);
      const plans = [];
      for (const q of noopSent.filter((s) => !OVERHEAD.test(s.query) && !SETTING.test(s.query))) {
        plans.push(await explain(client, q.query, q.params));
      }
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
    await otherInvocations(worker, workerd, secret, client, jobs, call, sample);
    await statusPage(worker, workerd, secret, client, sample);
  } finally {
    await client.end();
    await worker.stop();
  }
  return { results, firstBatches, cpu };
}

const CPU_REPEATS = 20;
/** A run that spent at least this many subrequests used (nearly) the whole default budget of 45. */
const FULL_RUN = 40;

/**
 * More CPU samples once every job is done: no-op runs again, the idle tick (Upstash only), the
 * listing and health routes, and the queued sweeps that follow a deleting cron. A queued
 * invocation is timed from the previous run's end to its own (the queue's 1 s batch timeout in
 * between, in which workerd idles).
 */
async function otherInvocations(
  worker: Awaited<ReturnType<typeof startLocalWorker>>,
  workerd: number,
  secret: string,
  client: Awaited<ReturnType<typeof connect>>,
  jobs: BenchJob[],
  call: (job: string, kind?: string) => Promise<unknown>,
  sample: (key: string, ms: number) => void,
) {
  for (let i = 0; i < CPU_REPEATS / 2; i++) for (const job of jobs) await call(job.name, 'noop');
  const route = (path: string) => async () =>
    (await fetch(`${worker.url}${path}`, { headers: { authorization: `Bearer ${secret}` } })).text();
  for (let i = 0; i < CPU_REPEATS; i++) {
    sample('tick, idle (Upstash only)', (await measureCpu(workerd, async () => (await worker.triggerCron('*/10 * * * *')).text())).cpuMs);
    sample('GET /api/internal/jobs', (await measureCpu(workerd, route('/api/internal/jobs'))).cpuMs);
    sample('GET /api/internal/health', (await measureCpu(workerd, route('/api/internal/health'))).cpuMs);
    // The floor: a request refused before any work (401, no subrequest), i.e. workerd's own share.
    const refused = async () => (await fetch(`${worker.url}/api/internal/jobs`)).text();
    sample('floor: 401 without a token', (await measureCpu(workerd, refused)).cpuMs);
  }
  // workerd's own CPU while no request runs, per second of wall time: what a long run carries on top.
  for (let i = 0; i < 5; i++) {
    const { cpuMs } = await measureCpu(workerd, () => new Promise((r) => setTimeout(r, 1000)));
    sample('idle workerd, per second (no request)', cpuMs);
  }
  for (let i = 0; i < CPU_REPEATS / 4; i++) {
    const finished = async () =>
      Number(
        (await client.query(`SELECT count(*) AS n FROM spacerr_jobs.job_runs WHERE trigger = 'queue' AND status <> 'running'`)).rows[0].n,
      );
    const start = await finished();
    sample('cron 0 */12, no-op', (await measureCpu(workerd, async () => (await worker.triggerCron('0 */12 * * *')).text())).cpuMs);
    let mark = cpuNsOf(workerd);
    // The queued sweeps the layout turns on: blobs and streams always, orphaned sources only with
    // an attachments table (off on Spacerr's layout). A guard keeps a missing one from hanging the run.
    const sweeps = 2 + (jobs.some((j) => j.name === 'delete-orphaned-message-sources') ? 1 : 0);
    const giveUp = Date.now() + 30_000;
    for (let done = start; done < start + sweeps && Date.now() < giveUp;) {
      await new Promise((r) => setTimeout(r, 20));
      const now = await finished();
      if (now > done) {
        const at = cpuNsOf(workerd);
        sample('queue: a sweep after a deleting run', (at - mark) / 1e6);
        mark = at;
        done = now;
      }
    }
  }
}

/** The status page's CPU key in the bench report. */
export const STATUS_PAGE_CPU = 'GET /api/internal/status, a month of history';

/**
 * The status page rendered for a signed-in browser, over a month of history as busy as it gets
 * (every `*\/10` slot ran its sweeps: about 17k runs, what JOB_RUNS_RETENTION_DAYS keeps), last,
 * so the history weighs on no other sample. One sign-in first (a form POST) for the cookie.
 */
async function statusPage(
  worker: Awaited<ReturnType<typeof startLocalWorker>>,
  workerd: number,
  secret: string,
  client: Awaited<ReturnType<typeof connect>>,
  sample: (key: string, ms: number) => void,
) {
  await seedHistory(client, await listedJobs(worker.url, secret), { now: new Date(), busy: true });
  const signIn = await fetch(`${worker.url}/api/internal/status/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: worker.url },
    body: new URLSearchParams({ secret }),
  });
  if (signIn.status !== 303) throw new Error(`status page sign-in: ${signIn.status}`);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0]!;
  const render = async () => {
    const res = await fetch(`${worker.url}/api/internal/status`, { headers: { cookie } });
    const html = await res.text();
    if (res.status !== 200 || !html.includes('id="chart-deleted"')) throw new Error(`status page: ${res.status}`);
    return html;
  };
  for (let i = 0; i < CPU_REPEATS; i++) sample(STATUS_PAGE_CPU, (await measureCpu(workerd, render)).cpuMs);
}

/** The statements of one request run in one transaction: its row locks are held for their sum. */
function longestTransaction(sent: QueryTiming[]): number {
  const byRequest = new Map<number, number>();
  for (const q of sent) byRequest.set(q.request, (byRequest.get(q.request) ?? 0) + q.ms);
  return Math.max(0, ...byRequest.values());
}
