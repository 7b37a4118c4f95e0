/**
 * What an operator sees, end to end, with the real Worker under `wrangler dev` (local queue
 * included) against its own database and endpoints: cron deliveries, the jobs listing, the JSON
 * log lines, heartbeat pings to a real HTTP receiver, the health route, the deadline alarm, and a
 * backlog larger than one run drained by one cron delivery through queued continuations.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from '@upstash/redis';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { LocalWorker } from '../../scripts/stack/worker.ts';
import { heartbeatVariable } from '../../src/config/parse.ts';
import { parseConfig, VAR_DEFAULTS } from '../../src/settings.ts';
import { ACTIVE_STREAMS_KEY } from '../../src/redis/streams.ts';
import { isEnabled } from '../../src/run/job.ts';
import { JOBS, SWEEPS } from '../../src/jobs/index.ts';
import { CRONS } from '../support/crons.ts';
import type { TestBindings } from '../support/control-server.ts';
import { waitingForItsRun } from '../support/instants.ts';
import { setNodeFault, startWorkerOnNewEnv } from '../support/node-env.ts';

const SECRET = 'operator-test-secret-0123456789';
const JOB_NAMES = JOBS.map((j) => j.name);
/**
 * The jobs that run here: account events (an optional job) are not configured in this file, and a
 * job the test layout's map has nothing for is off (test/support/node-map.ts gives src/ that map).
 */
const CONFIG = parseConfig({
  ...VAR_DEFAULTS,
  DATABASE_URL: 'postgres://x/y',
  UPSTASH_REDIS_REST_URL: 'https://r',
  UPSTASH_REDIS_REST_TOKEN: 't',
  BLOB_STORE: 'r2',
});
const RUN_NAMES: string[] = JOBS.filter((j) => isEnabled(j, CONFIG)).map((j) => j.name);
const SWEEPS_RUN = SWEEPS.filter((j) => isEnabled(j, CONFIG));
const cronRuns = (expr: string) => (CRONS[expr] ?? []).filter((name) => RUN_NAMES.includes(name));

interface Ping {
  job: string;
  kind: 'start' | 'success' | 'fail';
  rid: string;
  body: string;
}

let env: TestBindings;
let db: pg.Client;
let worker: LocalWorker;
let receiver: Server;
const pings: Ping[] = [];

const api = async (path: string) => {
  const res = await fetch(`${worker.url}${path}`, { headers: { authorization: `Bearer ${SECRET}` } });
  return { status: res.status, body: (await res.json()) as any };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 40_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/** Runs rows for a job, oldest first. */
async function runsOf(job: string) {
  const { rows } = await db.query(
    `SELECT id, trigger, status, more, counts, continues, error FROM spacerr_jobs.job_runs WHERE job = $1 ORDER BY started_at, id`,
    [job],
  );
  return rows;
}

async function cron(expr: string) {
  const res = await worker.triggerCron(expr);
  await res.text();
  return res.status;
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const [, , job = '', suffix] = url.pathname.split('/');
      pings.push({
        job,
        kind: suffix === 'start' ? 'start' : suffix === 'fail' ? 'fail' : 'success',
        rid: url.searchParams.get('rid') ?? '',
        body,
      });
      res.end('OK');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const hb = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hb`;

  const heartbeats = Object.fromEntries(JOB_NAMES.map((j) => [heartbeatVariable(j), `${hb}/${j}`]));
  ({ env, db, worker } = await startWorkerOnNewEnv(SECRET, {
    // Small, so a backlog of 60 chats takes several runs: 30 - lock - finish - 2 pings - 1 kept
    // for the continuation = 25 batches of 1 chat per run. (The */10 cron's three jobs get 10
    // each: enough for one batch of each after their own requests.)
    DELETE_BATCH_SIZE: '1',
    EMPTY_CHAT_BATCH_SIZE: '1',
    BATCH_TARGET_MS: '0',
    RUN_SUBREQUEST_BUDGET: '30',
    // Longer than the 10-minute cron's interval: a run this file fails on purpose is left to its
    // next cron, so no recovery lands in a later test (recovery has its own file).
    RECOVERY_DELAY_SECONDS: '720',
    // The app of this file writes heartbeats (beforeEach), the layout whose tick it watches.
    STREAM_STATE: 'heartbeats',
    ...heartbeats,
  }));
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await new Promise((r) => receiver?.close(r));
});

beforeEach(async () => {
  await setNodeFault(env, 'neon', 'none');
  await db.query('DELETE FROM users; DELETE FROM spacerr_jobs.job_runs; DELETE FROM spacerr_jobs.blob_deletions');
  // A user is chatting, so the frequent cron's tick runs its sweeps (src/chain/tick.ts).
  await new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN }).zadd(ACTIVE_STREAMS_KEY, {
    score: Date.now(),
    member: 'operator-live-chat',
  });
  pings.length = 0;
});

describe('an operator', () => {
  it('sees every cron delivery as runs in the listing, in the logs and as heartbeats', async () => {
    // The sweeps' cron first; then the deleting crons, each followed by the sweeps through the queue
    // (waited for, so that two chains of sweeps never meet at a lock).
    const isSweep = (name: string) => SWEEPS_RUN.some((j) => j.name === name);
    const sweepCron = (expr: string) => cronRuns(expr).every(isSweep);
    const order = [...Object.keys(CRONS).filter(sweepCron), ...Object.keys(CRONS).filter((expr) => !sweepCron(expr))];
    const last = SWEEPS_RUN.at(-1)?.name ?? '';
    const scheduled: Record<string, string> = {};
    let deleting = 0;
    for (const expr of order) {
      expect(await cron(expr)).toBe(200);
      for (const name of cronRuns(expr)) {
        const { body } = await api('/api/internal/jobs');
        const job = body.jobs.find((j: { name: string }) => j.name === name);
        expect(job).toMatchObject({ cron: expr, lastRun: { status: 'succeeded', trigger: 'scheduled', more: false } });
        expect(Date.parse(job.nextRunAt)).toBeGreaterThan(Date.parse(body.now));
        expect(job.lastRun.durationMs).toBeGreaterThanOrEqual(0);
        expect(Object.keys(job.backlog).length).toBeGreaterThan(0);
        scheduled[name] = job.lastRun.id;
        if (!isSweep(name)) deleting++;
      }
      await until(`the sweeps after ${expr}`, async () => {
        const runs = (await runsOf(last)).filter((r) => r.trigger === 'queue' && r.status === 'succeeded');
        return runs.length === deleting ? runs : undefined;
      });
    }
    for (const name of RUN_NAMES) {
      const runs = await runsOf(name);
      expect(runs.filter((r) => r.status !== 'succeeded')).toEqual([]);
      expect(runs.map((r) => r.trigger).sort()).toEqual(['scheduled', ...(isSweep(name) ? Array(deleting).fill('queue') : [])].sort());
      for (const run of runs) {
        // One JSON log line per run, with its run id; start and success pings, paired by it.
        await until(`log line of ${name}`, async () =>
          worker.events().find((e) => e.event === 'job_run' && e.runId === run.id) ? true : undefined,
        );
        expect(pings.filter((p) => p.rid === run.id).map((p) => [p.job, p.kind])).toEqual([
          [name, 'start'],
          [name, 'success'],
        ]);
      }
      expect(runs.map((r) => r.id)).toContain(scheduled[name]);
    }
    const { body } = await api('/api/internal/jobs');
    expect(body.ok).toBe(true);
    expect(body.jobs.map((j: { name: string }) => j.name)).toEqual(JOB_NAMES);
  });

  it('is told about a failing dependency by failed heartbeats and a 503 health route', async () => {
    expect((await api('/api/internal/health')).status).toBe(200);
    await setNodeFault(env, 'neon', 'http500');

    expect(await cron('*/10 * * * *')).toBe(500); // the invocation fails, so the dashboard shows it
    const failed = pings.filter((p) => p.kind === 'fail');
    expect(failed.map((p) => p.job).sort()).toEqual(cronRuns('*/10 * * * *').slice().sort());
    for (const p of failed) expect(p.body).toMatch(/injected fault: http500/);
    expect(pings.filter((p) => p.kind !== 'fail')).toEqual([]);

    const health = await api('/api/internal/health');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ ok: false, postgres: { ok: false }, redis: { ok: true } });
    expect(JSON.stringify(health.body)).not.toContain(env.DATABASE_URL);

    await setNodeFault(env, 'neon', 'none');
    expect((await api('/api/internal/health')).status).toBe(200);
  });

  it('gets a deadline alarm when an account outlives its scheduled deletion', async () => {
    // Eligible but still waiting for its monthly run: backlog, not an alarm. This Worker runs on
    // the real clock, so the time comes from the schedule (a day past the window is overdue from
    // 06:00 on the 1st): test/support/instants.ts.
    const config = parseConfig({ ...VAR_DEFAULTS, ...env } as Record<string, string>);
    await db.query(`INSERT INTO users (id, email, created_at, deactivated_at) VALUES ('waiting', 'w@x', now(), $1)`, [
      waitingForItsRun(new Date(), config),
    ]);
    const waiting = await api('/api/internal/health');
    expect(waiting).toMatchObject({ status: 200, body: { ok: true, alarms: [] } });

    // Deactivated long before the last scheduled run, and held by the app so the run cannot take it.
    await db.query(`INSERT INTO users (id, email, created_at, deactivated_at) VALUES ('late', 'l@x', now(), now() - interval '400 days')`);
    const app = new pg.Client({ connectionString: env.DATABASE_URL });
    await app.connect();
    try {
      await app.query(`BEGIN; SELECT 1 FROM users WHERE id = 'late' FOR UPDATE`);
      const health = await api('/api/internal/health');
      expect(health.status).toBe(503);
      expect(health.body.alarms).toEqual([
        expect.objectContaining({ code: 'accounts_overdue', job: 'delete-stale-deactivated-accounts', count: 1 }),
      ]);

      const run = await api('/api/internal/jobs/delete-stale-deactivated-accounts');
      expect(run.body).toMatchObject({ status: 'succeeded', more: false, counts: { users: 1 } }); // "waiting" went
      expect(run.body.alarms).toEqual([expect.objectContaining({ code: 'accounts_overdue', count: 1 })]);
      expect(pings.map((p) => p.kind)).toEqual(['start', 'fail']);
      expect(pings[1]?.body).toMatch(/1 account\(s\) deactivated more than 30 days before a scheduled run still exist/);
    } finally {
      await app.query('ROLLBACK');
      await app.end();
    }
    const after = await api('/api/internal/jobs/delete-stale-deactivated-accounts');
    expect(after.body).toMatchObject({ status: 'succeeded', counts: { users: 1 } });
    expect(after.body.alarms).toBeUndefined();
    expect(pings.slice(2).map((p) => p.kind)).toEqual(['start', 'success']);
    expect((await api('/api/internal/health')).status).toBe(200);
  });

  it('drains a backlog larger than one run from a single cron delivery, run after run through the queue', async () => {
    await db.query(`INSERT INTO users (id, email, created_at) VALUES ('u', 'u@x', now())`);
    await db.query(
      `INSERT INTO chats (id, user_id, title, created_at)
       SELECT 'c' || g, 'u', 'empty', now() - interval '1 day' FROM generate_series(1, 60) g`,
    );
    expect(await cron('0 */12 * * *')).toBe(200);

    const runs = await until('the chain to finish', async () => {
      const rows = await runsOf('delete-stale-empty-chats');
      return rows.at(-1)?.more === false && rows.at(-1)?.status === 'succeeded' ? rows : undefined;
    });
    const { rows: left } = await db.query('SELECT count(*)::int AS n FROM chats');
    expect(left[0].n).toBe(0);
    // 60 chats at 25 a run (24 for the scheduled one: its delivery's slot check spent one request of
    // the invocation): the scheduled run and two continuations, each continuing the one before.
    expect(runs.map((r) => [r.trigger, r.status, r.counts.chats])).toEqual([
      ['scheduled', 'succeeded', 24],
      ['queue', 'succeeded', 25],
      ['queue', 'succeeded', 11],
    ]);
    runs.slice(1).forEach((r, i) => expect(r.continues).toBe(runs[i].id));
    const sent = worker.events().filter((e) => e.event === 'continuation_sent' && e.job === 'delete-stale-empty-chats');
    expect(sent.map((e) => e.continues)).toEqual(runs.slice(0, 2).map((r) => r.id));
  });
});
