/**
 * Fidelity of the local Neon endpoint's failures: each test names the place in Neon's proxy
 * (github.com/neondatabase/neon, read at 6a35a3e9) whose answer it reproduces, and asserts what the
 * real `@neondatabase/serverless` client sees — status (a 400 becomes a NeonDbError with the body's
 * message and fields, anything else "Server error (HTTP status N): <body>"), message and code.
 * Faults are injected at a known request (setFault's schedule) or a known state (a statement seen
 * running in pg_stat_activity), never after a sleep.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { NeonDbError, neon, neonConfig } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { MAX_REQUEST_SIZE_BYTES, type NeonHttpServer, startNeonHttp } from '../../scripts/stack/neon-http.ts';
import { rejection, withDatabase } from '../support/neon-client.ts';

const { postgresUrl } = inject('stack');
const dbName = `neon_fidelity_${process.pid}_${Date.now()}`;
const dbUrl = withDatabase(postgresUrl, dbName);
const limitedRole = `neon_fidelity_limited_${process.pid}`;

let server: NeonHttpServer;
let admin: pg.Client;
let direct: pg.Client;
neonConfig.fetchEndpoint = () => server.url;
const sql = neon(dbUrl);

/** The raw HTTP answer, for the status and body the client folds into its message. */
async function post(body: unknown, connectionString = dbUrl) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'Neon-Connection-String': connectionString, 'Neon-Raw-Text-Output': 'true', 'Neon-Array-Mode': 'true' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Backends of the test database that are running a statement or sit inside a transaction. */
async function busyBackends(): Promise<number> {
  const { rows } = await direct.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid() AND (state = 'active' OR state LIKE 'idle in transaction%')`,
    [dbName],
  );
  return rows[0]?.n ?? -1;
}

/** The backend running a statement whose text contains `marker`, once it runs. */
async function runningBackend(marker: string): Promise<number> {
  let pid: number | undefined;
  await vi.waitUntil(
    async () => {
      const { rows } = await direct.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid() AND position($2 in query) > 0`,
        [dbName, marker],
      );
      pid = rows[0]?.pid;
      return pid !== undefined;
    },
    { timeout: 5_000, interval: 20 },
  );
  return pid as number;
}

async function rowExists(id: number): Promise<boolean> {
  return ((await direct.query('SELECT 1 FROM items WHERE id = $1', [id])).rowCount ?? 0) > 0;
}

beforeAll(async () => {
  admin = new pg.Client(postgresUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.query(`DROP ROLE IF EXISTS ${limitedRole}`);
  await admin.query(`CREATE ROLE ${limitedRole} LOGIN PASSWORD 'limited' CONNECTION LIMIT 0`);
  direct = new pg.Client(dbUrl);
  await direct.connect();
  await direct.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
  server = await startNeonHttp();
});

afterEach(() => server.setFault('none'));

afterAll(async () => {
  await server?.close();
  await direct?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin?.query(`DROP ROLE IF EXISTS ${limitedRole}`);
  await admin?.end();
});

describe('neon-http fails as Neon does', () => {
  // sql_over_http.rs: SqlOverHttpError::Postgres → 400 (get_http_status_code); with no DbError behind
  // it, `handle` sends the error's Display, which for a connection that closed under a statement is
  // "connection closed" (Kind::Closed in libs/proxy/tokio-postgres2/src/error/mod.rs), and code "".
  it('connection lost mid-query: 400 "connection closed" with an empty code (sql_over_http.rs handle, tokio-postgres2 error Kind::Closed)', async () => {
    server.setFault('connection-lost', { count: 1 });
    const single = await rejection(sql`SELECT 1`);
    expect(single.message).toBe('connection closed');
    expect(single.code).toBe('');
    expect(single.severity).toBe('');

    server.setFault('connection-lost', { count: 1 });
    const batch = await rejection(sql.transaction([sql`INSERT INTO items VALUES (1, 'lost')`, sql`SELECT 2`]));
    expect([batch.message, batch.code]).toEqual(['connection closed', '']);
    expect(await rowExists(1)).toBe(false);

    server.setFault('connection-lost', { count: 1 });
    expect(await post({ query: 'SELECT 1', params: [] })).toMatchObject({ status: 400, body: { message: 'connection closed', code: '' } });
    expect(await sql`SELECT 3 AS n`).toEqual([{ n: 3 }]); // the broken connection was not pooled
  });

  // backend.rs HttpConnError::get_error_kind: PostgresConnectionError with a DbError is
  // ErrorKind::Postgres (INVALID_CATALOG_NAME alone is User), and sql_over_http.rs maps a
  // ConnectCompute error that is not User to 500, with the DbError's message and code in the body.
  it('53300 too_many_connections while connecting: 500 with the SQLSTATE (backend.rs HttpConnError::get_error_kind)', async () => {
    const limited = new URL(dbUrl);
    [limited.username, limited.password] = [limitedRole, 'limited'];
    const err = await rejection(neon(limited.href)`SELECT 1`);
    expect(err.message).toMatch(/^Server error \(HTTP status 500\): /);
    const raw = await post({ query: 'SELECT 1', params: [] }, limited.href);
    expect(raw.status).toBe(500);
    expect(raw.body).toMatchObject({ code: '53300', severity: 'FATAL', message: expect.stringMatching(/too many connections/) });
  });

  it('57P03 cannot_connect_now while connecting: 500 with the SQLSTATE (backend.rs HttpConnError::get_error_kind)', async () => {
    const starting = await fakePostgres({ code: '57P03', message: 'the database system is starting up' });
    try {
      const url = new URL(dbUrl);
      url.port = String((starting.address() as AddressInfo).port);
      const err = await rejection(neon(url.href)`SELECT 1`);
      expect(err.message).toMatch(/^Server error \(HTTP status 500\): .*"code":"57P03"/);
      expect(await post({ query: 'SELECT 1', params: [] }, url.href)).toMatchObject({
        status: 500,
        body: { message: 'the database system is starting up', code: '57P03' },
      });
    } finally {
      await new Promise((r) => starting.close(r));
    }
  });

  // The proxy authenticates the password itself (backend.rs PoolingBackend::authenticate_with_password
  // → AuthError::PasswordFailed, "password authentication failed for user '{0}'" in auth/mod.rs),
  // ErrorKind::User → 400, and there is no DbError, so code is "". A missing database is
  // INVALID_CATALOG_NAME → ErrorKind::User → 400 with its SQLSTATE.
  it('wrong password: 400 without a SQLSTATE; unknown database: 400 3D000 (auth/mod.rs AuthError::PasswordFailed)', async () => {
    const wrong = new URL(dbUrl);
    wrong.password = 'wrong';
    const err = await rejection(neon(wrong.href)`SELECT 1`);
    expect(err.message).toBe(`password authentication failed for user '${wrong.username}'`);
    expect(err.code).toBe('');

    const missing = await rejection(neon(withDatabase(dbUrl, `${dbName}_missing`))`SELECT 1`);
    expect(missing.code).toBe('3D000');
  });

  // proxy/src/http/mod.rs read_body_with_limit → ReadPayloadError::BodyTooLarge → 413
  // PAYLOAD_TOO_LARGE (serverless/error.rs), limit sql_over_http_max_request_size_bytes = 10 MiB
  // (binary/proxy.rs).
  it('request body over 10 MiB: 413 "request is too large" (http/mod.rs read_body_with_limit, error.rs ReadPayloadError)', async () => {
    const big = 'x'.repeat(MAX_REQUEST_SIZE_BYTES);
    const err = await rejection(sql.query('SELECT length($1) AS n', [big]));
    expect(err.message).toMatch(/^Server error \(HTTP status 413\): .*request is too large \(max is 10485760 bytes\)/);
    const fits = 'x'.repeat(MAX_REQUEST_SIZE_BYTES - 1_000);
    expect(await sql.query('SELECT length($1)::int AS n', [fits])).toEqual([{ n: fits.length }]);
  });

  // sql_over_http.rs query_to_json: before each row, output over max_response_size_bytes (10 MiB)
  // → SqlOverHttpError::ResponseTooLarge → 507 INSUFFICIENT_STORAGE; in a batch the transaction is
  // dropped uncommitted.
  it('response over 10 MiB: 507 "response is too large", a batch rolled back (sql_over_http.rs query_to_json)', async () => {
    const rows = (n: number) => `SELECT repeat('x', 1048576) AS mib FROM generate_series(1, ${n})`;
    expect(await sql.query(rows(10))).toHaveLength(10);
    const err = await rejection(sql.query(rows(11)));
    expect(err.message).toMatch(/^Server error \(HTTP status 507\): .*response is too large \(max is 10485760 bytes\)/);

    const batch = await rejection(sql.transaction([sql`INSERT INTO items VALUES (2, 'too big')`, sql.query(rows(11))]));
    expect(batch.message).toMatch(/HTTP status 507/);
    expect(await rowExists(2)).toBe(false);
  });

  // sql_over_http.rs QueryData::process: on the cancellation token (client disconnected) the proxy
  // sends a CancelRequest (cancel_token.cancel_query), waits 100 ms, and keeps the connection only
  // if the statement ended with 57014; BatchQueryData::process cancels and discards the connection
  // without COMMIT.
  it('client disconnect cancels a running statement: nothing committed (sql_over_http.rs QueryData::process)', async () => {
    const abort = new AbortController();
    const pending = rejection(
      sql.query(`INSERT INTO items SELECT 3, 'late' FROM pg_sleep(30) /* disconnect-single */`, [], {
        fetchOptions: { signal: abort.signal },
      }),
    );
    const pid = await runningBackend('disconnect-single');
    abort.abort();
    expect((await pending).message).toMatch(/Error connecting to database/);
    // Cancelled, not run to the end: the backend is idle again (57014 leaves it clean) or gone.
    await vi.waitUntil(async () => (await busyBackends()) === 0, { timeout: 5_000, interval: 20 });
    const { rows } = await direct.query<{ state: string }>('SELECT state FROM pg_stat_activity WHERE pid = $1', [pid]);
    expect(rows.map((r) => r.state)).toEqual(rows.length ? ['idle'] : []);
    expect(await rowExists(3)).toBe(false);
    expect(await sql`SELECT 4 AS n`).toEqual([{ n: 4 }]);
  });

  it('client disconnect mid-batch rolls back and discards the connection (sql_over_http.rs BatchQueryData::process)', async () => {
    const abort = new AbortController();
    const pending = rejection(
      sql.transaction([sql`INSERT INTO items VALUES (4, 'rolled back')`, sql.query(`SELECT pg_sleep(30) /* disconnect-batch */`)], {
        fetchOptions: { signal: abort.signal },
      }),
    );
    const pid = await runningBackend('disconnect-batch');
    abort.abort();
    expect((await pending).message).toMatch(/Error connecting to database/);
    const gone = async () => ((await direct.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid])).rowCount ?? 0) === 0;
    await vi.waitUntil(gone, { timeout: 5_000, interval: 20 });
    expect(await rowExists(4)).toBe(false);
    expect(await busyBackends()).toBe(0);
    expect(await sql`SELECT 5 AS n`).toEqual([{ n: 5 }]);
  });

  // Not a Neon code path but the network between: the proxy commits and its reply never arrives.
  it('commit-then-drop: the batch commits, the client sees a failed fetch, later requests are served', async () => {
    server.setFault('commit-then-drop', { afterRequests: 1, count: 1 });
    expect(await sql`SELECT 6 AS n`).toEqual([{ n: 6 }]);
    const lost = await rejection(sql.transaction([sql`INSERT INTO items VALUES (5, 'committed')`, sql`SELECT 7`]));
    expect(lost.message).toMatch(/^Error connecting to database: /);
    expect(await rowExists(5)).toBe(true);
    expect(await sql`SELECT 8 AS n`).toEqual([{ n: 8 }]);
  });
});

/** A server that answers every Postgres startup with one FATAL ErrorResponse, as Postgres does while starting. */
async function fakePostgres(error: { code: string; message: string }): Promise<Server> {
  const fields = Buffer.concat([
    ...Object.entries({ S: 'FATAL', V: 'FATAL', C: error.code, M: error.message }).map(([k, v]) => Buffer.from(`${k}${v}\0`)),
    Buffer.from([0]),
  ]);
  const message = Buffer.alloc(5);
  message.write('E', 0);
  message.writeInt32BE(4 + fields.length, 1);
  const srv = createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => socket.end(Buffer.concat([message, fields])));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return srv;
}
