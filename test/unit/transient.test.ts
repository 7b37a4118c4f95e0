// Retry by structure: every kind of failure, each built by the real client library the Worker
// uses (@neondatabase/serverless through Drizzle, @upstash/redis) from a canned HTTP answer of a
// throwaway loopback server, so the error objects are exactly what production code catches.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { neon, neonConfig } from '@neondatabase/serverless';
import { Redis } from '@upstash/redis/cloudflare';
import { DrizzleQueryError, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/neon-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyFailure, isTransient, timedOut } from '../../src/run/transient.ts';

interface Answer {
  status: number;
  body: string;
}
/** What the server answers next; `null` destroys the socket instead. */
let next: Answer | null = { status: 200, body: '{}' };
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (next === null) return void req.socket.destroy();
      res.writeHead(next.status, { 'content-type': 'application/json' }).end(next.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  neonConfig.fetchEndpoint = () => `${base}/sql`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const json = (status: number, body: unknown): Answer => ({ status, body: JSON.stringify(body) });

/** The error Drizzle on the Neon HTTP driver throws when the endpoint answers `answer`. */
async function neonError(answer: Answer | null, fetchFunction?: typeof fetch): Promise<unknown> {
  next = answer;
  neonConfig.fetchFunction = fetchFunction;
  try {
    await drizzle({ client: neon('postgres://u:p@db.example/spacerr') }).execute(sql`SELECT ${'503 chat ids'}::text`);
  } catch (err) {
    return err;
  } finally {
    neonConfig.fetchFunction = undefined;
  }
  throw new Error('the query succeeded');
}

/** The error the Upstash client throws for an EVAL whose arguments contain "503". */
async function upstashError(answer: Answer | null, url = base): Promise<unknown> {
  next = answer;
  const redis = new Redis({ url, token: 't', retry: { retries: 0 }, enableTelemetry: false, automaticDeserialization: false });
  try {
    await redis.eval('return 1', ['active-streams'], ['chat-503', '1700000503000']);
  } catch (err) {
    return err;
  }
  throw new Error('the command succeeded');
}

const pgError = (code: string, message: string) => json(400, { message, code, severity: 'ERROR' });

describe('Postgres through Neon and Drizzle', () => {
  it.each([
    ['40001 serialization failure', pgError('40001', 'could not serialize access'), true],
    ['40P01 deadlock', pgError('40P01', 'deadlock detected'), true],
    ['57P01 admin shutdown (backend terminated)', pgError('57P01', 'terminating connection due to administrator command'), true],
    ['08006 connection failure', pgError('08006', 'connection failure'), true],
    ['53300 too many connections (as a 400)', pgError('53300', 'too many connections'), true],
    ['57P03 starting up (as a 400)', pgError('57P03', 'the database system is starting up'), true],
    ['23505 unique violation', pgError('23505', 'duplicate key value violates unique constraint "x" (503)'), false],
    ['23503 foreign key violation', pgError('23503', 'insert or update violates foreign key constraint'), false],
    ['42601 syntax error', pgError('42601', 'syntax error at or near "503"'), false],
    ['42P01 undefined table', pgError('42P01', 'relation "job_runs" does not exist'), false],
    ['Neon 400 connection lost: "connection closed"', json(400, { message: 'connection closed', code: '' }), true],
    [
      'Neon 400 connection lost: "error communicating with the server"',
      json(400, { message: 'error communicating with the server: connection reset', code: '' }),
      true,
    ],
    ['Neon 400 wrong password (no SQLSTATE)', json(400, { message: 'password authentication failed for user "u"', code: '' }), false],
    ['Neon 500 with 53300 while connecting', json(500, { message: 'too many connections', code: '53300' }), true],
    ['Neon 500 with 57P03 while connecting', json(500, { message: 'the database system is starting up', code: '57P03' }), true],
    ['502 bad gateway (body without any telling word)', { status: 502, body: 'oops' }, true],
    ['503 unavailable', { status: 503, body: '' }, true],
    ['507 response too large', json(507, { message: 'response is too large (max is 10485760 bytes)' }), false],
    ['413 request too large', json(413, { message: 'request is too large' }), false],
    ['401 unauthorized', json(401, { message: 'unauthorized' }), false],
  ])('%s → transient %s', async (_, answer, transient) => {
    const err = await neonError(answer);
    expect(err).toBeInstanceOf(DrizzleQueryError);
    expect(err).toMatchObject({ cause: { name: 'NeonDbError' } });
    expect(classifyFailure(err)).toMatchObject({ transient });
  });

  it('a dropped connection (fetch rejects: NeonDbError with sourceError) is transient', async () => {
    const err = await neonError(null);
    expect((err as { cause: { sourceError?: unknown } }).cause.sourceError).toBeInstanceOf(TypeError);
    expect(classifyFailure(err)).toEqual({ transient: true, kind: 'neon: network (fetch TypeError)' });
  });

  it('our own request timeout (AbortSignal.timeout) is transient', async () => {
    const timeoutFetch = ((input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
      fetch(input, { ...init, signal: AbortSignal.abort(new DOMException('timed out', 'TimeoutError')) })) as typeof fetch;
    const err = await neonError(json(200, {}), timeoutFetch);
    expect(classifyFailure(err)).toEqual({ transient: true, kind: 'neon: timeout' });
    // The lock is not retried after a timeout (a hung endpoint would double the wait); a dropped
    // connection is not a timeout.
    expect(timedOut(err)).toBe(true);
    expect(timedOut(await neonError(null))).toBe(false);
  });
});

describe('Redis through Upstash', () => {
  it.each([
    [
      'WRONGTYPE whose arguments contain "503"',
      json(400, { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' }),
      false,
    ],
    [
      'ERR max requests limit exceeded (the daily quota)',
      json(400, { error: 'ERR max requests limit exceeded. Limit: 10000, Usage: 10000' }),
      false,
    ],
    ['WRONGPASS (bad token)', json(401, { error: 'WRONGPASS invalid or missing auth token' }), false],
    ['NOSCRIPT', json(400, { error: 'NOSCRIPT No matching script' }), false],
    ['LOADING', json(500, { error: 'LOADING Redis is loading the dataset in memory' }), true],
    ['BUSY (a script holds the database)', json(400, { error: 'BUSY Redis is busy running a script' }), true],
    ['a 5xx whose reply has no Redis code', json(503, { error: 'Service Unavailable' }), true],
    ['a gateway page that is not JSON', { status: 502, body: '<html>502 Bad Gateway</html>' }, true],
  ])('%s → transient %s', async (_, answer, transient) => {
    const err = (await upstashError(answer)) as Error;
    expect(err.name).toMatch(/^Upstash/);
    if (err.name === 'UpstashError') expect(err.message).toContain('503'); // the arguments are in the text
    expect(classifyFailure(err)).toMatchObject({ transient });
  });

  it('a dropped connection (fetch TypeError) is transient', async () => {
    const err = await upstashError(null);
    expect(err).toBeInstanceOf(TypeError);
    expect(isTransient(err)).toBe(true);
  });

  it('our own command timeout (signal) is transient', async () => {
    next = { status: 200, body: '{"result":1}' };
    const redis = new Redis({
      url: base,
      token: 't',
      retry: { retries: 0 },
      enableTelemetry: false,
      signal: () => AbortSignal.abort(new DOMException('timed out', 'TimeoutError')),
    });
    const err = await redis.ping().catch((e: unknown) => e);
    expect(classifyFailure(err)).toEqual({ transient: true, kind: 'timeout' });
  });
});

describe('anything else', () => {
  it.each([
    ['a plain Error mentioning 503 and "network"', new Error('HTTP status 503: network unavailable, timed out'), false],
    ['a budget programming error', Object.assign(new Error('subrequest budget of 5 exceeded'), { name: 'BudgetExceededError' }), false],
    ['an AbortError', new DOMException('aborted', 'AbortError'), true],
    ['an error carrying HTTP status 503', Object.assign(new Error('x'), { status: 503 }), true],
    ['an error carrying HTTP status 404', Object.assign(new Error('x'), { status: 404 }), false],
    ['a string', '503', false],
    ["workerd's dropped connection (a plain Error with the runtime's text)", new Error('Network connection lost.'), true],
    ['a plain Error that merely mentions it', new Error('chat 503: Network connection lost. (ours)'), false],
  ])('%s → transient %s', (_, err, transient) => {
    expect(isTransient(err)).toBe(transient);
  });
});
