/**
 * An idle simulated day on Spacerr's layout with STREAM_STATE `resumable-stream`: every cron of
 * wrangler.toml delivered as often as it fires on the 1st of a month, through the Worker's real
 * `scheduled()` and `queue()`, every queue message delivered at once. Spacerr writes no heartbeats:
 * the ticks look for a live sentinel in Upstash instead, and must still leave Neon asleep. One
 * stream died before the day began (its chat still names it, its sentinel still says "1"): the
 * first tick ends the sentinel (a reload answers "done" at once), and the sweeps that follow the
 * 12-hourly run reset the chat's column. Then a busy day: users stream 8:00–22:00 UTC (a stream
 * live at each tick, finished before the next; one an hour dies), and the ticks run the sweeps,
 * which reset the dead streams' chats within one tick. The figures go to
 * bench/results/simulated-days-spacerr.json.
 */
import { afterAll, describe, expect, it, vi } from 'vitest';
import { APP } from '../../src/app-map/app';
import { DONE, SENTINEL_TTL_SECONDS, sentinelKey } from '../../src/redis/sentinels';
import { seedAccount } from '../layouts/app-rows';
import { ACTIVE_FROM, ACTIVE_TO, DAY_START, Day, deliveries, type Invocation, MIN, neonFigures } from '../worker/simulated-day';
import { provisionEnv, q, sql, type TestEnv, testDb, testRedis, writeResult } from '../worker/support';

const MONTHLY = '0 0 1 * *';

function perDay(xs: Invocation[], appMinutes: number[]) {
  const sum = (k: 'neon' | 'upstashRequests' | 'upstashBilled') => xs.reduce((n, x) => n + x[k], 0);
  return {
    cronDeliveries: xs.filter((i) => i.kind === 'cron').length,
    postgresDeliveries: xs.filter((i) => i.kind === 'cron' && i.neon > 0).length,
    queueInvocations: xs.filter((i) => i.kind === 'queue').length,
    neonRequests: sum('neon'),
    upstashRequests: sum('upstashRequests'),
    upstashCommandsBilled: sum('upstashBilled'),
    wakeUps: neonFigures(xs, appMinutes).wakeUps,
  };
}

const chat = APP.role('chat');
const sentinel = (id: string) => sentinelKey('resumable-stream', id);

/** The app's streams in a busy day's slot of 10 minutes: what the recipe writes (see test/spacerr/stale-streams.test.ts). */
async function appSlot(e: TestEnv, slot: number, chatIds: string[]) {
  const db = testDb(e);
  const redis = testRedis(e);
  const chatId = chatIds[slot % chatIds.length]!;
  const previous = `s-${slot - 1}`;
  // The stream that died in the slot before was judged dead at the tick in between: its chat
  // names it no more and its sentinel answers "done".
  if (slot % 6 === 4 && slot > ACTIVE_FROM / 10) {
    expect(await q(db, sql`SELECT ${chat.id} FROM ${chat.table} WHERE ${chat.col('activeStreamId')} = ${`died-${slot - 1}`}`)).toEqual([]);
    expect(await redis.get(sentinel(`died-${slot - 1}`))).toBe(DONE);
  }
  // The previous slot's stream finished: the package ends its sentinel, the recipe clears the column.
  await redis.set(sentinel(previous), DONE, { ex: SENTINEL_TTL_SECONDS });
  await db.execute(sql`UPDATE ${chat.table} SET ${chat.col('activeStreamId')} = NULL WHERE ${chat.col('activeStreamId')} = ${previous}`);
  if (slot * 10 >= ACTIVE_TO) return;
  // A new stream, live at the coming tick: sentinel first, then the chat row.
  await redis.set(sentinel(`s-${slot}`), '1', { ex: SENTINEL_TTL_SECONDS });
  await db.execute(sql`UPDATE ${chat.table} SET ${chat.col('activeStreamId')} = ${`s-${slot}`} WHERE ${chat.id} = ${chatId}`);
  // Once an hour a stream's function dies: by the coming tick its sentinel is 10 minutes old.
  if (slot % 6 === 3) {
    const dead = chatIds[(slot + 1) % chatIds.length]!;
    await redis.set(sentinel(`died-${slot}`), '1', { ex: SENTINEL_TTL_SECONDS - 600 });
    await db.execute(sql`UPDATE ${chat.table} SET ${chat.col('activeStreamId')} = ${`died-${slot}`} WHERE ${chat.id} = ${dead}`);
  }
}

async function simulate(busy: boolean) {
  const e = await provisionEnv({}, { dedicatedRedis: true });
  const db = testDb(e);
  const { chatIds } = await seedAccount(db, new Date(DAY_START - 60 * MIN), {
    id: 'u',
    chats: Array.from({ length: 4 }, () => ({ ageMinutes: 60, messages: 2 })),
  });
  // The stream of yesterday 23:45, whose function died: its sentinel was set 15 minutes ago.
  await testRedis(e).set(sentinel('s-died'), '1', { ex: SENTINEL_TTL_SECONDS - 900 });
  await db.execute(sql`UPDATE ${chat.table} SET ${chat.col('activeStreamId')} = 's-died' WHERE ${chat.id} = ${chatIds[0]}`);

  vi.spyOn(console, 'log').mockImplementation(() => {});
  const day = new Day(e);
  const appMinutes: number[] = [];
  let slot = ACTIVE_FROM / 10;
  for (const { cron, at } of deliveries()) {
    const minute = (at - DAY_START) / MIN;
    // The app acts between ticks, once per 10 minutes of its active hours (and once after, to finish).
    while (busy && slot * 10 <= minute && slot * 10 <= ACTIVE_TO) {
      await appSlot(e, slot, chatIds);
      if (slot * 10 < ACTIVE_TO) for (let m = slot * 10; m < slot * 10 + 10; m++) appMinutes.push(m);
      slot++;
    }
    await day.deliver(cron, at);
  }
  vi.restoreAllMocks();
  const { invocations } = day;
  const ticks = invocations.filter((i) => i.kind === 'cron' && i.cron === '*/10 * * * *');
  return {
    e,
    ticks,
    figures: {
      firstOfMonth: perDay(invocations, appMinutes),
      otherDay: perDay(
        invocations.filter((i) => i.cron !== MONTHLY),
        appMinutes,
      ),
      ticks: { deliveries: ticks.length, postgresDeliveries: ticks.filter((t) => t.neon > 0).length },
    },
  };
}

const results: Record<string, unknown> = {};
afterAll(() =>
  writeResult('simulated-days-spacerr', {
    day: new Date(DAY_START).toISOString().slice(0, 10),
    layout: 'spacerr',
    streamState: 'resumable-stream',
    idleApp: 'no users; one stream died before the day (chat column set, sentinel "1")',
    busyApp: `as idle, then users stream ${ACTIVE_FROM / 60}:00–${ACTIVE_TO / 60}:00 UTC: a stream live at each tick and finished before the next, one an hour dies`,
    results,
  }),
);

const activeStreams = (e: TestEnv) => q<{ s: string | null }>(testDb(e), sql`SELECT ${chat.col('activeStreamId')} AS s FROM ${chat.table}`);

describe('simulated day, Spacerr layout', () => {
  it(
    'idle app: the ticks find no live sentinel and leave Neon asleep; a dead stream is cleared after the 12-hourly run',
    { timeout: 120_000 },
    async () => {
      const { e, ticks, figures } = await simulate(false);
      results.idle = figures;
      expect(ticks).toHaveLength(144);
      expect(ticks.filter((t) => t.neon > 0)).toEqual([]);
      expect(figures.firstOfMonth.postgresDeliveries).toBeLessThanOrEqual(3);
      expect(figures.firstOfMonth.wakeUps).toBeLessThanOrEqual(3);
      expect(figures.otherDay.wakeUps).toBeLessThanOrEqual(3);
      // The dead stream: its chat resumes nothing any more, its sentinel answers "done".
      expect((await activeStreams(e)).every((r) => r.s === null)).toBe(true);
      expect(await testRedis(e).get(sentinel('s-died'))).toBe(DONE);
    },
  );

  it(
    'busy app: every tick of the active hours runs the sweeps, and each dead stream is cleared by the tick after it died',
    { timeout: 180_000 },
    async () => {
      const { e, ticks, figures } = await simulate(true);
      results.busy = figures;
      // A live sentinel at each tick from 08:00 to 21:50; none after the last stream finished.
      expect(ticks.filter((t) => t.neon > 0).map((t) => t.minute)).toEqual(
        Array.from({ length: (ACTIVE_TO - ACTIVE_FROM) / 10 }, (_, i) => ACTIVE_FROM + i * 10),
      );
      expect((await activeStreams(e)).every((r) => r.s === null)).toBe(true);
      for (let slot = ACTIVE_FROM / 10 + 3; slot < ACTIVE_TO / 10; slot += 6)
        expect(await testRedis(e).get(sentinel(`died-${slot}`))).toBe(DONE);
    },
  );
});
