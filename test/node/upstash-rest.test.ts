import { randomUUID } from 'node:crypto';
import { Redis, type RedisConfigNodejs } from '@upstash/redis';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { freePort } from '../../scripts/stack/ports.ts';
import { startRedisServer } from '../../scripts/stack/redis.ts';
import { startUpstashRest, type UpstashRestServer } from '../../scripts/stack/upstash-rest.ts';

const DB = 200;
const OTHER_DB = 201;
const TOKEN = 'upstash-rest-test-200';
const OTHER_TOKEN = 'upstash-rest-test-201';

let srv: UpstashRestServer;

/** The real client with its defaults (base64 responses, auto-pipelining) but no retries. */
function client(overrides: Partial<RedisConfigNodejs> = {}, server: UpstashRestServer = srv): Redis {
  return new Redis({ url: server.url, token: TOKEN, retry: { retries: 0 }, enableTelemetry: false, ...overrides });
}

const AUTH = { authorization: `Bearer ${TOKEN}` };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw request, to assert the wire format and status codes. */
async function raw(path: string, body: unknown, headers: Record<string, string> = AUTH, base = srv.url) {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as unknown };
}

beforeAll(async () => {
  srv = await startUpstashRest({ redisUrl: inject('stack').redisUrl });
  srv.addToken(TOKEN, DB);
  srv.addToken(OTHER_TOKEN, OTHER_DB);
  await client().flushdb();
  await client({ token: OTHER_TOKEN }).flushdb();
});

afterAll(() => srv?.close());

afterEach(() => srv.setFault('none'));

describe('upstash REST endpoint with the real @upstash/redis client', () => {
  const redis = () => client();

  it('round-trips strings, unicode, JSON-looking values and nil', async () => {
    const r = redis();
    const unicode = 'héllo wörld ✓ 🚀 日本語';
    const json = '{"a":1,"b":[true,null]}';
    expect(await r.set('s:plain', 'value')).toBe('OK');
    await Promise.all([r.set('s:unicode', unicode), r.set('s:json', json), r.set('s:ok', 'OK'), r.set('s:b64ish', 'PONG')]);
    await r.set('s:obj', { x: 1, y: 'z' });
    expect(await r.get('s:plain')).toBe('value');
    expect(await r.get('s:unicode')).toBe(unicode);
    expect(await r.get('s:json')).toEqual({ a: 1, b: [true, null] });
    expect(await r.get('s:obj')).toEqual({ x: 1, y: 'z' });
    expect(await r.get('s:ok')).toBe('OK');
    expect(await r.get('s:b64ish')).toBe('PONG');
    expect(await r.get('s:missing')).toBeNull();

    const plain = client({ automaticDeserialization: false });
    expect(await plain.get('s:json')).toBe(json);
    expect(await plain.get('s:unicode')).toBe(unicode);
  });

  it('returns integers, arrays with nil, and hashes', async () => {
    const r = redis();
    expect(await r.incr('n:counter')).toBe(1);
    expect(await r.incrby('n:counter', 41)).toBe(42);
    await r.rpush('l:list', 'a', 'OK', 'ü');
    expect(await r.lrange('l:list', 0, -1)).toEqual(['a', 'OK', 'ü']);
    await r.set('m:one', 'first');
    expect(await r.mget('m:one', 'm:missing')).toEqual(['first', null]);

    expect(await r.hset('h:hash', { f1: 'v1', f2: 2 })).toBe(2);
    expect(await r.hget('h:hash', 'f1')).toBe('v1');
    expect(await r.hincrby('h:hash', 'f2', 3)).toBe(5);
    expect(await r.hgetall('h:hash')).toEqual({ f1: 'v1', f2: 5 });
    expect(await r.hget('h:hash', 'nope')).toBeNull();
  });

  it('handles sorted sets', async () => {
    const r = redis();
    expect(await r.zadd('z:set', { score: 1, member: 'a' }, { score: 2.5, member: 'b' }, { score: 3, member: 'c' })).toBe(3);
    expect(await r.zrange('z:set', 0, -1)).toEqual(['a', 'b', 'c']);
    expect(await r.zrange('z:set', 2, 3, { byScore: true, withScores: true })).toEqual(['b', 2.5, 'c', 3]);
    expect(await r.zrange('z:set', '-inf', '+inf', { byScore: true, offset: 1, count: 1 })).toEqual(['b']);
    expect(await r.exec(['ZRANGEBYSCORE', 'z:set', '-inf', '+inf', 'WITHSCORES', 'LIMIT', '0', '2'])).toEqual(['a', 1, 'b', 2.5]);
    expect(await r.zscore('z:set', 'b')).toBe(2.5);
    expect(await r.zrem('z:set', 'b', 'zz')).toBe(1);
    expect(await r.zscore('z:set', 'b')).toBeNull();
  });

  it('supports SET NX/PX, DEL counts and EXISTS', async () => {
    const r = redis();
    expect(await r.set('k:lock', 'me', { nx: true, px: 5_000 })).toBe('OK');
    expect(await r.set('k:lock', 'you', { nx: true, px: 5_000 })).toBeNull();
    const pttl = await r.pttl('k:lock');
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5_000);
    expect(await r.set('k:absent', 'x', { xx: true })).toBeNull();
    await r.set('k:other', '1');
    expect(await r.exists('k:lock', 'k:other', 'k:absent')).toBe(2);
    expect(await r.del('k:lock', 'k:other', 'k:absent')).toBe(2);
    expect(await r.exists('k:lock')).toBe(0);
  });

  it('runs EVAL with nested arrays, integers and strings', async () => {
    const r = redis();
    expect(await r.eval('return 42', [], [])).toBe(42);
    expect(await r.eval("return 'héllo'", [], [])).toBe('héllo');
    const nested = await r.eval(
      "return {1, 'two', {3, 'four', {redis.call('SET', KEYS[1], ARGV[1])}}, KEYS[1], redis.call('GET', KEYS[1])}",
      ['e:key'],
      ['v'],
    );
    expect(nested).toEqual([1, 'two', [3, 'four', ['OK']], 'e:key', 'v']);
  });

  it('runs a fresh script via EVALSHA, falling back to EVAL on NOSCRIPT', async () => {
    const r = redis();
    const source = `-- ${randomUUID()}\nreturn ARGV[1] .. ':' .. KEYS[1]`;
    const script = r.createScript<string>(source);
    await expect(r.evalsha('0'.repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);
    expect(await script.exec(['k'], ['v'])).toBe('v:k');
    expect(await script.evalsha(['k2'], ['w'])).toBe('w:k2');
    const sha = await r.scriptLoad('return 7');
    expect(await r.evalsha(sha, [], [])).toBe(7);
  });

  it('keeps pipeline errors per command', async () => {
    const r = redis();
    const build = () => r.pipeline().set('p:str', 'notanint').incr('p:str').get('p:str').incr('p:n');
    await expect(build().exec()).rejects.toThrow(/Command 2 \[ incr \] failed: ERR value is not an integer/);
    const kept = await build().exec({ keepErrors: true });
    expect(kept.map((e) => e.error)).toEqual([undefined, expect.stringMatching(/^ERR value is not an integer/), undefined, undefined]);
    expect(kept.map((e) => e.result)).toEqual(['OK', undefined, 'notanint', 2]);
    // auto-pipelined single call vs. a plain POST / (400 {error})
    await expect(r.incr('p:str')).rejects.toThrow(/ERR value is not an integer/);
    await expect(client({ enableAutoPipelining: false }).incr('p:str')).rejects.toThrow(/ERR value is not an integer.*command was/);
    expect(await raw('/pipeline', [['SET', 'p:raw', 'x'], ['INCR', 'p:raw'], ['NOTACOMMAND']])).toEqual({
      status: 200,
      body: [
        { result: 'OK' },
        { error: 'ERR value is not an integer or out of range' },
        { error: expect.stringMatching(/^ERR unknown command/) },
      ],
    });
    expect(await raw('/', ['INCR', 'p:raw'])).toEqual({ status: 400, body: { error: 'ERR value is not an integer or out of range' } });
  });

  it('executes multi() atomically', async () => {
    const r = redis();
    expect(await r.multi().set('t:k', 1).incr('t:k').get('t:k').exec()).toEqual(['OK', 2, 2]);
    const aborted = await raw('/multi-exec', [['SET', 't:never', '1'], ['NOTACOMMAND']]);
    expect(aborted).toEqual({ status: 400, body: { error: expect.stringMatching(/^EXECABORT/) } });
    expect(await r.get('t:never')).toBeNull();
  });

  it('encodes the wire format as the client expects', async () => {
    await raw('/', ['SET', 'w:k', 'vé']);
    expect(await raw('/', ['GET', 'w:k'], { ...AUTH, 'upstash-encoding': 'base64' })).toEqual({
      status: 200,
      body: { result: Buffer.from('vé').toString('base64') },
    });
    expect(await raw('/', ['SET', 'w:k', 'x'], { ...AUTH, 'upstash-encoding': 'base64' })).toEqual({ status: 200, body: { result: 'OK' } });
    expect(await raw('/', ['GET', 'w:k'])).toEqual({ status: 200, body: { result: 'x' } });
    expect(await raw('/nope', ['GET', 'w:k'])).toMatchObject({ status: 404 });

    const plain = client({ responseEncoding: false });
    await plain.rpush('w:list', 'ü', 'OK');
    expect(await plain.lrange('w:list', 0, -1)).toEqual(['ü', 'OK']);
    await plain.zadd('w:z', { score: 1.5, member: 'm' });
    expect(await plain.zrange('w:z', 0, -1, { withScores: true })).toEqual(['m', 1.5]);
    expect(await plain.get('w:k')).toBe('x');
  });

  it('rejects a wrong or missing token with 401', async () => {
    await expect(client({ token: 'wrong' }).get('x')).rejects.toThrow(/WRONGPASS/);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {}); // the client warns about an empty token
    await expect(client({ token: '' }).get('x')).rejects.toThrow(/WRONGPASS/);
    warn.mockRestore();
    await expect(client({ token: 'wrong', enableAutoPipelining: false }).get('x')).rejects.toThrow(/WRONGPASS/);
    expect(await raw('/', ['GET', 'x'], {})).toEqual({ status: 401, body: { error: expect.stringMatching(/WRONGPASS/) } });
    expect(await raw('/pipeline', [['GET', 'x']], { authorization: 'Bearer wrong' })).toMatchObject({ status: 401 });
  });

  it('isolates tokens mapped to different databases', async () => {
    await redis().set('iso:key', 'db200');
    const other = client({ token: OTHER_TOKEN });
    expect(await other.get('iso:key')).toBeNull();
    await other.set('iso:key', 'db201');
    expect(await redis().get('iso:key')).toBe('db200');
    expect(await other.get('iso:key')).toBe('db201');
  });

  it('injects faults and recovers', async () => {
    const r = redis();
    srv.setFault('http500');
    await expect(r.get('f:x')).rejects.toThrow(/injected fault/);
    srv.setFault('none');
    expect(await r.set('f:x', 'back')).toBe('OK');
    srv.setFault('reset');
    await expect(r.get('f:x')).rejects.toThrow();
    srv.setFault('none');
    expect(await r.get('f:x')).toBe('back');

    srv.setFault('hang');
    const aborted = fetch(`${srv.url}/`, { method: 'POST', headers: AUTH, body: '["GET","f:x"]', signal: AbortSignal.timeout(150) });
    await expect(aborted).rejects.toThrow();
    const held = r.get('f:x');
    await sleep(100);
    srv.setFault('none');
    expect(await held).toBe('back');
  });

  it('rejects hanging and later calls once the endpoint is closed', async () => {
    const own = await startUpstashRest({ redisUrl: inject('stack').redisUrl });
    own.addToken(TOKEN, DB);
    const r = client({}, own);
    expect(await r.set('c:x', '1')).toBe('OK');
    own.setFault('hang');
    const held = r.get('c:x').then(
      () => 'resolved',
      () => 'rejected',
    );
    await sleep(50);
    const started = Date.now();
    await own.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await held).toBe('rejected');
    await expect(r.get('c:x')).rejects.toThrow();
  });

  // Upstash puts no time limit on a script (upstash.com/docs/redis/commands/scripting/eval: a script
  // holds the database while it runs, nothing ends it early); the endpoint never times a script out
  // (no ioredis commandTimeout). A dedicated Redis, so the busy server blocks no other test.
  describe('a long-running script, as at Upstash (no script time limit)', () => {
    // Busy-waits ARGV[1] ms by the server's clock, then returns ARGV[2].
    const SPIN = `local t = redis.call('TIME') local start = t[1] * 1000000 + t[2]
      while true do local n = redis.call('TIME')
        if n[1] * 1000000 + n[2] - start >= tonumber(ARGV[1]) * 1000 then return ARGV[2] end end`;

    it('answers a script that runs past 2 s with its result, not 503', async () => {
      const own = await startRedisServer();
      const ep = await startUpstashRest({ redisUrl: own.url });
      try {
        ep.addToken(TOKEN, 0);
        expect(await client({}, ep).eval(SPIN, [], ['2300', 'finished'])).toBe('finished');
      } finally {
        await ep.close();
        await own.stop();
      }
    });

    it('closes promptly while a script is still running', async () => {
      const own = await startRedisServer();
      const ep = await startUpstashRest({ redisUrl: own.url });
      try {
        ep.addToken(TOKEN, 0);
        expect(await client({}, ep).ping()).toBe('PONG'); // connected, so the script goes straight to Redis
        const running = client({}, ep)
          .eval(SPIN, [], ['1500', 'finished'])
          .then(
            () => 'resolved',
            () => 'rejected',
          );
        await vi.waitUntil(() => ep.requests === 2);
        const started = Date.now();
        await ep.close();
        expect(Date.now() - started).toBeLessThan(1_000);
        expect(await running).toBe('rejected');
      } finally {
        await ep.close();
        await own.stop();
      }
    });
  });

  it('answers 503 quickly when Redis is unreachable or goes away', async () => {
    const nowhere = await startUpstashRest({ redisUrl: `redis://127.0.0.1:${await freePort()}` });
    nowhere.addToken(TOKEN, DB);
    let started = Date.now();
    await expect(client({}, nowhere).get('x')).rejects.toThrow(/redis unavailable/);
    expect(await raw('/', ['GET', 'x'], AUTH, nowhere.url)).toMatchObject({ status: 503 });
    expect(Date.now() - started).toBeLessThan(2_500);
    await nowhere.close();

    const own = await startRedisServer();
    const ep = await startUpstashRest({ redisUrl: own.url });
    try {
      ep.addToken(TOKEN, 3);
      expect(await client({}, ep).set('x', '1')).toBe('OK');
      await own.stop();
      started = Date.now();
      await expect(client({}, ep).get('x')).rejects.toThrow(/redis unavailable/);
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      await ep.close();
      await own.stop();
    }
  });
});
