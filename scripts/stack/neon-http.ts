/**
 * A local stand-in for Neon's serverless HTTP SQL endpoint (`POST /sql`), backed by a real Postgres
 * through `pg` pools, so `neon()` / `drizzle-orm/neon-http` (e.g. inside workerd) can run against a
 * local database via `neonConfig.fetchEndpoint`. The wire format mirrors Neon's proxy
 * (`proxy/src/serverless/sql_over_http.rs`) as far as `@neondatabase/serverless` relies on it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import pg from 'pg';

/** Fault injected into every request: reply 500, never reply, or destroy the socket. */
export type NeonHttpFault = 'none' | 'http500' | 'hang' | 'reset';

/** A running endpoint. `url` is what `neonConfig.fetchEndpoint` should be set to. */
export interface NeonHttpServer {
  /** `http://127.0.0.1:PORT/sql` */
  url: string;
  port: number;
  /** HTTP requests received so far, faulted ones included. */
  readonly requests: number;
  /**
   * Switches fault injection; switching away from `hang` answers the hung requests with 503.
   * With `afterRequests`, the fault starts only after that many more requests were served (a
   * failure between batches); with `count`, it then hits that many requests and heals by itself.
   */
  setFault(fault: NeonHttpFault, opts?: FaultSchedule): void;
  /** Destroys open sockets (hung requests included) and ends every Postgres pool. */
  close(): Promise<void>;
}

/** When a scheduled fault starts and how many requests it hits (unset: until changed). */
export interface FaultSchedule {
  afterRequests?: number;
  count?: number;
}

interface QueryData {
  query: string;
  params?: unknown[];
  arrayMode?: boolean;
}

interface Options {
  rawText: boolean;
  arrayMode: boolean;
}

/** One statement as Postgres ran it, reported to `onQuery` (the bench measures lock hold with it). */
export interface QueryTiming {
  query: string;
  params: unknown[];
  /** Time from sending the statement to its result, in milliseconds. */
  ms: number;
  /** The HTTP request it came in (1, 2, …): a batch is one request carrying several statements. */
  request: number;
}

/** An error answered with a fixed status and a Neon-shaped JSON body. */
class HttpError extends Error {
  status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const ISOLATION: Record<string, string> = {
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
  Serializable: 'SERIALIZABLE',
};

// The client parses every value itself from Postgres text, so raw mode must skip pg's parsers entirely.
const rawTypes = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

// Exactly the fields NeonDbError copies from a 400 body (`hi` in the client's index.mjs).
const ERROR_FIELDS = [
  'severity',
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const;

/** Starts the endpoint on 127.0.0.1 (`port` 0 or absent: a free port). */
export async function startNeonHttp(opts: { port?: number; onQuery?: (timing: QueryTiming) => void } = {}): Promise<NeonHttpServer> {
  const pools = new Map<string, pg.Pool>();
  const clients = new Set<pg.PoolClient>();
  const hung = new Set<ServerResponse>();
  let fault: NeonHttpFault = 'none';
  let closed = false;
  let requests = 0;
  let scheduled: { fault: NeonHttpFault; after: number; count: number | undefined } | undefined;
  let faultsLeft: number | undefined;

  const poolFor = (connectionString: string): pg.Pool => {
    if (closed) throw new HttpError(503, 'endpoint is closing');
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new pg.Pool({ connectionString: localConnectionString(connectionString), max: 10, connectionTimeoutMillis: 10_000 });
      // A client whose connection dies (Postgres restarting, a database dropped WITH (FORCE)) emits 'error';
      // pg-pool only listens while the client is idle, and an unheard 'error' would crash the process.
      pool.on('error', () => {});
      pool.on('connect', (client) => {
        clients.add(client.on('error', () => {}));
        client.once('end', () => clients.delete(client));
      });
      pools.set(connectionString, pool);
    }
    return pool;
  };

  const server = createServer((req, res) => {
    requests++;
    if (scheduled && scheduled.after-- <= 0) {
      [fault, faultsLeft, scheduled] = [scheduled.fault, scheduled.count, undefined];
    }
    if (fault !== 'none' && faultsLeft !== undefined && faultsLeft-- <= 0) [fault, faultsLeft] = ['none', undefined];
    if (fault === 'reset') return void req.socket.destroy();
    if (fault === 'hang') return void hung.add(res.once('close', () => hung.delete(res)));
    if (fault === 'http500') return send(res, 500, { message: 'injected fault: http500' });
    const request = requests;
    const onQuery = opts.onQuery && ((t: Omit<QueryTiming, 'request'>) => opts.onQuery?.({ ...t, request }));
    handle(req, poolFor, onQuery).then(
      (body) => send(res, 200, body),
      (err: unknown) => send(res, ...errorResponse(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/sql`,
    port,
    get requests() {
      return requests;
    },
    setFault(next, opts) {
      if (opts?.afterRequests !== undefined || opts?.count !== undefined) {
        scheduled = { fault: next, after: opts.afterRequests ?? 0, count: opts.count };
        return;
      }
      scheduled = faultsLeft = undefined;
      fault = next;
      if (next === 'hang') return;
      for (const res of hung) send(res, 503, { message: 'injected fault cleared' });
      hung.clear();
    },
    async close() {
      closed = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await stopped;
      // pool.end() resolves before its connections are gone; wait for them so the database can be dropped next.
      const ended = [...clients].map((client) => new Promise((resolve) => client.once('end', resolve)));
      await Promise.all([...pools.values()].map((pool) => pool.end().catch(() => {})));
      await Promise.all(ended);
      pools.clear();
    },
  };
}

async function handle(
  req: IncomingMessage,
  poolFor: (cs: string) => pg.Pool,
  onQuery?: (t: Omit<QueryTiming, 'request'>) => void,
): Promise<unknown> {
  if (req.method !== 'POST' || !new URL(req.url ?? '/', 'http://x').pathname.endsWith('/sql')) {
    throw new HttpError(404, `no route for ${req.method} ${req.url}`);
  }
  const connectionString = header(req, 'neon-connection-string');
  if (!connectionString) throw new HttpError(400, 'missing connection string');
  if (!/^postgres(ql)?:$/.test(URL.parse(connectionString)?.protocol ?? '')) {
    throw new HttpError(400, 'connection string is not a valid postgres:// URL');
  }
  const isolation = header(req, 'neon-batch-isolation-level');
  if (isolation !== undefined && !ISOLATION[isolation]) throw new HttpError(400, 'invalid isolation level');
  const options: Options = {
    rawText: header(req, 'neon-raw-text-output') === 'true',
    arrayMode: header(req, 'neon-array-mode') === 'true',
  };
  const payload = await readJson(req);

  const client = await poolFor(connectionString).connect();
  let broken: unknown;
  try {
    if (Array.isArray(payload.queries)) {
      const modes = [
        isolation && `ISOLATION LEVEL ${ISOLATION[isolation]}`,
        header(req, 'neon-batch-read-only') === 'true' && 'READ ONLY',
        header(req, 'neon-batch-deferrable') === 'true' && 'DEFERRABLE',
      ].filter(Boolean);
      await client.query(`BEGIN ${modes.join(', ')}`);
      try {
        const results = [];
        for (const q of payload.queries as QueryData[]) results.push(await runQuery(client, q, options, onQuery));
        await client.query('COMMIT');
        return { results };
      } catch (err) {
        await client.query('ROLLBACK').catch((rollbackErr: unknown) => (broken = rollbackErr));
        throw err;
      }
    }
    if (typeof payload.query !== 'string') throw new HttpError(400, 'request body needs "query" or "queries"');
    return await runQuery(client, payload as unknown as QueryData, options, onQuery);
  } catch (err) {
    if (!(err instanceof pg.DatabaseError) && !(err instanceof HttpError)) broken = err;
    // A FATAL error (the backend was terminated, the server is shutting down) ends the connection:
    // pooling it again would fail the next request, which Neon's proxy never does.
    if (err instanceof pg.DatabaseError && err.severity === 'FATAL') broken = err;
    throw err;
  } finally {
    // A client whose connection failed (or whose ROLLBACK did) must not go back to the pool.
    client.release(broken instanceof Error ? broken : Boolean(broken));
  }
}

async function runQuery(client: pg.PoolClient, q: QueryData, options: Options, onQuery?: (t: Omit<QueryTiming, 'request'>) => void) {
  if (typeof q?.query !== 'string') throw new HttpError(400, 'each query needs a "query" string');
  const arrayMode = q.arrayMode ?? options.arrayMode;
  // Extended protocol even without params, as Neon does: one statement per query, one result back.
  const config: pg.QueryConfig & { queryMode: 'extended'; rowMode?: 'array' } = {
    text: q.query,
    values: q.params ?? [],
    queryMode: 'extended',
    ...(arrayMode && { rowMode: 'array' as const }),
    ...(options.rawText && { types: rawTypes }),
  };
  const started = performance.now();
  const result = await client.query(config);
  onQuery?.({ query: q.query, params: q.params ?? [], ms: performance.now() - started });
  return {
    command: result.command,
    rowCount: result.rowCount,
    rows: result.rows,
    fields: result.fields.map(({ name, dataTypeID, tableID, columnID, dataTypeSize, dataTypeModifier }) => ({
      name,
      dataTypeID,
      tableID,
      columnID,
      dataTypeSize,
      dataTypeModifier,
      format: 'text',
    })),
    rowAsArray: arrayMode,
  };
}

/** Postgres errors are the caller's fault (400, as Neon); anything else means Postgres is unreachable (500). */
function errorResponse(err: unknown): [number, Record<string, unknown>] {
  if (err instanceof HttpError) return [err.status, { message: err.message }];
  if (err instanceof pg.DatabaseError) {
    const body: Record<string, unknown> = { message: err.message };
    for (const key of ERROR_FIELDS) body[key] = err[key] ?? null;
    return [400, body];
  }
  return [500, { message: `could not reach Postgres: ${err instanceof Error ? err.message : String(err)}` }];
}

/** Local Postgres has no TLS; a Neon-style `?sslmode=require` would make pg fail to connect. */
function localConnectionString(connectionString: string): string {
  const url = new URL(connectionString);
  for (const key of [...url.searchParams.keys()]) {
    if (key.startsWith('ssl') || key === 'channel_binding') url.searchParams.delete(key);
  }
  return url.href;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {}
  throw new HttpError(400, 'request body is not a JSON object');
}

function send(res: ServerResponse, status: number, body: unknown) {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
  const server = await startNeonHttp({ port: Number(values.port) });
  console.log(server.url);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void server.close());
}
