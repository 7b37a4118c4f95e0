/**
 * For Node-side tests that drive the real Worker under `wrangler dev`: a database, Redis database
 * and endpoint pair of their own from the control server, its faults, and the settings that point
 * a Worker at it.
 */
import pg from 'pg';
import { inject } from 'vitest';
import { type LocalWorker, startLocalWorker } from '../../scripts/stack/worker.ts';
import type { Layout } from '../../scripts/stack/migrate.ts';
import type { TestBindings } from './control-server.ts';

function control<T>(path: string, body?: unknown): Promise<T> {
  return fetch(`${inject('stack').controlUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).then((r) => r.json() as Promise<T>);
}

/** A fresh migrated database (of the test layout, or of `layout`), Redis database and endpoint pair. */
export const provisionNodeEnv = (layout?: Layout) => control<TestBindings>('/env', layout ? { layout } : undefined);

/** Breaks (or heals) that env's Neon or Upstash endpoint for real; Neon faults take a schedule. */
export const setNodeFault = (
  env: TestBindings,
  service: 'neon' | 'upstash',
  fault: string,
  schedule?: { afterRequests?: number; count?: number },
) => control(`/env/${env.id}/fault`, { service, fault, ...schedule });

/** The Worker settings that point it at `env` (the rest comes from wrangler.toml [vars]). */
export function workerVars(env: TestBindings): Record<string, string> {
  return {
    DATABASE_URL: env.DATABASE_URL,
    NEON_HTTP_ENDPOINT: env.NEON_HTTP_ENDPOINT,
    UPSTASH_REDIS_REST_URL: env.UPSTASH_REDIS_REST_URL,
    UPSTASH_REDIS_REST_TOKEN: env.UPSTASH_REDIS_REST_TOKEN,
    // The node tests check files in wrangler dev's local R2; the env's Vercel Blob API is there too.
    BLOB_STORE: 'r2',
    BLOB_READ_WRITE_TOKEN: env.BLOB_READ_WRITE_TOKEN,
    VERCEL_BLOB_API_URL: env.VERCEL_BLOB_API_URL,
  };
}

/**
 * The real Worker under `wrangler dev` on an env of its own, with `secret` as CRON_SECRET and
 * `vars` over wrangler.toml's, and a Postgres client on that env's database to seed and inspect.
 */
export async function startWorkerOnNewEnv(
  secret: string,
  vars: Record<string, string>,
): Promise<{ env: TestBindings; db: pg.Client; worker: LocalWorker }> {
  const env = await provisionNodeEnv();
  const db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
  try {
    const worker = await startLocalWorker({ vars: { ...workerVars(env), CRON_SECRET: secret, ...vars } });
    return { env, db, worker };
  } catch (err) {
    await db.end();
    throw err;
  }
}

/** Polls `check` every 200 ms until it returns a value: waits for a state, never for a moment. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
