/**
 * clear-stale-streams on Spacerr's layout with STREAM_STATE `resumable-stream` (wrangler.toml's
 * default), against real Postgres and Redis. The app's side is written as the AI SDK's resume
 * recipe (ai-sdk.dev/docs/ai-sdk-ui/chatbot-resume-streams) and the `resumable-stream` package
 * (github.com/vercel/resumable-stream, src/runtime.ts) write it: `createNewResumableStream` sets
 * `<prefix>:rs:sentinel:<streamId>` to "1" with a 24 h expiry, then the chat's `activeStreamId`
 * names the stream; when it finishes the sentinel becomes "DONE" (24 h again) and the column is
 * cleared if it still names that stream. `resumableStream` instead INCRs the sentinel (a count,
 * no expiry). A stream's age is what its sentinel's expiry has run down.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { APP } from '../../src/app-map/app';
import { DONE, SENTINEL_TTL_SECONDS, sentinelKey } from '../../src/redis/sentinels';
import { seedAccount } from '../layouts/app-rows';
import { endpointStats, provisionEnv, q, runNamed, Session, setFault, sql, type TestEnv, testDb, testRedis } from '../worker/support';

const JOB = 'clear-stale-streams';
const PREFIX = 'resumable-stream';
/** wrangler.toml's STREAM_MAX_DURATION_SECONDS: the starter kit's chat route `maxDuration`. */
const MAX_DURATION = 300;

const chat = APP.role('chat');
const col = chat.col('activeStreamId');

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});

const key = (streamId: string) => sentinelKey(PREFIX, streamId);

/** `createNewResumableStream` `ageSeconds` ago, then the recipe's save of the stream id on the chat. */
async function startStream(chatId: string, streamId: string, ageSeconds = 0) {
  await testRedis(e).set(key(streamId), '1', { ex: SENTINEL_TTL_SECONDS - ageSeconds });
  await testDb(e).execute(sql`UPDATE ${chat.table} SET ${col} = ${streamId} WHERE ${chat.id} = ${chatId}`);
}

/** The package's end of a stream (sentinel "DONE" for 24 h), without the app's clearing of the column. */
const finishSentinel = (streamId: string) => testRedis(e).set(key(streamId), DONE, { ex: SENTINEL_TTL_SECONDS });

async function columns(): Promise<Record<string, string | null>> {
  const rows = await q<{ id: string; s: string | null }>(
    testDb(e),
    sql`SELECT ${chat.id} AS id, ${col} AS s FROM ${chat.table} ORDER BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.id, r.s]));
}

async function sentinel(streamId: string) {
  const redis = testRedis(e);
  return { value: await redis.get(key(streamId)), ttl: await redis.ttl(key(streamId)) };
}

/** What `resumeExistingStream` does first (src/runtime.ts): no sentinel → undefined, "DONE" → null, at once; else it waits for a producer. */
async function resumeAnswersAtOnce(streamId: string): Promise<boolean> {
  const value = await testRedis(e).get(key(streamId));
  return value === null || value === DONE;
}

async function chats(n: number) {
  const s = await seedAccount(testDb(e), new Date(), {
    id: 'u',
    chats: Array.from({ length: n }, () => ({ ageMinutes: 60, messages: 1 })),
  });
  return s.chatIds;
}

describe(`${JOB} (resumable-stream)`, () => {
  it('resets the column of chats whose stream is finished, gone or older than the longest run; keeps live ones', async () => {
    const [live, edge, done, gone, dead, counted, idle] = await chats(7);
    await startStream(live!, 's-live', 10);
    await startStream(edge!, 's-edge', MAX_DURATION); // exactly the longest run: may still be live
    await startStream(done!, 's-done', 40);
    await finishSentinel('s-done'); // the function finished but died before clearing the column
    await startStream(gone!, 's-gone', 40);
    await testRedis(e).del(key('s-gone')); // expired or evicted
    await startStream(dead!, 's-dead', MAX_DURATION + 1); // its function was killed at maxDuration
    // `resumableStream`'s INCR: a listener count, no expiry.
    await testDb(e).execute(sql`UPDATE ${chat.table} SET ${col} = 's-count' WHERE ${chat.id} = ${counted}`);
    await testRedis(e).incr(key('s-count'));
    await testRedis(e).incr(key('s-count'));
    await testRedis(e).set('other-app:rs:sentinel:s-x', '1'); // another prefix: not this app's

    const report = await runNamed(e, JOB);

    expect(report).toMatchObject({ status: 'succeeded', more: false, counts: { active_streams_cleared: 3, sentinels_ended: 1 } });
    expect(await columns()).toEqual({
      [live!]: 's-live',
      [edge!]: 's-edge',
      [done!]: null,
      [gone!]: null,
      [dead!]: null,
      [counted!]: 's-count',
      [idle!]: null,
    });
    // The dead sentinel is ended, keeping what was left of its expiry: a reload resumes "done" at once.
    const ended = await sentinel('s-dead');
    expect(ended.value).toBe(DONE);
    expect(ended.ttl).toBeGreaterThan(0);
    expect(ended.ttl).toBeLessThanOrEqual(SENTINEL_TTL_SECONDS - MAX_DURATION - 1);
    expect(await resumeAnswersAtOnce('s-dead')).toBe(true);
    // Live ones untouched; the counted one now has the package's expiry, so its age counts from here.
    expect(await sentinel('s-live')).toEqual({ value: '1', ttl: expect.any(Number) });
    expect((await sentinel('s-edge')).value).toBe('1');
    expect(await sentinel('s-count')).toEqual({ value: '2', ttl: SENTINEL_TTL_SECONDS });
    expect(await sentinel('s-done')).toEqual({ value: DONE, ttl: expect.any(Number) });
    expect(await testRedis(e).get('other-app:rs:sentinel:s-x')).toBe('1');
  });

  it('dry run counts the stale chats and changes nothing', async () => {
    const [a, b] = await chats(2);
    await startStream(a!, 's-a', MAX_DURATION + 60);
    await startStream(b!, 's-b', 5);
    const before = { cols: await columns(), a: await sentinel('s-a') };

    const report = await runNamed(e, JOB, { dryRun: true });

    expect(report).toMatchObject({ status: 'succeeded', dryRun: true, counts: { active_streams_stale: 1, stream_deletions: 0 } });
    expect({ cols: await columns(), a: await sentinel('s-a') }).toEqual(before);
  });

  it('costs one read, one script and one UPDATE a page of chats naming a stream, and no Redis call without any', async () => {
    const ids = await chats(3);
    let before = await endpointStats(e);
    const quiet = await runNamed(e, JOB);
    let after = await endpointStats(e);
    // Lock, the page (empty), the stream_deletions read, finish; nothing to ask Redis.
    expect(after.upstashRequests - before.upstashRequests).toBe(0);
    expect(quiet).toMatchObject({ status: 'succeeded', subrequests: 4 });

    await startStream(ids[0]!, 's-0', MAX_DURATION + 5);
    await startStream(ids[1]!, 's-1', 1);
    before = await endpointStats(e);
    const report = await runNamed(e, JOB);
    after = await endpointStats(e);
    expect(after.upstashRequests - before.upstashRequests).toBe(1);
    // Lock, the page, the UPDATE, the stream_deletions read, finish.
    expect(after.neonRequests - before.neonRequests).toBe(5);
    expect(report.counts).toMatchObject({ active_streams_cleared: 1, sentinels_ended: 1 });
  });

  it('empties the queue of deleted chats without a Redis call: nothing in Redis is keyed by chat', async () => {
    const [gone] = await chats(2);
    await testDb(e).execute(sql`DELETE FROM ${chat.table} WHERE ${chat.id} = ${gone}`);
    const before = await endpointStats(e);

    const report = await runNamed(e, JOB);

    const after = await endpointStats(e);
    expect(report).toMatchObject({ status: 'succeeded', counts: { stream_deletions: 1 } });
    expect(report.counts).not.toHaveProperty('redis_streams');
    expect(after.upstashRequests - before.upstashRequests).toBe(0);
    expect(await q(testDb(e), sql`SELECT chat_id FROM spacerr_jobs.stream_deletions`)).toEqual([]);
  });

  it('fails cleanly when Upstash fails: no column reset without its sentinel judged, the next run clears it', async () => {
    const [c] = await chats(1);
    await startStream(c!, 's-dead', MAX_DURATION + 30);
    vi.spyOn(console, 'error').mockImplementation(() => {});
    await setFault(e, 'upstash', 'http500');

    const failed = await runNamed(e, JOB);

    expect(failed.status).toBe('failed');
    expect(await columns()).toEqual({ [c!]: 's-dead' });
    await setFault(e, 'upstash', 'none');
    expect(await sentinel('s-dead')).toMatchObject({ value: '1' });
    const report = await runNamed(e, JOB);
    expect(report).toMatchObject({ status: 'succeeded', counts: { active_streams_cleared: 1, sentinels_ended: 1 } });
    expect(await columns()).toEqual({ [c!]: null });
    vi.restoreAllMocks();
  });
});

/**
 * The races: the app writes while the job runs. The test holds the chat's row in an open
 * transaction of the app's (a Node-side session), so the job reads the committed column, judges
 * that stream stale in Redis, and its UPDATE then waits for the test's lock; the test commits only
 * once Postgres shows that UPDATE waiting, then the job goes on.
 */
describe(`${JOB} racing the app`, () => {
  async function whileJobWaits(appTx: (s: Session) => Promise<void>) {
    const app = await Session.open(e);
    const watch = await Session.open(e);
    try {
      await app.query('BEGIN');
      await appTx(app);
      const run = runNamed(e, JOB);
      let settled = false;
      void run.finally(() => (settled = true)).catch(() => {});
      for (let i = 0; ; i++) {
        if (settled || i > 2000) throw new Error("the job's UPDATE never waited for the app's transaction");
        const [row] = await watch.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE $1`,
          [`update ${chatTable()} as c set %`],
        );
        if (row?.n === 1) break;
      }
      await app.query('COMMIT');
      return await run;
    } finally {
      await app.close();
      await watch.close();
    }
  }

  it('never clears a stream that starts while the job runs (the column names a new stream after the job read the old)', async () => {
    const [c] = await chats(1);
    await startStream(c!, 's-old', 30);
    await finishSentinel('s-old'); // finished; the column was left naming it

    const report = await whileJobWaits(async (app) => {
      // The user sends the next message: a new stream starts (sentinel first, then the chat row).
      await testRedis(e).set(key('s-new'), '1', { ex: SENTINEL_TTL_SECONDS });
      await app.query(`UPDATE ${chatTable()} SET "${chat.colName('activeStreamId')}" = 's-new' WHERE "${chat.map.id.name}" = $1`, [c]);
    });

    expect(report).toMatchObject({ status: 'succeeded', counts: { active_streams_cleared: 0 } });
    expect(await columns()).toEqual({ [c!]: 's-new' });
    expect(await sentinel('s-new')).toEqual({ value: '1', ttl: expect.any(Number) });
  });

  it('counts nothing for a stream that finishes while the job runs: the app cleared it, the job leaves it so', async () => {
    const [c] = await chats(1);
    await startStream(c!, 's-1', 20);

    const report = await whileJobWaits(async (app) => {
      // The stream finishes: the package ends the sentinel, the recipe clears the column if it still names it.
      await finishSentinel('s-1');
      await app.query(
        `UPDATE ${chatTable()} SET "${chat.colName('activeStreamId')}" = NULL WHERE "${chat.map.id.name}" = $1 AND "${chat.colName('activeStreamId')}" = 's-1'`,
        [c],
      );
    });

    expect(report).toMatchObject({ status: 'succeeded', counts: { active_streams_cleared: 0, sentinels_ended: 0 } });
    expect(await columns()).toEqual({ [c!]: null });
    const s = await sentinel('s-1');
    expect(s.value).toBe(DONE);
    // The package's own 24 h, not rewritten by the job.
    expect(s.ttl).toBeGreaterThan(SENTINEL_TTL_SECONDS - 60);
  });
});

const chatTable = () => `"${APP.schema}"."${chat.name}"`;
