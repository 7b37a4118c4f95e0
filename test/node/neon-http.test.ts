import { NeonDbError, neon, neonConfig } from '@neondatabase/serverless';
import { sql as dsql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/neon-http';
import { integer, pgTable, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { type NeonHttpServer, startNeonHttp } from '../../scripts/stack/neon-http.ts';
import { freePort } from '../../scripts/stack/ports.ts';
import { rejection, withDatabase } from '../support/neon-client.ts';

const { postgresUrl } = inject('stack');
const dbName = `neon_http_${process.pid}_${Date.now()}`;
const dbUrl = withDatabase(postgresUrl, dbName);

let server: NeonHttpServer;
let admin: pg.Client;
let direct: pg.Client;
// neonConfig.fetchEndpoint is global; a function lets single tests aim the client elsewhere.
let endpoint = '';
neonConfig.fetchEndpoint = () => endpoint;
const sql = neon(dbUrl);

beforeAll(async () => {
  admin = new pg.Client(postgresUrl);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  direct = new pg.Client(dbUrl);
  await direct.connect();
  await direct.query('CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL)');
  server = await startNeonHttp();
  endpoint = server.url;
});

afterAll(async () => {
  await server?.close();
  await direct?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin?.end();
});

describe('neon-http endpoint', () => {
  it('listens on loopback with a /sql URL', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/sql`);
  });

  it('round-trips types through the client parsers', async () => {
    const [row = {}] = await sql`
      SELECT 7::int4 AS i4, 9007199254740993::int8 AS i8, 1.50::numeric AS num, true AS b, 'hé "x"'::text AS t,
        '2024-01-02T03:04:05.678Z'::timestamptz AS ts, '{"a":[1,{"b":null}]}'::jsonb AS j,
        decode('deadbeef', 'hex') AS bytes, ARRAY['a', 'b,c', NULL]::text[] AS ta, ARRAY[1, 2, 3]::int[] AS ia,
        NULL::int AS nothing`;
    expect(row).toMatchObject({ i4: 7, i8: '9007199254740993', num: '1.50', b: true, t: 'hé "x"', nothing: null });
    expect(row.ts).toBeInstanceOf(Date);
    expect((row.ts as Date).toISOString()).toBe('2024-01-02T03:04:05.678Z');
    expect(row.j).toEqual({ a: [1, { b: null }] });
    expect(Buffer.from(row.bytes as Uint8Array).toString('hex')).toBe('deadbeef');
    expect(row.ta).toEqual(['a', 'b,c', null]);
    expect(row.ia).toEqual([1, 2, 3]);
  });

  it('gives full results and array mode', async () => {
    const full = await sql.query('SELECT 1::int4 AS a, $1::text AS b', ['x'], { fullResults: true });
    expect(full.command).toBe('SELECT');
    expect(full.rowCount).toBe(1);
    expect(full.rows).toEqual([{ a: 1, b: 'x' }]);
    expect(full.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
      ['a', 23],
      ['b', 25],
    ]);
    expect(full.fields[0]).toMatchObject({ tableID: 0, columnID: 0, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' });

    const inserted = await sql.query('INSERT INTO items VALUES (100, $1), (101, $1)', ['full'], { fullResults: true });
    expect([inserted.command, inserted.rowCount, inserted.rows]).toEqual(['INSERT', 2, []]);
    const fromTable = await sql.query('SELECT id FROM items WHERE id = 100', [], { fullResults: true });
    expect(fromTable.fields[0]?.tableID).toBeGreaterThan(0);
    expect(fromTable.fields[0]?.columnID).toBe(1);

    const arrays = neon(dbUrl, { arrayMode: true });
    expect(await arrays`SELECT 1::int AS a, 'two' AS b, NULL AS c`).toEqual([[1, 'two', null]]);
    const both = await arrays.query('SELECT 1::int AS a', [], { fullResults: true });
    expect([both.rowAsArray, both.rows]).toEqual([true, [[1]]]);
  });

  it('passes parameters from tagged templates and sql.query, including null and arrays', async () => {
    const none = null;
    const ints = [1, 2, 3];
    const texts = ['a', null, 'c"d', 'e,f'];
    const [tagged] = await sql`SELECT ${none}::text AS n, ${ints}::int[] AS ints, ${texts}::text[] AS texts, ${5} + 1 AS six`;
    expect(tagged).toEqual({ n: null, ints: [1, 2, 3], texts: ['a', null, 'c"d', 'e,f'], six: 6 });

    const when = new Date('2025-06-07T08:09:10.111Z');
    const [row = {}] = await sql.query(
      'SELECT $1::text AS t, $2::int AS i, $3::bool AS b, $4::jsonb AS j, $5::bytea AS by, $6::timestamptz AS ts, $7::int AS nul',
      ['x', 42, false, { k: [1, 'v'] }, Buffer.from([1, 2, 255]), when, null],
    );
    expect(row).toMatchObject({ t: 'x', i: 42, b: false, j: { k: [1, 'v'] }, nul: null });
    expect([...(row.by as Uint8Array)]).toEqual([1, 2, 255]);
    expect((row.ts as Date).getTime()).toBe(when.getTime());
  });

  it('runs sql.transaction() batches in one transaction', async () => {
    const [ins, count, pid1, pid2] = await sql.transaction([
      sql`INSERT INTO items VALUES (1, 'one') RETURNING id`,
      sql`SELECT count(*)::int AS n FROM items WHERE id = 1`,
      sql`SELECT pg_backend_pid() AS pid, txid_current() AS tx`,
      sql`SELECT pg_backend_pid() AS pid, txid_current() AS tx`,
    ]);
    expect(ins).toEqual([{ id: 1 }]);
    expect(count).toEqual([{ n: 1 }]);
    expect(pid2).toEqual(pid1);
    expect((await direct.query('SELECT name FROM items WHERE id = 1')).rows).toEqual([{ name: 'one' }]);
  });

  it('rolls the whole batch back when a statement fails', async () => {
    const err = await rejection(
      sql.transaction([
        sql`INSERT INTO items VALUES (10, 'ten')`,
        sql`INSERT INTO items VALUES (11, 'eleven')`,
        sql`INSERT INTO items VALUES (10, 'again')`,
        sql`INSERT INTO items VALUES (12, 'never')`,
      ]),
    );
    expect(err.code).toBe('23505');
    expect((await direct.query('SELECT id FROM items WHERE id IN (10, 11, 12)')).rowCount).toBe(0);
    // The pooled connection is usable again (not left inside an aborted transaction).
    expect(await sql`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);
  });

  it('honours isolation level, read only and deferrable', async () => {
    expect(await sql.transaction([sql`SHOW transaction_isolation`])).toEqual([[{ transaction_isolation: 'read committed' }]]);
    expect(await sql.transaction([sql`SHOW transaction_isolation`], { isolationLevel: 'Serializable' })).toEqual([
      [{ transaction_isolation: 'serializable' }],
    ]);
    const modes = await sql.transaction(
      [sql`SHOW transaction_isolation`, sql`SHOW transaction_read_only`, sql`SHOW transaction_deferrable`],
      { isolationLevel: 'RepeatableRead', readOnly: true, deferrable: true },
    );
    expect(modes).toEqual([
      [{ transaction_isolation: 'repeatable read' }],
      [{ transaction_read_only: 'on' }],
      [{ transaction_deferrable: 'on' }],
    ]);
    const err = await rejection(sql.transaction([sql`INSERT INTO items VALUES (20, 'ro')`], { readOnly: true }));
    expect(err.code).toBe('25006');
    expect((await direct.query('SELECT 1 FROM items WHERE id = 20')).rowCount).toBe(0);
  });

  it('serves drizzle-orm/neon-http, including db.batch()', async () => {
    const items = pgTable('items', { id: integer('id').primaryKey(), name: text('name').notNull() });
    const db = drizzle(sql);
    await db.insert(items).values([{ id: 40, name: 'forty' }]);
    expect(
      await db
        .select()
        .from(items)
        .where(dsql`${items.id} = 40`),
    ).toEqual([{ id: 40, name: 'forty' }]);
    const [, after] = await db.batch([
      db.insert(items).values({ id: 41, name: 'forty-one' }),
      db
        .select({ n: dsql<number>`count(*)::int` })
        .from(items)
        .where(dsql`${items.id} BETWEEN 40 AND 49`),
    ]);
    expect(after).toEqual([{ n: 2 }]);
  });

  it('reuses one pool per connection string', async () => {
    const before = server.requests;
    const pids = new Set<number>();
    for (let i = 0; i < 5; i++) pids.add(((await sql`SELECT pg_backend_pid() AS pid`)[0] as { pid: number }).pid);
    expect(pids.size).toBe(1);
    expect(server.requests - before).toBe(5);
  });

  it('ignores Neon-style TLS parameters in the connection string', async () => {
    const neonStyle = neon(`${dbUrl}?sslmode=require&channel_binding=require`);
    expect(await neonStyle`SELECT current_database() AS db`).toEqual([{ db: dbName }]);
  });

  it('turns Postgres errors into NeonDbError fields', async () => {
    await sql`INSERT INTO items VALUES (30, 'dup')`;
    const dup = await rejection(sql`INSERT INTO items VALUES (30, 'dup')`);
    expect(dup).toMatchObject({ code: '23505', constraint: 'items_pkey', table: 'items', schema: 'public', severity: 'ERROR' });
    expect(dup.message).toMatch(/duplicate key value violates unique constraint "items_pkey"/);
    expect(dup.detail).toBe('Key (id)=(30) already exists.');
    expect(dup.routine).toBeTypeOf('string');

    const syntax = await rejection(sql.query('SELECT 1 FROM WHERE'));
    expect(syntax.code).toBe('42601');
    expect(syntax.position).toBe('15');
    expect(syntax.detail).toBeUndefined();

    const missing = await rejection(sql`SELECT * FROM no_such_table`);
    expect(missing.code).toBe('42P01');
    expect(missing.message).toMatch(/relation "no_such_table" does not exist/);

    const notNull = await rejection(sql`INSERT INTO items VALUES (31, ${null})`);
    expect(notNull).toMatchObject({ code: '23502', column: 'name', table: 'items' });
  });

  it('reports bad connection strings and unreachable Postgres', async () => {
    // Neon's proxy checks the password itself: 400, no SQLSTATE (see neon-http-fidelity.test.ts).
    const badPassword = await rejection(neon(dbUrl.replace(/:[^:@/]*@/, ':wrong@'))`SELECT 1`);
    expect(badPassword.message).toMatch(/^password authentication failed for user '/);
    expect(badPassword.code).toBe('');

    const down = new URL(dbUrl);
    down.port = String(await freePort());
    const unreachable = await rejection(neon(down.href)`SELECT 1`);
    expect(unreachable.message).toMatch(/HTTP status 500.*could not reach Postgres/);

    const noHeader = await fetch(server.url, { method: 'POST', body: JSON.stringify({ query: 'SELECT 1', params: [] }) });
    expect(noHeader.status).toBe(400);
    expect(await noHeader.json()).toMatchObject({ message: expect.stringMatching(/connection string/) });
    const badHeader = await fetch(server.url, {
      method: 'POST',
      headers: { 'Neon-Connection-String': 'mysql://x@y/z' },
      body: JSON.stringify({ query: 'SELECT 1', params: [] }),
    });
    expect(badHeader.status).toBe(400);
  });

  it('injects faults and recovers', async () => {
    try {
      server.setFault('http500');
      expect((await rejection(sql`SELECT 1`)).message).toMatch(/HTTP status 500/);
      server.setFault('none');
      expect(await sql`SELECT 2 AS n`).toEqual([{ n: 2 }]);

      server.setFault('reset');
      expect((await rejection(sql`SELECT 1`)).message).toMatch(/Error connecting to database/);

      server.setFault('hang');
      const timedOut = await rejection(sql.query('SELECT 1', [], { fetchOptions: { signal: AbortSignal.timeout(150) } }));
      expect(timedOut.message).toMatch(/Error connecting to database/);
      // NeonQueryPromise is lazy: rejection() subscribes, which is what sends the request.
      const received = server.requests;
      const waiting = rejection(sql`SELECT 1`);
      await vi.waitUntil(() => server.requests > received); // the request is held, not merely sent
      server.setFault('none');
      expect((await waiting).message).toMatch(/HTTP status 503/);
      expect(await sql`SELECT 3 AS n`).toEqual([{ n: 3 }]);
    } finally {
      server.setFault('none');
    }
  });

  it('closes quickly with hanging requests, then refuses connections', async () => {
    const other = await startNeonHttp();
    endpoint = other.url;
    const tagged = neon(`${dbUrl}?application_name=neon-http-close-test`);
    const backends = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'neon-http-close-test'`;
    try {
      expect(await tagged.transaction([tagged`SELECT 4 AS n`, tagged`SELECT 5 AS n`])).toEqual([[{ n: 4 }], [{ n: 5 }]]);
      expect((await direct.query(backends)).rows).toEqual([{ n: 1 }]);
      other.setFault('hang');
      const received = other.requests;
      const hanging = rejection(tagged`SELECT 1`);
      await vi.waitUntil(() => other.requests > received); // the request is held, not merely sent
      const started = Date.now();
      await other.close();
      expect(Date.now() - started).toBeLessThan(1000);
      expect((await direct.query(backends)).rows).toEqual([{ n: 0 }]);
      expect((await hanging).message).toMatch(/Error connecting to database/);
      expect((await rejection(tagged`SELECT 1`)).message).toMatch(/Error connecting to database/);
    } finally {
      endpoint = server.url;
      await other.close().catch(() => {});
    }
  });
});
