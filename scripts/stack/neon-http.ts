/**
 * A local stand-in for Neon's serverless HTTP SQL endpoint (`POST /sql`), backed by a real Postgres
 * through `pg` pools, so `neon()` / `drizzle-orm/neon-http` (e.g. inside workerd) can run against a
 * local database via `neonConfig.fetchEndpoint`. The wire format mirrors Neon's proxy
 * (`proxy/src/serverless/sql_over_http.rs`) as far as `@neondatabase/serverless` relies on it.
 */
import { addLatency } from './latency.ts';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, connect as netConnect } from 'node:net';
import { parseArgs } from 'node:util';
import pg from 'pg';

/**
 * Fault injected into every request: reply 500, never reply, or destroy the socket before running
 * anything; `connection-lost` closes the socket to Postgres right after the (first) statement was
 * sent, so the request fails as Neon answers a compute that died mid-query (400, "connection
 * closed", empty `code`); `commit-then-drop` runs the request to the end (a batch's COMMIT
 * included) and then destroys the client's socket instead of replying: committed, reply lost.
 */
export const NEON_FAULTS = ['none', 'http500', 'hang', 'reset', 'connection-lost', 'commit-then-drop'] as const;
export type NeonHttpFault = (typeof NEON_FAULTS)[number];

/**
 * Neon's proxy defaults (`sql_over_http_max_request_size_bytes` / `_max_response_size_bytes` in
 * neondatabase/neon `proxy/src/binary/proxy.rs`): 10 MiB each.
 */
export const MAX_REQUEST_SIZE_BYTES = 10 * 1024 * 1024;
export const MAX_RESPONSE_SIZE_BYTES = 10 * 1024 * 1024;

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

/** Opening the Postgres connection failed (Neon's `SqlOverHttpError::ConnectCompute`). */
class ConnectError extends Error {
  user: string;
  constructor(cause: unknown, user: string) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.user = user;
  }
}

/** The client went away and the statement was cancelled (Neon's `SqlOverHttpCancel::Postgres`). */
class CancelledError extends Error {
  /** Whether the connection is clean enough to go back to the pool. */
  reusable: boolean;
  constructor(reusable: boolean) {
    super('query was cancelled');
    this.reusable = reusable;
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
export async function startNeonHttp(
  opts: { port?: number; onQuery?: (timing: QueryTiming) => void; rttMs?: number } = {},
): Promise<NeonHttpServer> {
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
    const dropReply = fault === 'commit-then-drop';
    const onQuery = opts.onQuery && ((t: Omit<QueryTiming, 'request'>) => opts.onQuery?.({ ...t, request }));
    // The client going away before its reply is Neon's cancellation token firing
    // (`handle` in proxy/src/serverless/sql_over_http.rs is given `cancel`, which the HTTP layer
    // cancels when the client disconnects): the running statement is cancelled, a batch rolled back.
    const disconnected = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) disconnected.abort();
    });
    handle(req, { poolFor, onQuery, signal: disconnected.signal, loseConnection: fault === 'connection-lost' }).then(
      (body) => (dropReply ? req.socket.destroy() : send(res, 200, body)),
      (err: unknown) => (dropReply ? req.socket.destroy() : send(res, ...errorResponse(err))),
    );
  });
  addLatency(server, opts.rttMs);
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
      // Destroying the sockets cancels the statements still running for them (see `disconnected`).
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

interface RequestContext {
  poolFor: (cs: string) => pg.Pool;
  onQuery?: (t: Omit<QueryTiming, 'request'>) => void;
  /** Aborted when the HTTP client disconnects before its reply. */
  signal: AbortSignal;
  /** The `connection-lost` fault: close the Postgres socket once the first statement is sent. */
  loseConnection: boolean;
}

async function handle(req: IncomingMessage, ctx: RequestContext): Promise<unknown> {
  if (req.method !== 'POST' || !new URL(req.url ?? '/', 'http://x').pathname.endsWith('/sql')) {
    throw new HttpError(404, `no route for ${req.method} ${req.url}`);
  }
  const connectionString = header(req, 'neon-connection-string');
  if (!connectionString) throw new HttpError(400, 'missing connection string');
  const url = URL.parse(connectionString);
  if (!url || !/^postgres(ql)?:$/.test(url.protocol)) {
    throw new HttpError(400, 'connection string is not a valid postgres:// URL');
  }
  const isolation = header(req, 'neon-batch-isolation-level');
  if (isolation !== undefined && !ISOLATION[isolation]) throw new HttpError(400, 'invalid isolation level');
  const options: Options = {
    rawText: header(req, 'neon-raw-text-output') === 'true',
    arrayMode: header(req, 'neon-array-mode') === 'true',
  };
  const payload = await readJson(req);

  let client: pg.PoolClient;
  try {
    client = await ctx.poolFor(connectionString).connect();
  } catch (err) {
    throw err instanceof HttpError ? err : new ConnectError(err, decodeURIComponent(url.username));
  }
  if (ctx.signal.aborted) {
    client.release();
    throw new CancelledError(true);
  }
  const state: QueryState = { responseBytes: 0, loseConnection: ctx.loseConnection };
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
        for (const q of payload.queries as QueryData[]) {
          results.push(await cancellable(client, runQuery(client, q, options, state, ctx.onQuery), ctx.signal, 'batch'));
        }
        await client.query('COMMIT');
        return { results };
      } catch (err) {
        // Cancelled: the connection is discarded below, and closing it rolls the transaction back,
        // as BatchQueryData::process does (cancel_query, then discard, no COMMIT).
        if (!(err instanceof CancelledError)) await client.query('ROLLBACK').catch((rollbackErr: unknown) => (broken = rollbackErr));
        throw err;
      }
    }
    if (typeof payload.query !== 'string') throw new HttpError(400, 'request body needs "query" or "queries"');
    return await cancellable(client, runQuery(client, payload as unknown as QueryData, options, state, ctx.onQuery), ctx.signal, 'single');
  } catch (err) {
    if (!(err instanceof pg.DatabaseError) && !(err instanceof HttpError) && !(err instanceof CancelledError)) broken = err;
    // A FATAL error (the backend was terminated, the server is shutting down) ends the connection:
    // pooling it again would fail the next request, which Neon's proxy never does.
    if (err instanceof pg.DatabaseError && err.severity === 'FATAL') broken = err;
    if (err instanceof CancelledError && !err.reusable) broken = err;
    throw err;
  } finally {
    // A client whose connection failed (or whose ROLLBACK did, or that was cancelled mid-batch) must
    // not go back to the pool: release(err) closes it, which also ends any open transaction.
    client.release(broken instanceof Error ? broken : Boolean(broken));
  }
}

/**
 * Runs `work` unless the client disconnects first. Then, like `QueryData::process` and
 * `BatchQueryData::process` in proxy/src/serverless/sql_over_http.rs: the statement is cancelled
 * with a CancelRequest (`cancel_token.cancel_query`); a single statement gets 100 ms to end, and
 * its connection is kept only if it ended with 57014 (query_canceled) or completed; a batch stops
 * at once and its connection is discarded, so its transaction never commits.
 */
async function cancellable<T>(client: pg.PoolClient, work: Promise<T>, signal: AbortSignal, kind: 'single' | 'batch'): Promise<T> {
  work.catch(() => {}); // settled below or abandoned with a discarded connection
  let onAbort = () => {};
  const aborted = new Promise<typeof signal>((resolve) => {
    onAbort = () => resolve(signal);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const first = await Promise.race([work, aborted]);
    if (first !== signal) return first as T;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  await sendCancelRequest(client);
  if (kind === 'batch') throw new CancelledError(false);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), 100)));
  try {
    const outcome = await Promise.race([work.then((value) => ({ value })), timeout]);
    if (outcome !== 'timeout') return outcome.value; // it finished before the cancel reached it
  } catch (err) {
    throw new CancelledError(err instanceof pg.DatabaseError && err.code === '57014');
  } finally {
    clearTimeout(timer);
  }
  throw new CancelledError(false);
}

/** Postgres' CancelRequest for the statement `client` is running (what pg_cancel_backend does). */
function sendCancelRequest(client: pg.PoolClient): Promise<void> {
  const { processID, secretKey, host, port } = client as unknown as { processID: number; secretKey: number; host: string; port: number };
  return new Promise((resolve) => {
    const socket = netConnect(host.startsWith('/') ? { path: `${host}/.s.PGSQL.${port}` } : { host, port }, () => {
      const message = Buffer.alloc(16);
      message.writeInt32BE(16, 0);
      message.writeInt32BE(80877102, 4); // the cancel request code
      message.writeInt32BE(processID, 8);
      message.writeInt32BE(secretKey, 12);
      socket.end(message);
    });
    socket.setTimeout(2_000, () => socket.destroy());
    socket.once('error', () => {});
    socket.once('close', () => resolve());
  });
}

interface QueryState {
  /** Bytes of row JSON put in the response so far (Neon counts its whole output buffer). */
  responseBytes: number;
  loseConnection: boolean;
}

async function runQuery(
  client: pg.PoolClient,
  q: QueryData,
  options: Options,
  state: QueryState,
  onQuery?: (t: Omit<QueryTiming, 'request'>) => void,
) {
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
  const pending = client.query(config);
  if (state.loseConnection) {
    state.loseConnection = false;
    // The statement is on the wire; the Postgres socket now closes under it, as when a compute dies.
    const { connection } = client as unknown as { connection: { stream: { destroy(): void } } };
    setImmediate(() => connection.stream.destroy());
  }
  const result = await pending;
  onQuery?.({ query: q.query, params: q.params ?? [], ms: performance.now() - started });
  // query_to_json refuses the next row once its output exceeds max_response_size_bytes
  // (SqlOverHttpError::ResponseTooLarge → 507 INSUFFICIENT_STORAGE).
  for (const row of result.rows) {
    if (state.responseBytes > MAX_RESPONSE_SIZE_BYTES) {
      throw new HttpError(507, `response is too large (max is ${MAX_RESPONSE_SIZE_BYTES} bytes)`);
    }
    state.responseBytes += JSON.stringify(row).length + 1;
  }
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

/**
 * Status and body as Neon's proxy answers (`handle` and `SqlOverHttpError::get_http_status_code`
 * in proxy/src/serverless/sql_over_http.rs, `HttpConnError::get_error_kind` in
 * proxy/src/serverless/backend.rs). Every error body carries all the fields; without a Postgres
 * error behind it, `code` and `severity` are "" and the rest null.
 */
function errorResponse(err: unknown): [number, Record<string, unknown>] {
  if (err instanceof HttpError) return [err.status, neonBody(err.message)];
  // The client is gone; Neon still answers this (into a closed connection).
  if (err instanceof CancelledError) return [400, { message: 'Query cancelled, connection was terminated', code: '08P01' }];
  if (err instanceof ConnectError) {
    const cause = err.cause;
    if (cause instanceof pg.DatabaseError) {
      // Neon's proxy checks the password itself (PoolingBackend::authenticate_with_password):
      // AuthError::PasswordFailed is ErrorKind::User → 400, with no Postgres error → empty code.
      if (cause.code === '28P01') return [400, neonBody(`password authentication failed for user '${err.user}'`)];
      // HttpConnError::PostgresConnectionError: a wrong database name (3D000) is the user's (400);
      // anything else Postgres refuses a connection with (53300, 57P03, …) is ErrorKind::Postgres → 500.
      return [cause.code === '3D000' ? 400 : 500, neonBody(cause.message, cause)];
    }
    // Postgres not reachable at all: ErrorKind::Compute → 500.
    return [500, neonBody(`could not reach Postgres: ${err.message}`)];
  }
  // SqlOverHttpError::Postgres: everything a statement fails with is 400, a Postgres error with its fields ...
  if (err instanceof pg.DatabaseError) return [400, neonBody(err.message, err)];
  // ... and a connection lost under it as postgres_client::Error's Display has it (Kind::Closed /
  // Kind::Io in libs/proxy/tokio-postgres2/src/error/mod.rs), with no SQLSTATE.
  const sys = err as NodeJS.ErrnoException;
  const io = typeof sys?.syscall === 'string' || /^E[A-Z]+$/.test(String(sys?.code ?? ''));
  return [400, neonBody(io ? `error communicating with the server: ${sys.message}` : 'connection closed')];
}

function neonBody(message: string, db?: pg.DatabaseError): Record<string, unknown> {
  const body: Record<string, unknown> = { message };
  for (const key of ERROR_FIELDS) body[key] = db?.[key] ?? (key === 'code' || key === 'severity' ? '' : null);
  return body;
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

/**
 * The body as JSON, refused over MAX_REQUEST_SIZE_BYTES (read_body_with_limit in
 * proxy/src/http/mod.rs: by Content-Length first, then as it arrives → ReadPayloadError::BodyTooLarge,
 * 413). Unlike hyper, the rest of an oversized body is still read (and dropped), so the client
 * always gets the 413 rather than a connection reset half-way through its upload.
 */
async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_SIZE_BYTES;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_SIZE_BYTES) tooLarge = true;
    if (!tooLarge) chunks.push(chunk as Buffer);
  }
  if (tooLarge) throw new HttpError(413, `request is too large (max is ${MAX_REQUEST_SIZE_BYTES} bytes)`);
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
