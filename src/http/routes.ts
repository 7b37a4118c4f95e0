/**
 * Route handlers. Each builds its clients from env once (src/deps.ts) after auth has passed.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Db } from '../db/client';
import { fromEnv } from '../deps';
import { type Alarm, alarmsAt } from '../run/alarms';
import type { Job } from '../run/job';
import { listPauses, type Pause, pauseAlarms, pauseJob, resumeJob } from '../run/pauses';
import { findJob, JOBS } from '../jobs';
import { runJob } from '../run/runner';
import { logEvent, publicMessage } from '../log';
import type { AppEnv } from './app';
import { jobListing } from './listing';
import { checkPauseRequest, type PauseRequest } from './pause-input';

const TRUE_VALUES = new Set(['1', 'true']);
const FALSE_VALUES = new Set(['0', 'false']);

/**
 * POST /api/internal/jobs/:job/requeue — makes the job's parked rows due again (once what made
 * them fail is fixed), with a fresh count of attempts; the next run picks them up. One request.
 */
export async function requeueRoute(c: Context<AppEnv>) {
  const job = findJob(c.req.param('job') ?? '');
  if (!job) return unknownJob(c);
  if (!job.requeue) {
    const jobs = JOBS.filter((j) => j.requeue).map((j) => j.name);
    return c.json({ error: 'nothing_to_requeue', message: 'This job parks nothing.', jobs }, 400);
  }
  const requeued = await requeueParked(fromEnv(c.env).db, job, job.requeue);
  return c.json({ job: job.name, requeued });
}

/** Makes `job`'s parked rows due again (its `requeue` statement) and logs how many. One request. */
export async function requeueParked(db: Db, job: Job, requeue: SQL): Promise<number> {
  const result = await db.execute(sql`WITH requeued AS (${requeue}) SELECT count(*)::int AS n FROM requeued`);
  const requeued = Number(result.rows[0]?.n ?? 0);
  logEvent('info', 'requeued', { job: job.name, requeued });
  return requeued;
}

/**
 * POST /api/internal/jobs/:job/pause `{ "reason", "by"? }` — pauses the job (src/run/pauses.ts):
 * its runs are skipped until it is resumed. One request.
 */
export async function pauseRoute(c: Context<AppEnv>) {
  const job = findJob(c.req.param('job') ?? '');
  if (!job) return unknownJob(c);
  const p = parsePauseBody(await c.req.text());
  const pause = await pauseLogged(fromEnv(c.env).db, job, p, new Date());
  return c.json({ pause });
}

/** POST /api/internal/jobs/:job/resume — lifts the job's pause; `resumed: false` when it had none. One request. */
export async function resumeRoute(c: Context<AppEnv>) {
  const job = findJob(c.req.param('job') ?? '');
  if (!job) return unknownJob(c);
  const resumed = await resumeLogged(fromEnv(c.env).db, job);
  return c.json({ resumed });
}

/** Pauses `job` (a checked request) and logs `job_paused`, for the route and the status page. One request. */
export async function pauseLogged(db: Db, job: Job, p: PauseRequest, now: Date): Promise<Pause> {
  const pause = await pauseJob(db, job.name, p.by === undefined ? { reason: p.reason } : { reason: p.reason, by: p.by }, now);
  logEvent('info', 'job_paused', { ...pause });
  return pause;
}

/** Lifts `job`'s pause and logs `job_resumed`, for the route and the status page. One request. */
export async function resumeLogged(db: Db, job: Job): Promise<boolean> {
  const resumed = await resumeJob(db, job.name);
  logEvent('info', 'job_resumed', { job: job.name, resumed });
  return resumed;
}

/** GET|POST /api/internal/jobs/:job[?dryRun=1] — runs the job now. */
export async function runJobRoute(c: Context<AppEnv>) {
  const job = findJob(c.req.param('job') ?? '');
  if (!job) return unknownJob(c);
  const { dryRun, target } = parseRunQuery(c.req.queries(), job.target?.param);
  const deps = fromEnv(c.env);
  const report = await runJob(job, deps, deps.config, {
    trigger: 'http',
    now: new Date(),
    dryRun,
    ...(target === undefined ? {} : { target }),
  });
  return c.json(report, report.status === 'failed' ? 500 : 200);
}

/** GET /api/internal/jobs — every job's cron, next run, last run and backlog, and the alarms standing. */
export async function listJobsRoute(c: Context<AppEnv>) {
  return c.json(await jobListing(fromEnv(c.env), new Date()));
}

/** 404 for a job name the registry does not know, listing the ones it does. */
function unknownJob(c: Context<AppEnv>) {
  return c.json({ error: 'unknown_job', message: 'No such job.', jobs: JOBS.map((j) => j.name) }, 404);
}

/**
 * GET /api/internal/health — Postgres and Redis answer, and no alarm stands (data overdue for
 * deletion, blob deletions parked, a job paused too long). 503 otherwise, so an uptime monitor
 * pages someone. `paused` lists the pauses standing (a paused job alone is not unhealthy).
 */
export async function healthRoute(c: Context<AppEnv>) {
  const deps = fromEnv(c.env);
  let alarms: Alarm[] = [];
  let paused: Pause[] = [];
  const [postgres, redis] = await Promise.all([
    probe(async () => {
      const now = new Date();
      const [standing, pauses] = await Promise.all([alarmsAt(deps.db, JOBS, { config: deps.config, now }), listPauses(deps.db)]);
      paused = pauses;
      alarms = [...standing, ...pauseAlarms(pauses, deps.config, now)];
    }),
    probe(() => deps.redis.ping()),
  ]);
  const ok = postgres.ok && redis.ok && alarms.length === 0;
  return c.json({ ok, postgres, redis, alarms, paused }, ok ? 200 : 503);
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

/**
 * The run route's query: `dryRun` only. Anything else is refused rather than ignored: a caller who
 * typed `?dryrun=1` or `?dry_run=1` meant a dry run, and must get a 400, never a real deletion.
 * A bare `?dryRun` is a dry run too.
 */
function parseRunQuery(query: Record<string, string[]>, targetParam?: string): { dryRun: boolean; target?: string } {
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
