/**
 * Test helpers for code running inside workerd. Each test file asks the control server (Node
 * side, see test/support/control-server.ts) for its own database, Redis database and endpoints, so
 * files run in parallel without seeing each other's rows or keys. Everything behind it is real.
 */
import { env } from 'cloudflare:workers';
import { type SQL, sql } from 'drizzle-orm';
import { expect, inject, type MockInstance } from 'vitest';
import { createDb, type Db } from '../../src/db/client';
import { fromEnv } from '../../src/deps';
import { isEnabled } from '../../src/run/job';
import { findJob, JOBS } from '../../src/jobs';
import type { RunOptions, RunReport } from '../../src/run/report';
import { runJob } from '../../src/run/runner';
import { createRedis } from '../../src/redis/client';

export type TestEnv = Env & { id: string };

const control = () => inject('stack').controlUrl;

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${control()}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new Error(`control ${method} ${path}: ${json.error}`);
  return json;
}

/** A Standard Webhooks secret for the tests' account events (`whsec_` and 32 bytes). */
export const EVENTS_SECRET = `whsec_${btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, i) => (i * 29 + 7) % 256)))}`;

/** A real Standard Webhooks receiver on the Node side (test/support/webhook-receiver.ts) that verifies with `secret`: its URL. */
export async function receiverUrl(secret = EVENTS_SECRET): Promise<string> {
  return (await call<{ url: string }>('POST', '/receivers', { secret })).url;
}

/** A fresh database (migrated), Redis database and endpoint pair, merged into the Worker's env. */
export async function provisionEnv(
  overrides: Partial<Record<keyof Env, unknown>> = {},
  opts: { dedicatedRedis?: boolean } = {},
): Promise<TestEnv> {
  // A database of the layout whose map the Worker under test bundles (vitest.config.ts).
  const bindings = await call<Record<string, string>>('POST', '/env', { ...opts, layout: inject('layout') });
  return { ...env, ...bindings, ...overrides } as TestEnv;
}

/**
 * Breaks (or heals) this env's Neon or Upstash endpoint for real. Neon only: `afterRequests`
 * delays the fault by that many requests (between batches), `count` heals it after that many;
 * `connection-lost` answers as Neon does for a connection lost mid-query (400, empty code), and
 * `commit-then-drop` runs the request to its end (COMMIT included) and then drops the reply.
 */
/**
 * Batches of exactly `n` in every job (BATCH_TARGET_MS=0 turns the sizing by time off), for the
 * tests whose subject is where a run stops between batches, not how large its batches are.
 */
export function fixedBatches(n: number): Record<string, string> {
  return { DELETE_BATCH_SIZE: String(n), EMPTY_CHAT_BATCH_SIZE: String(n), BATCH_TARGET_MS: '0' };
}

export function setFault(
  e: TestEnv,
  service: 'neon' | 'upstash',
  fault: 'none' | 'http500' | 'hang' | 'reset' | 'connection-lost' | 'commit-then-drop',
  schedule?: { afterRequests?: number; count?: number },
) {
  return call('POST', `/env/${e.id}/fault`, { service, fault, ...schedule });
}

/**
 * Requests each endpoint of this env has received so far; with a dedicated Redis, also the
 * commands Upstash would bill (scripts' inner calls included).
 */
export function endpointStats(e: TestEnv) {
  return call<{ neonRequests: number; upstashRequests: number; blobRequests: number; upstashBilled?: number }>('GET', `/env/${e.id}/stats`);
}

/**
 * Breaks (or heals) this env's local Vercel Blob API at a known request: `afterRequests` more
 * requests are served first, then `count` are faulted (unset: until changed).
 */
export function setBlobFault(
  e: TestEnv,
  fault: 'none' | 'http500' | 'rate-limited' | 'suspended' | 'reset' | 'done-then-drop',
  schedule?: { afterRequests?: number; count?: number },
) {
  return call('POST', `/env/${e.id}/fault`, { service: 'blob', fault, ...schedule });
}

/**
 * A heartbeat check of its own on the control server (Healthchecks-style, answers 200): its URL
 * for HEARTBEAT_URL_<JOB>, and the pings it received (`/start`, ``, `/fail`, with their bodies).
 */
export function heartbeatCheck(name: string) {
  const url = `${control()}/pings/${name}-${crypto.randomUUID()}`;
  return {
    url,
    received: async () => (await call<{ pings: Array<{ path: string; body: string }> }>('GET', new URL(url).pathname)).pings,
  };
}

/** Writes a JSON result under bench/results/ (the Node side writes it; workerd has no file system). */
export function writeResult(name: string, data: unknown) {
  return call('POST', '/results', { name, data });
}

/** Drizzle on the Neon HTTP driver against this env's database, for seeding and checking. */
export function testDb(e: TestEnv): Db {
  return createDb(e.DATABASE_URL, e.NEON_HTTP_ENDPOINT);
}

export function testRedis(e: TestEnv) {
  return createRedis(e.UPSTASH_REDIS_REST_URL, e.UPSTASH_REDIS_REST_TOKEN);
}

/** Runs raw SQL and returns its rows. */
export async function q<T = Record<string, unknown>>(db: Db, query: SQL): Promise<T[]> {
  return (await db.execute(query)).rows as T[];
}

export { sql };

/** A dedicated Postgres connection (on the Node side) that can hold a transaction open. */
export class Session {
  private constructor(readonly id: string) {}

  static async open(e: TestEnv): Promise<Session> {
    const { id } = await call<{ id: string }>('POST', '/sessions', { databaseUrl: e.DATABASE_URL });
    return new Session(id);
  }

  async query<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
    return (await call<{ rows: T[] }>('POST', `/sessions/${this.id}`, { sql: text, params })).rows;
  }

  close() {
    return call('DELETE', `/sessions/${this.id}`);
  }
}

/**
 * The jobs this env runs: an optional job its settings leave nothing to do (account events
 * without ACCOUNT_EVENTS_URL), or one the layout's map has nothing for, is off.
 */
export function enabledJobs(e: TestEnv) {
  const config = fromEnv(e).config;
  return JOBS.filter((job) => isEnabled(job, config));
}

/** Runs one job the way the HTTP route does, against this env. */
export async function runNamed(e: TestEnv, name: string, opts: Partial<RunOptions> = {}): Promise<RunReport> {
  const job = findJob(name);
  if (!job) throw new Error(`no job ${name}`);
  const deps = fromEnv(e);
  return runJob(job, deps, { trigger: 'http', now: new Date(), dryRun: false, ...opts });
}

/** Row count of a table. */
export async function countRows(db: Db, table: string): Promise<number> {
  const [row] = await q<{ n: number }>(db, sql.raw(`SELECT count(*)::int AS n FROM ${qualified(table)}`));
  return row?.n ?? 0;
}

/** The Worker's tables live in its own schema; the app's in public. Nothing relies on a search_path. */
const WORKER_TABLES = new Set([
  'job_runs',
  'blob_deletions',
  'blob_sweeps',
  'stream_deletions',
  'message_source_checks',
  'empty_chats',
  'slow_accounts',
]);
function qualified(table: string): string {
  return WORKER_TABLES.has(table) ? `spacerr_jobs.${table}` : table;
}

/** The run is recorded failed with its error, and logged once at error level (`errors`: a spy on console.error). */
export async function expectRecordedFailure(e: TestEnv, errors: MockInstance, report: RunReport, error: RegExp) {
  expect(report).toMatchObject({ status: 'failed', error: expect.stringMatching(error) });
  const [row] = await q<{ status: string; error: string }>(
    testDb(e),
    sql`SELECT status, error FROM spacerr_jobs.job_runs WHERE id = ${report.runId}`,
  );
  expect(row).toEqual({ status: 'failed', error: report.error });
  const lines = errors.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);
  expect(lines.filter((l) => l.event === 'job_run' && l.runId === report.runId)).toEqual([
    expect.objectContaining({ status: 'failed', error: report.error }),
  ]);
}

/** The run's own row says how it ended; no run of the job still holds the lock. */
export async function expectRecordedAndUnlocked(e: TestEnv, runId: string, status: string) {
  expect(await q(testDb(e), sql`SELECT status FROM spacerr_jobs.job_runs WHERE id = ${runId}`)).toEqual([{ status }]);
  expect(await q(testDb(e), sql`SELECT id FROM spacerr_jobs.job_runs WHERE status = 'running'`)).toEqual([]);
}

/** Runs `job` until it reports no work left; every run must succeed. */
export async function drain(e: TestEnv, job: string, now: Date) {
  let report: RunReport;
  do report = await runNamed(e, job, { now });
  while (report.status === 'succeeded' && report.more);
  expect(report.status).toBe('succeeded');
}
