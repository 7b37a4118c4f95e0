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
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { APP } from '../../src/app-map/app';
import worker from '../../src/index';
import { DONE, SENTINEL_TTL_SECONDS, sentinelKey } from '../../src/redis/sentinels';
import { CRONS } from '../../src/run/registry';
import { nextRunAt } from '../../src/run/schedule';
import { seedAccount } from '../layouts/app-rows';
import { endpointStats, provisionEnv, q, sql, type TestEnv, testDb, testRedis, writeResult } from '../worker/support';

const DAY_START = Date.parse('2099-12-01T00:00:00.000Z');
const MIN = 60_000;
const MONTHLY = '0 0 1 * *';
/** Neon Free suspends a compute after 5 minutes without queries. */
const NEON_IDLE_MINUTES = 5;

interface Invocation {
  kind: 'cron' | 'queue';
  cron: string;
  minute: number;
  neon: number;
  upstashRequests: number;
  upstashBilled: number;
}

/** Every delivery of the day in time order (the monthly before the 12-hourly at 00:00, then the tick). */
function deliveries(): Array<{ cron: string; at: number }> {
  const order = Object.keys(CRONS).sort((a, b) => a.length - b.length);
  const out: Array<{ cron: string; at: number }> = [];
  for (const cron of order) {
    for (let at = DAY_START - 1; ;) {
      const next = nextRunAt(cron, new Date(at))?.getTime();
      if (next === undefined || next >= DAY_START + 1440 * MIN) break;
      out.push({ cron, at: next });
      at = next;
    }
  }
  return out.sort((a, b) => a.at - b.at || order.indexOf(b.cron) - order.indexOf(a.cron));
}

/** Neon wake-ups caused by the Worker: a query while the compute is asleep (neither the app nor a query of the last 5 minutes holds it up). */
function wakeUps(invocations: Invocation[], appMinutes: number[]): number {
  const awake = new Uint8Array(1440 + NEON_IDLE_MINUTES);
  for (const m of appMinutes) awake.fill(2, m, m + NEON_IDLE_MINUTES);
  let n = 0;
  for (const inv of invocations.filter((i) => i.neon > 0)) {
    const m = Math.floor(inv.minute);
    if (awake[m] === 0) n++;
    for (let t = m; t < m + NEON_IDLE_MINUTES; t++) if (awake[t] === 0) awake[t] = 1;
  }
  return n;
}

function perDay(xs: Invocation[], appMinutes: number[]) {
  const sum = (k: 'neon' | 'upstashRequests' | 'upstashBilled') => xs.reduce((n, x) => n + x[k], 0);
  return {
    cronDeliveries: xs.filter((i) => i.kind === 'cron').length,
    postgresDeliveries: xs.filter((i) => i.kind === 'cron' && i.neon > 0).length,
    queueInvocations: xs.filter((i) => i.kind === 'queue').length,
    neonRequests: sum('neon'),
    upstashRequests: sum('upstashRequests'),
    upstashCommandsBilled: sum('upstashBilled'),
    wakeUps: wakeUps(xs, appMinutes),
  };
}

const chat = APP.role('chat');
const ACTIVE_FROM = 8 * 60;
const ACTIVE_TO = 22 * 60;
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
  const pending: unknown[] = [];
  const env = { ...e, CONTINUATIONS: { send: async (body: unknown) => void pending.push(body) } as unknown as Queue };
  const invocations: Invocation[] = [];
  const appMinutes: number[] = [];
  const measure = async (kind: Invocation['kind'], cron: string, minute: number, invoke: () => Promise<void>) => {
    const before = await endpointStats(e);
    await invoke();
    const after = await endpointStats(e);
    invocations.push({
      kind,
      cron,
      minute,
      neon: after.neonRequests - before.neonRequests,
      upstashRequests: after.upstashRequests - before.upstashRequests,
      upstashBilled: (after.upstashBilled ?? 0) - (before.upstashBilled ?? 0),
    });
  };
  let n = 0;
  let slot = ACTIVE_FROM / 10;
  for (const { cron, at } of deliveries()) {
    const minute = (at - DAY_START) / MIN;
    // The app acts between ticks, once per 10 minutes of its active hours (and once after, to finish).
    while (busy && slot * 10 <= minute && slot * 10 <= ACTIVE_TO) {
      await appSlot(e, slot, chatIds);
      if (slot * 10 < ACTIVE_TO) for (let m = slot * 10; m < slot * 10 + 10; m++) appMinutes.push(m);
      slot++;
    }
    await measure('cron', cron, minute, async () => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ cron, scheduledTime: at }), env, ctx);
      await waitOnExecutionContext(ctx);
    });
    while (pending.length > 0) {
      const body = pending.shift();
      await measure('queue', cron, minute, async () => {
        const batch = createMessageBatch('spacerr-jobs-continuations', [{ id: `m${++n}`, timestamp: at, attempts: 1, body }]);
        const ctx = createExecutionContext();
        await worker.queue(batch, env, ctx);
        expect((await getQueueResult(batch, ctx)).retryMessages).toEqual([]);
      });
    }
  }
  vi.restoreAllMocks();
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
