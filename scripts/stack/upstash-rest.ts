/**
 * A local stand-in for the Upstash Redis REST API, backed by a real `redis-server`, so a Worker can
 * use `new Redis({ url, token })` from `@upstash/redis` against local Redis. It speaks the protocol
 * exactly as `@upstash/redis` 1.39 sends and decodes it:
 * - `POST /` with `["CMD", ...args]` answers `{result}`; a Redis error answers 400 `{error}`.
 * - `POST /pipeline` and `POST /multi-exec` take `[[...], ...]` and answer 200 with one `{result}`
 *   or `{error}` per command (the client's auto-pipelining sends nearly every call via /pipeline).
 * - `Upstash-Encoding: base64` base64-encodes every string in a result except a top-level `OK`.
 * - Bad or missing `Authorization: Bearer <token>` answers 401; Redis unreachable answers 503.
 * - No time limit on a command: a long-running script is answered when it ends, as at Upstash.
 * Each token maps to a Redis logical database, so test files can share one server yet stay apart.
 *
 * Standalone: `node scripts/stack/upstash-rest.ts --redis redis://127.0.0.1:6379 --token t --port 4445`
 */
import { addLatency } from './latency.ts';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis, ReplyError } from 'ioredis';

/** Fault injection: `http500` answers 500 without touching Redis, `hang` holds requests until the
 * fault changes (they are then handled under the new fault) or the server closes, `reset` destroys
 * the socket. */
export type UpstashRestFault = 'none' | 'http500' | 'hang' | 'reset';

/** A running endpoint; see {@link startUpstashRest}. */
export interface UpstashRestServer {
  /** Base URL to pass as `url` to `@upstash/redis`, e.g. `http://127.0.0.1:4445`. */
  url: string;
  port: number;
  /** Accepts `token` as a bearer token; its commands run in Redis logical database `db` (default 0). */
  addToken(token: string, db?: number): void;
  setFault(fault: UpstashRestFault): void;
  /** HTTP requests received so far (tests compare it with the Worker's subrequest count). */
  readonly requests: number;
  /** Stops listening, destroys open (even hanging) connections and quits the Redis connections. */
  close(): Promise<void>;
}

/** A failure that belongs to one command (answered as `{error}`), not to the endpoint. */
class CommandError extends Error {}

class HttpError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

type Entry = { result: unknown } | { error: string };

const OK = Buffer.from('OK');
// Commands that would change the state of a connection shared by all requests for one database,
// or reach beyond that database. Transactions go through /multi-exec instead.
const DENIED = new Set([
  'SELECT',
  'SWAPDB',
  'MULTI',
  'EXEC',
  'DISCARD',
  'WATCH',
  'UNWATCH',
  'SUBSCRIBE',
  'PSUBSCRIBE',
  'SSUBSCRIBE',
  'UNSUBSCRIBE',
  'PUNSUBSCRIBE',
  'SUNSUBSCRIBE',
  'MONITOR',
  'CLIENT',
  'HELLO',
  'AUTH',
  'RESET',
  'QUIT',
  'SYNC',
  'PSYNC',
  'SHUTDOWN',
]);

/**
 * Starts the endpoint on 127.0.0.1 (`port` 0 or absent picks a free one). Redis connections are
 * opened lazily, one per logical database, so it starts even while Redis is down.
 */
export async function startUpstashRest(opts: { redisUrl: string; port?: number; rttMs?: number }): Promise<UpstashRestServer> {
  const tokens = new Map<string, number>();
  const conns = new Map<number, Promise<Redis>>();
  let fault: UpstashRestFault = 'none';
  let wake = () => {};
  let woken = new Promise<void>((r) => (wake = r));
  let closed = false;
  let requests = 0;

  function connFor(db: number): Promise<Redis> {
    let conn = conns.get(db);
    if (!conn) {
      const redis = new Redis(opts.redisUrl, {
        db,
        // RESP2 is what Upstash answers with (ZSCORE as a string, no RESP3 maps or doubles).
        protocol: 2,
        lazyConnect: true,
        // Fail fast while Redis is down rather than queue: a queued write would land later,
        // after the client was already told it failed.
        enableOfflineQueue: false,
        maxRetriesPerRequest: 0,
        // No commandTimeout: Upstash puts no time limit on a command; a long EVAL is answered when it
        // ends, as Redis runs it (the EVAL docs, upstash.com/docs/redis/commands/scripting/eval, only
        // say a script holds the database while it runs). A 2 s limit here answered a slow script 503.
        connectTimeout: 2_000,
        retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
      });
      redis.on('error', () => {}); // surfaced per request instead
      conn = redis.connect().then(
        () => redis,
        (err: unknown) => {
          conns.delete(db);
          redis.disconnect();
          throw err;
        },
      );
      conns.set(db, conn);
    }
    return conn;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    while (fault === 'hang' && !closed) await woken;
    if (req.socket.destroyed || closed) return;
    if (fault === 'reset') return void req.socket.destroy();
    if (fault === 'http500') return send(res, 500, { error: 'ERR injected fault: http500' });

    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path !== '/' && path !== '/pipeline' && path !== '/multi-exec') throw new HttpError(404, `ERR unknown endpoint ${path}`);
    if (req.method !== 'POST') throw new HttpError(405, 'ERR only POST is supported');
    const token = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const db = token === undefined ? undefined : tokens.get(token);
    if (db === undefined) throw new HttpError(401, 'WRONGPASS invalid or missing auth token');
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new HttpError(400, 'ERR failed to parse request body as JSON');
    }
    const b64 = String(req.headers['upstash-encoding']).toLowerCase() === 'base64';
    const redis = await connFor(db);

    if (path === '/') return send(res, 200, { result: encode(await call(redis, json), b64) });
    if (!Array.isArray(json)) throw new HttpError(400, 'ERR request body must be an array of commands');
    if (path === '/pipeline') {
      // Issued in one tick, so ioredis writes them in order on the connection, as a Redis pipeline.
      const settled = await Promise.allSettled(json.map((c: unknown) => call(redis, c)));
      return send(
        res,
        200,
        settled.map((s) => (s.status === 'fulfilled' ? { result: encode(s.value, b64) } : entryError(s.reason))),
      );
    }
    const tx = redis.multi();
    for (const [name, ...args] of json.map(toCommand)) tx.callBuffer(name, ...args);
    const replies = await tx.exec();
    if (!replies) throw new CommandError('EXECABORT transaction aborted');
    send(
      res,
      200,
      replies.map(([err, value]): Entry => (err ? { error: err.message } : { result: encode(value, b64) })),
    );
  }

  const server = createServer((req, res) => {
    requests++;
    handle(req, res).catch((err: unknown) => {
      if (req.socket.destroyed) return;
      if (err instanceof HttpError) return send(res, err.status, { error: err.message });
      if (isCommandError(err)) return send(res, 400, { error: err.message });
      send(res, 503, { error: `ERR redis unavailable: ${err instanceof Error ? err.message : String(err)}` });
    });
  });
  addLatency(server, opts.rttMs);
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => ok());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get requests() {
      return requests;
    },
    addToken(token, db = 0) {
      if (!Number.isInteger(db) || db < 0) throw new RangeError(`invalid Redis database index ${db}`);
      tokens.set(token, db);
    },
    setFault(next) {
      fault = next;
      if (next !== 'hang') {
        wake();
        woken = new Promise<void>((r) => (wake = r));
      }
    },
    async close() {
      closed = true;
      wake();
      const stopped = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await stopped;
      // disconnect(), not quit(): QUIT would queue behind a script still running and wait for it;
      // commands still in flight are rejected and their (already destroyed) requests dropped.
      for (const c of conns.values())
        c.then(
          (r) => r.disconnect(),
          () => {},
        );
      await Promise.allSettled(conns.values());
      conns.clear();
    },
  };
}

/** Runs one JSON command; the name is upper-cased, which also keeps ioredis from reshaping replies
 * (it turns a lower-case `hgetall` reply into an object, for one). */
async function call(redis: Redis, raw: unknown): Promise<unknown> {
  const [name, ...args] = toCommand(raw);
  // Upstash gives each token its own database, so FLUSHALL there means "this database".
  return redis.callBuffer(name === 'FLUSHALL' ? 'FLUSHDB' : name, ...args);
}

function toCommand(raw: unknown): [string, ...Buffer[]] {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') throw new CommandError('ERR failed to parse command');
  const name = raw[0].toUpperCase();
  if (DENIED.has(name)) throw new CommandError(`ERR command is not allowed: ${name}`);
  // The client sends numbers and booleans as JSON values and JSON-stringifies objects itself.
  return [name, ...raw.slice(1).map((a: unknown) => Buffer.from(typeof a === 'string' ? a : JSON.stringify(a)))];
}

/**
 * Shapes a reply as the client's `decode` expects: integers and nil as they are; with base64 on,
 * every string base64-encoded except a top-level `OK`, which the client passes through verbatim
 * (inside arrays it base64-decodes every string, so an `OK` there must be encoded too).
 */
function encode(value: unknown, b64: boolean, top = true): unknown {
  if (typeof value === 'string' || value instanceof Error) value = Buffer.from(typeof value === 'string' ? value : value.message);
  if (Buffer.isBuffer(value)) {
    if (!b64) return value.toString('utf8');
    return top && value.equals(OK) ? 'OK' : value.toString('base64');
  }
  if (Array.isArray(value)) return value.map((v) => encode(v, b64, false));
  return value ?? null;
}

function entryError(err: unknown): Entry {
  if (isCommandError(err)) return { error: err.message };
  throw err; // Redis itself failed: the whole request answers 503
}

function isCommandError(err: unknown): err is Error {
  return err instanceof CommandError || err instanceof ReplyError;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((ok, fail) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
    req.on('error', fail);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const { values } = parseArgs({
    options: {
      redis: { type: 'string', default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' },
      token: { type: 'string', multiple: true },
      db: { type: 'string', default: '0' },
      port: { type: 'string', default: '0' },
    },
  });
  const srv = await startUpstashRest({ redisUrl: values.redis, port: Number(values.port) });
  for (const token of values.token ?? ['local']) srv.addToken(token, Number(values.db));
  console.log(srv.url);
  const stop = () => void srv.close().then(() => process.exit(0));
  process.once('SIGINT', stop).once('SIGTERM', stop);
}
