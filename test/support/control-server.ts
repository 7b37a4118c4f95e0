/**
 * A loopback control server for tests running inside workerd, which cannot start processes or
 * open raw Postgres connections themselves. Everything it hands out is real:
 *   POST   /env               a fresh database (from the migrated template), a Redis logical
 *                             database behind its own token, and a dedicated pair of Neon/Upstash
 *                             endpoints → the bindings a Worker needs
 *   POST   /env/:id/fault     {service: 'neon'|'upstash'|'blob', fault, afterRequests?, count?} break that
 *                             file's endpoint for real (neon: after N requests, for K requests);
 *                             neon faults: http500, hang, reset, connection-lost (400 "connection
 *                             closed" as Neon answers a compute lost mid-query), commit-then-drop
 *                             (the request commits, then its reply is lost); blob faults (a local
 *                             Vercel Blob API per env, scripts/stack/vercel-blob.ts): http500,
 *                             rate-limited, suspended, reset, done-then-drop
 *                             ({dedicatedRedis: true}: behind a redis-server of its own, whose
 *                             INFO commandstats then gives the Upstash commands billed)
 *   GET    /env/:id/stats     requests each endpoint received (to check the subrequest count), and
 *                             with a dedicated Redis the commands Upstash would bill
 *   POST   /results           {name, data} writes bench/results/<name>.json (simulated days)
 *   POST   /sessions          {databaseUrl} a dedicated pg connection (to hold a transaction open)
 *   POST   /sessions/:id      {sql, params} run one statement on it
 *   DELETE /sessions/:id      close it
 *   POST   /receivers         {secret} a Standard Webhooks receiver (test/support/webhook-receiver.ts)
 *   POST   /receivers/:id/mode {mode: 'ok'|'http503'|'reset'} how it answers from now on
 *   GET    /receivers/:id     the attempts it received, verified or not, in order
 *   POST   /pings/<check>/…   a heartbeat ping (Healthchecks-style: `/start`, ``, `/fail`), answered 200
 *   GET    /pings/<check>     the pings that check received, with their bodies, in order
 *   POST   /stripe            a Stripe endpoint of its own (scripts/stack/stripe.ts) → {id, url, key}
 *   POST   /stripe/:id/fault  {fault, afterRequests?, count?} a fault at a known request
 *   GET    /stripe/:id        {requests, log, customers: {live, deleted}}
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import pg from 'pg';
import { format } from 'prettier';
import { createDatabase } from '../../scripts/stack/migrate.ts';
import { type ReceiverMode, startWebhookReceiver, type WebhookReceiver } from './webhook-receiver.ts';
import { type RunningRedis, startRedisServer } from '../../scripts/stack/redis.ts';
import { NEON_FAULTS, type NeonHttpFault, type NeonHttpServer, startNeonHttp } from '../../scripts/stack/neon-http.ts';
import { startUpstashRest, type UpstashRestFault, type UpstashRestServer } from '../../scripts/stack/upstash-rest.ts';
import { startVercelBlob, VERCEL_BLOB_FAULTS, type VercelBlobFault, type VercelBlobServer } from '../../scripts/stack/vercel-blob.ts';
import { STRIPE_FAULTS, type StripeFault, type StripeServer, startStripe } from '../../scripts/stack/stripe.ts';

export interface TestBindings {
  id: string;
  DATABASE_URL: string;
  NEON_HTTP_ENDPOINT: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
  BLOB_READ_WRITE_TOKEN: string;
  VERCEL_BLOB_API_URL: string;
}

interface FileEnv {
  neon: NeonHttpServer;
  upstash: UpstashRestServer;
  blob: VercelBlobServer;
  redis?: RunningRedis;
}

// Connection housekeeping of the endpoint's own client (ioredis), which Upstash does not bill.
const UNBILLED = new Set(['info', 'select', 'client', 'hello', 'auth', 'config', 'command']);

/**
 * Commands Upstash would bill so far: every command Redis executed, scripts' inner calls included
 * (Redis counts a `redis.call` in commandstats as that command: an EVAL with two calls counts 3).
 */
async function billedCommands(redisUrl: string): Promise<number> {
  const client = new Redis(redisUrl, { enableReadyCheck: false, lazyConnect: true });
  try {
    await client.connect();
    const info = await client.info('commandstats');
    let billed = 0;
    for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (!UNBILLED.has(m[1]?.split('|')[0] ?? '')) billed += Number(m[2]);
    }
    return billed;
  } finally {
    client.disconnect();
  }
}

export async function startControlServer(opts: {
  postgresUrl: string;
  redisUrl: string;
  /** The test layout's template (APP_LAYOUT), and one template per shipped layout. */
  template: string;
  layoutTemplates?: Record<string, string>;
}) {
  const envs = new Map<string, FileEnv>();
  const sessions = new Map<string, pg.Client>();
  const receivers = new Map<string, WebhookReceiver>();
  /** Heartbeat pings received under /pings/<check>/…: a Healthchecks-style endpoint that answers 200. */
  const pings: Array<{ path: string; body: string }> = [];
  const stripes = new Map<string, StripeServer>();
  let nextRedisDb = 1;
  let nextDb = 0;

  const routes: Array<[string, RegExp, (m: RegExpMatchArray, body: any) => Promise<unknown>]> = [
    [
      'POST',
      /^\/env$/,
      async (_m, body: { dedicatedRedis?: boolean; layout?: string }) => {
        const id = `t${process.pid}_${nextDb++}`;
        const template = body.layout ? opts.layoutTemplates?.[body.layout] : opts.template;
        if (!template) throw new Error(`no template for layout ${body.layout}`);
        const databaseUrl = await createDatabase(opts.postgresUrl, `test_${id}`, template);
        const neon = await startNeonHttp();
        const redis = body.dedicatedRedis ? await startRedisServer() : undefined;
        const upstash = await startUpstashRest({ redisUrl: redis?.url ?? opts.redisUrl });
        const blob = await startVercelBlob();
        const blobToken = blob.newStore();
        const token = randomBytes(12).toString('hex');
        const db = redis ? 0 : nextRedisDb++;
        upstash.addToken(token, db);
        envs.set(id, { neon, upstash, blob, ...(redis ? { redis } : {}) });
        const bindings: TestBindings = {
          id,
          DATABASE_URL: databaseUrl,
          NEON_HTTP_ENDPOINT: neon.url,
          UPSTASH_REDIS_REST_URL: upstash.url,
          UPSTASH_REDIS_REST_TOKEN: token,
          BLOB_READ_WRITE_TOKEN: blobToken,
          VERCEL_BLOB_API_URL: blob.url,
        };
        return bindings;
      },
    ],
    [
      'POST',
      /^\/env\/([^/]+)\/fault$/,
      async (m, body: { service: 'neon' | 'upstash' | 'blob'; fault: string; afterRequests?: number; count?: number }) => {
        const env = mustGet(envs, m[1]);
        const schedule =
          body.afterRequests !== undefined || body.count !== undefined
            ? { afterRequests: body.afterRequests, count: body.count }
            : undefined;
        if (body.service === 'neon') {
          if (!NEON_FAULTS.includes(body.fault as NeonHttpFault)) throw new Error(`unknown neon fault ${body.fault}`);
          env.neon.setFault(body.fault as NeonHttpFault, schedule);
        } else if (body.service === 'blob') {
          if (!VERCEL_BLOB_FAULTS.includes(body.fault as VercelBlobFault)) throw new Error(`unknown blob fault ${body.fault}`);
          env.blob.setFault(body.fault as VercelBlobFault, schedule);
        } else env.upstash.setFault(body.fault as UpstashRestFault);
        return { ok: true };
      },
    ],
    [
      'GET',
      /^\/env\/([^/]+)\/stats$/,
      async (m) => {
        const env = mustGet(envs, m[1]);
        return {
          neonRequests: env.neon.requests,
          upstashRequests: env.upstash.requests,
          blobRequests: env.blob.requests,
          ...(env.redis ? { upstashBilled: await billedCommands(env.redis.url) } : {}),
        };
      },
    ],
    [
      'POST',
      /^\/results$/,
      async (_m, body: { name: string; data: unknown }) => {
        if (!/^[a-z0-9-]+$/.test(body.name)) throw new Error(`bad result name ${body.name}`);
        // Formatted as `npm run lint` (Prettier) wants it.
        await writeFile(`bench/results/${body.name}.json`, await format(JSON.stringify(body.data), { parser: 'json' }));
        return { ok: true };
      },
    ],
    [
      'POST',
      /^\/sessions$/,
      async (_m, body: { databaseUrl: string }) => {
        const client = new pg.Client({ connectionString: body.databaseUrl });
        await client.connect();
        const id = randomBytes(8).toString('hex');
        sessions.set(id, client);
        return { id };
      },
    ],
    [
      'POST',
      /^\/sessions\/([^/]+)$/,
      async (m, body: { sql: string; params?: unknown[] }) => {
        const result = await mustGet(sessions, m[1]).query(body.sql, body.params ?? []);
        return { rows: result.rows, rowCount: result.rowCount };
      },
    ],
    [
      'DELETE',
      /^\/sessions\/([^/]+)$/,
      async (m) => {
        const client = mustGet(sessions, m[1]);
        sessions.delete(m[1] ?? '');
        await client.end();
        return { ok: true };
      },
    ],
    [
      'POST',
      /^\/receivers$/,
      async (_m, body: { secret: string }) => {
        const receiver = await startWebhookReceiver(body.secret);
        const id = randomBytes(8).toString('hex');
        receivers.set(id, receiver);
        return { id, url: receiver.url };
      },
    ],
    [
      'POST',
      /^\/receivers\/([^/]+)\/mode$/,
      async (m, body: { mode: ReceiverMode }) => {
        mustGet(receivers, m[1]).setMode(body.mode);
        return { ok: true };
      },
    ],
    ['GET', /^\/receivers\/([^/]+)$/, async (m) => ({ attempts: mustGet(receivers, m[1]).attempts })],
    [
      'POST',
      /^\/stripe$/,
      async () => {
        const stripe = await startStripe();
        const id = randomBytes(8).toString('hex');
        stripes.set(id, stripe);
        return { id, url: stripe.url, key: stripe.key };
      },
    ],
    [
      'POST',
      /^\/stripe\/([^/]+)\/fault$/,
      async (m, body: { fault: string; afterRequests?: number; count?: number }) => {
        if (!STRIPE_FAULTS.includes(body.fault as StripeFault)) throw new Error(`unknown stripe fault ${body.fault}`);
        mustGet(stripes, m[1]).setFault(body.fault as StripeFault, { afterRequests: body.afterRequests, count: body.count });
        return { ok: true };
      },
    ],
    [
      'GET',
      /^\/stripe\/([^/]+)$/,
      async (m) => {
        const stripe = mustGet(stripes, m[1]);
        return { requests: stripe.requests, log: stripe.log, customers: stripe.customers() };
      },
    ],
  ];

  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path.startsWith('/pings/')) {
      if (req.method === 'GET') {
        const received = pings.filter((p) => p.path.startsWith(`${path}/`) || p.path === path);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ pings: received }));
        return;
      }
      let body = '';
      for await (const chunk of req) body += chunk;
      pings.push({ path, body });
      res.writeHead(200).end();
      return;
    }
    for (const [method, pattern, handler] of routes) {
      const m = path.match(pattern);
      if (!m || req.method !== method) continue;
      try {
        const result = await handler(m, await readJson(req));
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(result));
      } catch (err) {
        const e = err as { message?: string; code?: string };
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: e.message, code: e.code }));
      }
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      for (const c of sessions.values()) await c.end().catch(() => {});
      for (const r of receivers.values()) await r.close();
      for (const st of stripes.values()) await st.close();
      for (const e of envs.values()) {
        await Promise.all([e.neon.close(), e.upstash.close(), e.blob.close()]);
        await e.redis?.stop();
      }
    },
  };
}

function mustGet<T>(map: Map<string, T>, key: string | undefined): T {
  const value = map.get(key ?? '');
  if (!value) throw new Error(`unknown id ${key}`);
  return value;
}

async function readJson(req: IncomingMessage): Promise<any> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body ? JSON.parse(body) : {};
}
