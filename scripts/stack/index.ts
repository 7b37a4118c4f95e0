/**
 * The local stack: real Postgres and real Redis (embedded/spawned unless DATABASE_URL/REDIS_URL
 * are given), the loopback endpoints that speak the hosted services' protocols — Neon's
 * HTTP SQL and Upstash's REST — in front of them, a local Vercel Blob API and Stripe's customers
 * API (both in memory). Shared by `npm run dev` and the test setup.
 */
import { randomBytes } from 'node:crypto';
import { type NeonHttpServer, startNeonHttp } from './neon-http.ts';
import { startEmbeddedPostgres } from './postgres.ts';
import { startRedisServer } from './redis.ts';
import { startStripe, type StripeServer } from './stripe.ts';
import { startUpstashRest, type UpstashRestServer } from './upstash-rest.ts';
import { startVercelBlob, type VercelBlobServer } from './vercel-blob.ts';

export interface Stack {
  /** Connection string with rights to create databases. */
  postgresUrl: string;
  redisUrl: string;
  /** Where the embedded cluster keeps its data; undefined when DATABASE_URL names a Postgres. */
  postgresDataDir?: string;
  neon: NeonHttpServer;
  upstash: UpstashRestServer;
  /** A token for Redis logical database 0 on the Upstash endpoint. */
  upstashToken: string;
  blob: VercelBlobServer;
  /** A read-write token of a store on the local Vercel Blob API. */
  blobToken: string;
  /** Stripe's customers API, with its secret key (`npm run dev` writes both into .dev.vars). */
  stripe: StripeServer;
  /** Stops what this stack started, in reverse order. */
  stop(): Promise<void>;
}

/**
 * The Worker settings that point it at the stack with `databaseUrl`: Neon's and Upstash's local
 * endpoints, and the local Vercel Blob store under the names `@vercel/blob` itself reads.
 */
export function stackVars(stack: Stack, databaseUrl: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    NEON_HTTP_ENDPOINT: stack.neon.url,
    UPSTASH_REDIS_REST_URL: stack.upstash.url,
    UPSTASH_REDIS_REST_TOKEN: stack.upstashToken,
    BLOB_READ_WRITE_TOKEN: stack.blobToken,
    VERCEL_BLOB_API_URL: stack.blob.url,
  };
}

export async function startStack(opts: { dataDir: string; quiet?: boolean; persistent?: boolean; rttMs?: number }): Promise<Stack> {
  const stops: Array<() => Promise<void>> = [];
  const log = opts.quiet ? undefined : (line: string) => process.stderr.write(line);
  try {
    let postgresUrl = process.env.DATABASE_URL;
    let postgresDataDir: string | undefined;
    if (!postgresUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: `${opts.dataDir}/pg`, persistent: opts.persistent, log });
      stops.push(pg.stop);
      postgresUrl = pg.adminUrl;
      postgresDataDir = pg.dataDir;
    }
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const redis = await startRedisServer();
      stops.push(redis.stop);
      redisUrl = redis.url;
    }
    const neon = await startNeonHttp({ rttMs: opts.rttMs });
    stops.push(neon.close);
    const upstash = await startUpstashRest({ redisUrl, rttMs: opts.rttMs });
    stops.push(upstash.close);
    const upstashToken = randomBytes(16).toString('hex');
    upstash.addToken(upstashToken, 0);
    const blob = await startVercelBlob();
    stops.push(blob.close);
    const blobToken = blob.newStore();
    const stripe = await startStripe();
    stops.push(stripe.close);
    return { postgresUrl, postgresDataDir, redisUrl, neon, upstash, upstashToken, blob, blobToken, stripe, stop: () => stopAll(stops) };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

async function stopAll(stops: Array<() => Promise<void>>) {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
