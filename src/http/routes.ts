/**
 * Route handlers. Each builds its clients from env once (src/deps.ts) after auth has passed.
 */
import { sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { latestRuns } from '../db/job-runs';
import { fromEnv } from '../deps';
import { cronOf, findJob, JOBS } from '../jobs/registry';
import { publicMessage, runJob } from '../jobs/runner';
import type { AppEnv } from './app';

const TRUE_VALUES = new Set(['1', 'true']);
const FALSE_VALUES = new Set(['0', 'false']);

/** GET|POST /api/internal/jobs/:job[?dryRun=1] — runs the job now. */
export async function runJobRoute(c: Context<AppEnv>) {
  const name = c.req.param('job') ?? '';
  const job = findJob(name);
  if (!job) return c.json({ error: 'unknown_job', message: 'No such job.', jobs: JOBS.map((j) => j.name) }, 404);
  const dryRun = parseDryRun(c.req.queries('dryRun'));
  const deps = fromEnv(c.env);
  const report = await runJob(job, deps, deps.config, { trigger: 'http', now: new Date(), dryRun });
  return c.json(report, report.status === 'failed' ? 500 : 200);
}

/** GET /api/internal/jobs — the jobs, their crons and their last runs. */
export async function listJobsRoute(c: Context<AppEnv>) {
  const deps = fromEnv(c.env);
  const runs = await latestRuns(
    deps.db,
    JOBS.map((j) => j.name),
  );
  return c.json({
    jobs: JOBS.map((job) => ({
      name: job.name,
      description: job.description,
      cron: cronOf(job.name) ?? null,
      lastRun: runs.find((r) => r.job === job.name) ?? null,
    })),
  });
}

/** GET /api/internal/health — Postgres and Redis answer. 503 when either does not. */
export async function healthRoute(c: Context<AppEnv>) {
  const deps = fromEnv(c.env);
  const [postgres, redis] = await Promise.all([probe(() => deps.db.execute(sql`SELECT 1`)), probe(() => deps.redis.ping())]);
  const ok = postgres.ok && redis.ok;
  return c.json({ ok, postgres, redis }, ok ? 200 : 503);
}

async function probe(check: () => Promise<unknown>) {
  const started = Date.now();
  try {
    await check();
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    return { ok: false, latencyMs: Date.now() - started, error: publicMessage(err) };
  }
}

function parseDryRun(values: string[] | undefined): boolean {
  if (values === undefined || values.length === 0) return false;
  if (values.length > 1) throw badRequest('dryRun was given more than once.');
  const value = (values[0] ?? '').toLowerCase();
  if (TRUE_VALUES.has(value)) return true;
  if (FALSE_VALUES.has(value) || value === '') return false;
  throw badRequest('dryRun must be 1, true, 0 or false.');
}

function badRequest(message: string) {
  return new HTTPException(400, {
    res: new Response(JSON.stringify({ error: 'bad_request', message }), {
      status: 400,
      headers: { 'content-type': 'application/json' },
    }),
  });
}
