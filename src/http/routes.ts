/**
 * The job routes. Each is a chain: its input checks (a 404 or 400 answers there), then
 * {@link withDeps} (the settings and clients, src/http/invocation.ts), then the handler, which
 * reads what the chain set on `c.var`, calls, and answers. The checks set `c.var` with small
 * middlewares rather than Hono's `validator`: its `json` target reads only `application/json`
 * bodies and answers bad JSON in its own words, where the pause route reads any body and answers
 * the API's `bad_request`; and the run route's accepted query depends on the path's job.
 */
import type { SQL } from 'drizzle-orm';
import type { Context } from 'hono';
import { createFactory, createMiddleware } from 'hono/factory';
import { HTTPException } from 'hono/http-exception';
import type { Job } from '../run/job';
import { findJob, JOBS } from '../jobs';
import { runJob } from '../run/runner';
import { healthReport } from './health';
import { type AppEnv, withDeps } from './invocation';
import { jobListing } from './listing';
import { pauseLogged, requeueParked, resumeLogged } from './operations';
import { checkPauseRequest, type PauseRequest } from './pause-input';

const TRUE_VALUES = new Set(['1', 'true']);
const FALSE_VALUES = new Set(['0', 'false']);

const factory = createFactory<AppEnv>();

/** The path's `:job` as `c.var.job`: a job the registry knows, else 404 listing the ones it does. */
const knownJob = createMiddleware<AppEnv & { Variables: { job: Job } }>(async function knownJob(c, next) {
  const job = findJob(c.req.param('job') ?? '');
  if (!job) return unknownJob(c);
  c.set('job', job);
  await next();
});

/** The path's job and its `requeue` statement as `c.var.requeue`; 400 for a job that parks nothing. */
const requeuable = createMiddleware<AppEnv & { Variables: { job: Job; requeue: SQL } }>(async function requeuable(c, next) {
  if (!c.var.job.requeue) {
    const jobs = JOBS.filter((j) => j.requeue).map((j) => j.name);
    return c.json({ error: 'nothing_to_requeue', message: 'This job parks nothing.', jobs }, 400);
  }
  c.set('requeue', c.var.job.requeue);
  await next();
});

/** The run route's query (dryRun, or the job's target) as `c.var.run`; 400 otherwise. */
const runQuery = createMiddleware<AppEnv & { Variables: { job: Job; run: RunQuery } }>(async function runQuery(c, next) {
  c.set('run', parseRunQuery(c.req.queries(), c.var.job.target?.param));
  await next();
});

/** The pause route's body as `c.var.pause`; 400 otherwise. */
const pauseBody = createMiddleware<AppEnv & { Variables: { pause: PauseRequest } }>(async function pauseBody(c, next) {
  c.set('pause', parsePauseBody(await c.req.text()));
  await next();
});

/**
 * POST /api/internal/jobs/:job/requeue — makes the job's parked rows due again (once what made
 * them fail is fixed), with a fresh count of attempts; the next run picks them up. One request.
 */
export const requeueRoute = factory.createHandlers(knownJob, requeuable, withDeps, async function requeue(c) {
  const requeued = await requeueParked(c.var.deps.db, c.var.job, c.var.requeue);
  return c.json({ job: c.var.job.name, requeued });
});

/**
 * POST /api/internal/jobs/:job/pause `{ "reason", "by"? }` — pauses the job (src/run/pauses.ts):
 * its runs are skipped until it is resumed. One request.
 */
export const pauseRoute = factory.createHandlers(knownJob, pauseBody, withDeps, async function pause(c) {
  return c.json({ pause: await pauseLogged(c.var.deps.db, c.var.job, c.var.pause, new Date()) });
});

/** POST /api/internal/jobs/:job/resume — lifts the job's pause; `resumed: false` when it had none. One request. */
export const resumeRoute = factory.createHandlers(knownJob, withDeps, async function resume(c) {
  return c.json({ resumed: await resumeLogged(c.var.deps.db, c.var.job) });
});

/** GET|POST /api/internal/jobs/:job[?dryRun=1] — runs the job now. */
export const runJobRoute = factory.createHandlers(knownJob, runQuery, withDeps, async function runNow(c) {
  const { job, deps } = c.var;
  const { dryRun, target } = c.var.run;
  const report = await runJob(job, deps, {
    trigger: 'http',
    now: new Date(),
    dryRun,
    ...(target === undefined ? {} : { target }),
  });
  return c.json(report, report.status === 'failed' ? 500 : 200);
});

/** GET /api/internal/jobs — every job's cron, next run, last run and backlog, and the alarms standing. */
export const listJobsRoute = factory.createHandlers(withDeps, async function listJobs(c) {
  return c.json(await jobListing(c.var.deps, new Date()));
});

/**
 * GET /api/internal/health — Postgres and Redis answer, and no alarm stands; 503 otherwise, so an
 * uptime monitor pages someone (src/http/health.ts).
 */
export const healthRoute = factory.createHandlers(withDeps, async function health(c) {
  const report = await healthReport(c.var.deps);
  return c.json(report, report.ok ? 200 : 503);
});

/** 404 for a job name the registry does not know, listing the ones it does. */
function unknownJob(c: Context) {
  return c.json({ error: 'unknown_job', message: 'No such job.', jobs: JOBS.map((j) => j.name) }, 404);
}

type RunQuery = { dryRun: boolean; target?: string };

/**
 * The run route's query: `dryRun` only. Anything else is refused rather than ignored: a caller who
 * typed `?dryrun=1` or `?dry_run=1` meant a dry run, and must get a 400, never a real deletion.
 * A bare `?dryRun` is a dry run too.
 */
function parseRunQuery(query: Record<string, string[]>, targetParam?: string): RunQuery {
  const accepted = ['dryRun', ...(targetParam ? [targetParam] : [])];
  const unknown = Object.keys(query).filter((key) => !accepted.includes(key));
  if (unknown.length > 0) {
    const hint = unknown.some((k) => k.toLowerCase().replace(/[^a-z]/g, '') === 'dryrun') ? ' Did you mean dryRun?' : '';
    const only = accepted.length > 1 ? `only ${accepted.join(' and ')} are accepted` : 'only dryRun is accepted';
    throw badRequest(`Unknown query parameter ${JSON.stringify(unknown[0]?.slice(0, 40))}; ${only}.${hint}`);
  }
  const target = targetParam === undefined ? undefined : query[targetParam];
  if (target !== undefined && (target.length !== 1 || target[0] === '' || target[0]!.length > 200)) {
    throw badRequest(`${targetParam} must be given once, as one id.`);
  }
  const dryRun = parseDryRun(query.dryRun);
  if (dryRun && target !== undefined) throw badRequest(`dryRun and ${targetParam} cannot be combined.`);
  return target === undefined ? { dryRun } : { dryRun, target: target[0]! };
}

function parseDryRun(values: string[] | undefined): boolean {
  if (values === undefined || values.length === 0) return false;
  if (values.length > 1) throw badRequest('dryRun was given more than once.');
  const value = (values[0] ?? '').toLowerCase();
  if (TRUE_VALUES.has(value) || value === '') return true;
  if (FALSE_VALUES.has(value)) return false;
  throw badRequest('dryRun must be 1, true, 0 or false.');
}

/** The pause route's body: JSON that {@link checkPauseRequest} accepts; anything else is a 400. */
function parsePauseBody(text: string): PauseRequest {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest('Send a JSON body: {"reason": "…", "by": "…"} (by is optional).');
  }
  const checked = checkPauseRequest(body);
  if (!checked.ok) throw badRequest(checked.message);
  return checked.value;
}

function badRequest(message: string) {
  return new HTTPException(400, {
    res: new Response(JSON.stringify({ error: 'bad_request', message }), {
      status: 400,
      headers: { 'content-type': 'application/json' },
    }),
  });
}
