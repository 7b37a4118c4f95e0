/**
 * clear-stale-streams against real Redis (through the Upstash endpoint) and Postgres: stale
 * heartbeats and deleted chats lose their stream state, fresh or refreshed ones never do, and the
 * commands issued follow the stale entries, not the keyspace.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { ACTIVE_STREAMS_KEY } from '../../src/redis/streams';
import { seedAccount } from './seed';
import { countRows, endpointStats, provisionEnv, runNamed, Session, sql, type TestEnv, testDb, testRedis } from './support';

const JOB = 'clear-stale-streams';
const NOW = new Date('2026-11-01T12:00:00.000Z');
const MIN = 60_000;
const at = (minutesAgo: number, extraMs = 0) => NOW.getTime() - minutesAgo * MIN - extraMs;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});

const evalRedis = async (script: string, keys: string[], args: (string | number)[]) =>
  testRedis(e).eval(script, keys, args.map(String)) as Promise<unknown>;

/** What the app writes for each stream: the zset member with its heartbeat, and the string. */
async function addStreams(streams: Array<[chatId: string, scoreMs: number]>) {
  for (let i = 0; i < streams.length; i += 1000) {
    await evalRedis(
      `for i = 1, #ARGV, 2 do
         redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
         redis.call('SET', 'active-stream:' .. ARGV[i], 'stream-' .. ARGV[i])
       end`,
      [ACTIVE_STREAMS_KEY],
      streams.slice(i, i + 1000).flat(),
    );
  }
}

/** Every zset member with its score, and every active-stream:* string. */
async function snapshot() {
  const [zset, strings] = (await evalRedis(
    `return { redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES'), redis.call('KEYS', 'active-stream:*') }`,
    [ACTIVE_STREAMS_KEY],
    [],
  )) as [string[], string[]];
  const members: Record<string, number> = {};
  for (let i = 0; i < zset.length; i += 2) members[zset[i]!] = Number(zset[i + 1]);
  return { members, strings: strings.map((k) => k.slice('active-stream:'.length)).sort() };
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe(JOB, () => {
  it('removes streams whose heartbeat is older than 10 minutes, with their strings; keeps 9 and exactly 10', async () => {
    await addStreams([
      ['stale11', at(11)],
      ['stale10+1ms', at(10, 1)],
      ['exact10', at(10)],
      ['fresh9', at(9)],
      ['future', at(-1)],
    ]);
    await testRedis(e).set('active-stream:no-member', 'x'); // not ours to judge: no heartbeat entry

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'succeeded', more: false, counts: { redis_streams: 2, stream_deletions: 0 } });
    expect(await snapshot()).toEqual({
      members: { exact10: at(10), fresh9: at(9), future: at(-1) },
      strings: ['exact10', 'fresh9', 'future', 'no-member'],
    });
  });

  it('removes the stream of a chat the app deleted, even with a fresh heartbeat', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, {
      id: 'u',
      chats: [
        { ageMinutes: 30, messages: 2 },
        { ageMinutes: 30, messages: 1 },
      ],
    });
    const [gone, kept] = s.chatIds as [string, string];
    await addStreams([
      [gone, at(0)],
      [kept, at(0)],
    ]);
    await db.execute(sql`DELETE FROM chats WHERE id = ${gone}`);
    expect(await countRows(db, 'stream_deletions')).toBe(1);

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'succeeded', counts: { redis_streams: 1, stream_deletions: 1 } });
    expect(await snapshot()).toEqual({ members: { [kept]: at(0) }, strings: [kept] });
    expect(await countRows(db, 'stream_deletions')).toBe(0);
  });

  it('keeps a stream whose stale heartbeat was refreshed before the run', async () => {
    await addStreams([
      ['revived', at(30)],
      ['dead', at(30)],
    ]);
    await testRedis(e).zadd(ACTIVE_STREAMS_KEY, { score: at(1), member: 'revived' });

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report.counts.redis_streams).toBe(1);
    expect(await snapshot()).toEqual({ members: { revived: at(1) }, strings: ['revived'] });
  });

  it('never removes a stream whose heartbeat was fresh when the cleanup executed (heartbeats racing the run)', async () => {
    const racing = ids('race-', 200);
    const dead = ids('dead-', 100);
    await addStreams([...racing, ...dead].map((id): [string, number] => [id, at(30)]));

    // A probe heartbeat: ZADD a fresh score, atomically noting whether the stream's string still
    // existed at that instant, i.e. whether the heartbeat landed before the cleanup touched it.
    const heartbeat = async (id: string) =>
      Number(
        await evalRedis(
          `local had = redis.call('EXISTS', 'active-stream:' .. ARGV[1])
         redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
         return had`,
          [ACTIVE_STREAMS_KEY],
          [id, at(0)],
        ),
      ) === 1;
    const [report, ...before] = await Promise.all([
      runNamed(e, JOB, { now: NOW }),
      ...racing.map(async (id, i) => {
        await pause(i); // spread over ~200 ms, around the moment the run calls its script
        return heartbeat(id);
      }),
    ]);
    const landedBefore = racing.filter((_, i) => before[i]);
    const landedAfter = racing.filter((_, i) => !before[i]);
    console.log(`heartbeats before the cleanup: ${landedBefore.length}, after: ${landedAfter.length}`);

    const snap = await snapshot();
    // Every heartbeat counts: the member is there with its fresh score whichever side it landed on.
    for (const id of racing) expect(snap.members[id], id).toBe(at(0));
    // Fresh when the script ran ⇒ untouched (string kept). Stale then ⇒ removed, then re-added
    // by the later heartbeat without its string (the app re-creates it with its next stream).
    expect(snap.strings).toEqual([...landedBefore].sort());
    for (const id of dead) expect(snap.members[id], id).toBeUndefined();
    expect(report).toMatchObject({ status: 'succeeded', counts: { redis_streams: dead.length + landedAfter.length } });
  });

  it('issues one script call for 30 stale streams among 100,000 unrelated keys and 1,000 fresh streams', async () => {
    const redis = testRedis(e);
    // 100,000 keys: half of them look like stream strings of streams not in the zset.
    for (let b = 0; b < 10; b++) {
      await evalRedis(
        `for i = 1, 10000 do redis.call('SET', ARGV[1] .. i, 'x') end return 1`,
        [],
        [b < 5 ? `active-stream:ghost-${b}-` : `unrelated:${b}:`],
      );
    }
    const fresh = ids('fresh-', 1000);
    const stale = ids('stale-', 30);
    await addStreams([...fresh.map((id): [string, number] => [id, at(2)]), ...stale.map((id): [string, number] => [id, at(60)])]);
    expect(await redis.dbsize()).toBe(100_000 + 1 + 1030);

    const before = await endpointStats(e);
    const report = await runNamed(e, JOB, { now: NOW });
    const after = await endpointStats(e);

    // Upstash: one EVAL (30 < the batch of 500, so no second call). Neon: lock, the
    // stream_deletions read (empty, so no Redis call for it), finish.
    expect(after.upstashRequests - before.upstashRequests).toBe(1);
    expect(after.neonRequests - before.neonRequests).toBe(3);
    expect(report).toMatchObject({ status: 'succeeded', more: false, subrequests: 4, counts: { redis_streams: 30, stream_deletions: 0 } });
    expect(await redis.dbsize()).toBe(100_000 + 1 + 1000);
    const snap = await snapshot();
    expect(Object.keys(snap.members).sort()).toEqual([...fresh].sort());
  });

  it('dry run counts stale and queued streams and changes nothing', async () => {
    const db = testDb(e);
    const s = await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 30, messages: 1 }] });
    await addStreams([
      ['stale-a', at(20)],
      ['stale-b', at(11)],
      ['fresh', at(1)],
      [s.chatIds[0]!, at(0)],
    ]);
    await db.execute(sql`DELETE FROM chats`);
    const before = await snapshot();

    const report = await runNamed(e, JOB, { now: NOW, dryRun: true });

    expect(report).toMatchObject({ status: 'succeeded', dryRun: true, counts: { redis_streams: 2, stream_deletions: 1 } });
    expect(await snapshot()).toEqual(before);
    expect(Object.keys(before.members)).toHaveLength(4);
    expect(await countRows(db, 'stream_deletions')).toBe(1);
  });
});

describe('the stream queue drained by the account job and the sweep at once', () => {
  it('counts each queued chat once across both drains, whichever deletes it', async () => {
    const db = testDb(e);
    // Three chats the app deleted (queued), and an account past retention whose batch queues its chat.
    const app = await seedAccount(db, NOW, { id: 'app', chats: [1, 2, 3].map(() => ({ ageMinutes: 30, messages: 1 })) });
    const gone = await seedAccount(db, NOW, { id: 'gone', deactivatedDaysAgo: 60, chats: [{ ageMinutes: 90_000, messages: 1 }] });
    const chats = [...app.chatIds, ...gone.chatIds];
    await addStreams(chats.map((id): [string, number] => [id, at(0)]));
    await db.execute(sql`DELETE FROM chats WHERE user_id = 'app'`);
    expect(await countRows(db, 'stream_deletions')).toBe(3);

    // The test holds the queued rows: both drains read them and remove their Redis state, then
    // each DELETE waits for the test's lock. Released only once Postgres shows both waiting.
    const holder = await Session.open(e);
    const watch = await Session.open(e);
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT chat_id FROM spacerr_jobs.stream_deletions FOR UPDATE');
      const runs = Promise.all([runNamed(e, 'delete-stale-deactivated-accounts', { now: NOW }), runNamed(e, JOB, { now: NOW })]);
      let settled = false;
      void runs.finally(() => (settled = true)).catch(() => {});
      for (let i = 0; ; i++) {
        if (settled || i > 2000) throw new Error('the two drains did not both wait for the held rows');
        const [row] = await watch.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'delete from "spacerr_jobs"."stream_deletions"%'`,
        );
        if (row?.n === 2) break;
      }
      await holder.query('COMMIT');
      const [account, sweep] = await runs;
      expect(account).toMatchObject({ status: 'succeeded', counts: { users: 1, chats: 1 } });
      expect(sweep.status).toBe('succeeded');
      // Each counts what its own DELETE removed: together, every queued chat once.
      expect((account.counts.stream_deletions ?? 0) + (sweep.counts.stream_deletions ?? 0)).toBe(4);
      expect((account.counts.redis_streams ?? 0) + (sweep.counts.redis_streams ?? 0)).toBe(4);
    } finally {
      await holder.close();
      await watch.close();
    }
    expect(await countRows(db, 'stream_deletions')).toBe(0);
    expect(await snapshot()).toEqual({ members: {}, strings: [] });
  });
});
