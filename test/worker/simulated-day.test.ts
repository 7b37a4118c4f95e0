/**
 * Simulated days: every cron of wrangler.toml delivered as often as it fires in one day
 * (the 1st of a month, so the monthly one falls in it), through the Worker's real `scheduled()` and
 * `queue()` handlers, against the real stack. Every queue message the Worker sends is delivered to
 * its consumer at once. Per invocation the Neon endpoint's request counter says whether it reached
 * Postgres; a Redis of this file's own gives the Upstash commands billed (EVAL + its inner calls).
 * Once for an idle app and once for a busy one, on the default schedule and on a faster one a Paid
 * user might choose (the same expressions, fired more often). The figures go to
 * bench/results/simulated-days.json, from which `npm run cost:readme` writes the section of docs/cost.md.
 */
import { inArray } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { attachments, chats, messages } from '../support/app-tables';
import { ACTIVE_STREAMS_KEY } from '../../src/redis/streams';
import { CRONS } from '../support/crons';
import { previousRunAt } from '../../src/run/schedule';
import { seedAccount } from './seed';
import { ACTIVE_FROM, ACTIVE_TO, DAY, DAY_START, Day, deliveries, type Invocation, MIN, neonFigures } from './simulated-day';
import { provisionEnv, q, sql, type TestEnv, testDb, testRedis, writeResult } from './support';

/** How each default expression is fired on the faster schedule (same jobs, a Paid user's timing). */
const FAST: Record<string, string> = {
  '*/10 * * * *': '*/5 * * * *',
  '0 */12 * * *': '0 */3 * * *',
  '0 0 1 * *': '0 0 1 * *',
};

/** What the busy app does in one 10-minute slot of its active hours (between two ticks). */
async function appSlot(e: TestEnv, slot: number, at: number) {
  const db = testDb(e);
  const redis = testRedis(e);
  const now = new Date(at);
  // Users chatting: two live streams keep their heartbeat fresh; one stream per hour stops without
  // cleaning up (its heartbeat goes stale).
  await redis.zadd(ACTIVE_STREAMS_KEY, { score: at, member: `live-${slot % 6}` }, { score: at, member: `live-${(slot + 1) % 6}` });
  if (slot % 6 === 0) await redis.zadd(ACTIVE_STREAMS_KEY, { score: at, member: `gone-${slot}` });
  // A new user each hour: a chat with messages and a cited attachment, one left empty.
  if (slot % 6 === 0) {
    await seedAccount(db, now, { id: `s${slot}`, chats: [{ ageMinutes: 0, messages: 2, attachments: 2 }, { ageMinutes: 0 }] });
  }
  // Messages arriving in the chats of the last hour's user.
  const owner = `s${slot - (slot % 6)}`;
  await db.insert(messages).values({ id: `${owner}-x${slot}`, chatId: `${owner}-c0`, role: 'user', content: { text: 'hi' } });
  // Half an hour later the user deletes an attachment (its source is orphaned), and an hour later
  // the chat (blobs and stream state left to clean up).
  if (slot % 6 === 3) await db.delete(attachments).where(inArray(attachments.id, [`${owner}-c0-a1`]));
  if (slot % 6 === 5) await db.delete(chats).where(inArray(chats.id, [`${owner}-c0`]));
}

/** A delivery the platform loses (src/chain/slots.ts): the monthly one of the simulated day. */
const LOST_MONTHLY = (cron: string, at: number) => cron === MONTHLY && at === DAY_START;

async function simulate(busy: boolean, fast: boolean, lost: (cron: string, at: number) => boolean = () => false) {
  const e = await provisionEnv({}, { dedicatedRedis: true });
  const day = new Day(e);
  // The month before ran on time: the deleting jobs' latest slots, which a lost delivery is missed against.
  for (const cron of Object.keys(CRONS).filter((c) => c !== '*/10 * * * *')) {
    await day.deliver(cron, previousRunAt(cron, new Date(DAY_START))?.getTime() ?? DAY_START - DAY);
  }
  day.invocations.splice(0);
  const appMinutes: number[] = [];
  let slot = 0;
  for (const { cron, at } of deliveries(fast ? (cron) => FAST[cron] ?? cron : undefined)) {
    if (lost(cron, at)) continue;
    const minute = (at - DAY_START) / MIN;
    // The app acts between ticks: once per 10 minutes of its active hours, before the tick at that time.
    while (busy && slot * 10 <= minute && slot * 10 < ACTIVE_TO) {
      if (slot * 10 >= ACTIVE_FROM) {
        await appSlot(e, slot, DAY_START + slot * 10 * MIN);
        // Users chat through the whole slot: the app queries Postgres all along.
        for (let m = slot * 10; m < slot * 10 + 10; m++) appMinutes.push(m);
      }
      slot++;
    }
    await day.deliver(cron, at);
  }
  return { invocations: day.invocations, appMinutes, e };
}

function summarise(run: { invocations: Invocation[]; appMinutes: number[] }) {
  const sum = (xs: Invocation[], k: keyof Invocation) => xs.reduce((n, x) => n + (x[k] as number), 0);
  const perDay = (xs: Invocation[]) => ({
    cronDeliveries: xs.filter((i) => i.kind === 'cron').length,
    postgresDeliveries: xs.filter((i) => i.kind === 'cron' && i.neon > 0).length,
    queueInvocations: xs.filter((i) => i.kind === 'queue').length,
    postgresQueueInvocations: xs.filter((i) => i.kind === 'queue' && i.neon > 0).length,
    workerInvocations: xs.length,
    neonRequests: sum(xs, 'neon'),
    upstashRequests: sum(xs, 'upstashRequests'),
    upstashCommandsBilled: sum(xs, 'upstashBilled'),
    queueMessages: sum(xs, 'queueSends'),
    r2Calls: sum(xs, 'r2'),
    subrequests: sum(xs, 'subrequests'),
    maxSubrequestsPerInvocation: Math.max(0, ...xs.map((i) => i.subrequests)),
    ...neonFigures(xs, run.appMinutes),
  });
  const byCron: Record<string, { deliveries: number; postgresDeliveries: number }> = {};
  for (const i of run.invocations.filter((x) => x.kind === 'cron')) {
    const c = (byCron[i.cron] ??= { deliveries: 0, postgresDeliveries: 0 });
    c.deliveries++;
    if (i.neon > 0) c.postgresDeliveries++;
  }
  return {
    // The 1st of a month, with the monthly delivery, and any other day of the month.
    firstOfMonth: perDay(run.invocations),
    otherDay: perDay(run.invocations.filter((i) => CRONS[i.cron] && i.cron !== MONTHLY)),
    byCron,
  };
}

const MONTHLY = '0 0 1 * *';
const results: Record<string, ReturnType<typeof summarise>> = {};

afterAll(() =>
  writeResult('simulated-days', {
    day: new Date(DAY_START).toISOString().slice(0, 10),
    schedules: { default: Object.keys(CRONS), fast: Object.keys(CRONS).map((c) => FAST[c] ?? c) },
    busyApp: `users chat ${ACTIVE_FROM / 60}:00–${ACTIVE_TO / 60}:00 UTC: heartbeats every 10 min, a new user an hour, messages every 10 min, an attachment and a chat deleted an hour`,
    results,
  }),
);

describe('simulated days', () => {
  it('idle app, default schedule: at most 3 deliveries a day reach Postgres', { timeout: 120_000 }, async () => {
    const run = await simulate(false, false);
    const s = (results.idle = summarise(run));
    expect(s.byCron['*/10 * * * *']).toEqual({ deliveries: 144, postgresDeliveries: 0 });
    expect(s.byCron['0 */12 * * *']?.deliveries).toBe(2);
    expect(s.byCron[MONTHLY]?.deliveries).toBe(1);
    expect(s.firstOfMonth.postgresDeliveries).toBeLessThanOrEqual(3);
    // The sweeps still ran, right after each deleting run, through the queue.
    expect(s.firstOfMonth.postgresQueueInvocations).toBe(9);
    expect(s.firstOfMonth.wakeUps).toBe(2);
  });

  it(
    'idle app, the monthly delivery lost: the next 12-hourly delivery runs it once, still at most 3 wakes',
    { timeout: 120_000 },
    async () => {
      const run = await simulate(false, false, LOST_MONTHLY);
      const s = summarise(run);
      expect(s.byCron[MONTHLY]).toBeUndefined();
      expect(s.byCron['*/10 * * * *']).toEqual({ deliveries: 144, postgresDeliveries: 0 });
      expect(s.firstOfMonth.postgresDeliveries).toBeLessThanOrEqual(3);
      expect(s.firstOfMonth.wakeUps).toBeLessThanOrEqual(3);
      const runs = await q<{ slot: string; missed: string[] }>(
        testDb(run.e),
        sql`SELECT slot, missed FROM spacerr_jobs.job_runs
          WHERE job = 'delete-stale-deactivated-accounts' AND status = 'succeeded' AND missed IS NOT NULL`,
      );
      // One catch-up, by the 12:00 delivery (00:00's is of the same minute, the ticks are idle).
      const day = new Date(DAY_START).toISOString();
      expect(runs.map((r) => ({ slot: new Date(r.slot).toISOString(), missed: r.missed }))).toEqual([{ slot: day, missed: [day] }]);
      const twelve = run.invocations.filter((i) => i.kind === 'cron' && i.cron === '0 */12 * * *').map((i) => i.neon);
      // The 12:00 delivery made the catch-up as well as its own run: more requests than 00:00's.
      expect(twelve[1]).toBeGreaterThan(twelve[0]!);
    },
  );

  it('busy app, default schedule: the sweeps run on the tick while users chat', { timeout: 180_000 }, async () => {
    const run = await simulate(true, false);
    const s = (results.busy = summarise(run));
    const ticks = s.byCron['*/10 * * * *'];
    // From the first heartbeat (08:00) until the tick that finds the last one still fresh (22:00 + 10 min).
    expect(ticks?.postgresDeliveries).toBe((ACTIVE_TO - ACTIVE_FROM) / 10 + 1);
    expect(s.firstOfMonth.maxSubrequestsPerInvocation).toBeLessThanOrEqual(50);
    // What the app left behind was cleaned up by the sweeps of the evening's ticks.
    const db = testDb(run.e);
    const [left] = await q<Record<string, number>>(
      db,
      sql`SELECT (SELECT count(*)::int FROM spacerr_jobs.blob_deletions) AS blobs, (SELECT count(*)::int FROM spacerr_jobs.stream_deletions) AS streams,
                 (SELECT count(*)::int FROM message_sources WHERE attachment_id IS NULL) AS sources`,
    );
    expect(left).toEqual({ blobs: 0, streams: 0, sources: 0 });
    expect(await testRedis(run.e).zcard(ACTIVE_STREAMS_KEY)).toBe(0);
    expect(s.firstOfMonth.r2Calls).toBeGreaterThan(0);
  });

  it('idle and busy app on a faster schedule (a Paid choice)', { timeout: 300_000 }, async () => {
    const idle = summarise(await simulate(false, true));
    expect(idle.byCron['*/10 * * * *']?.postgresDeliveries).toBe(0);
    results.idleFast = idle;
    results.busyFast = summarise(await simulate(true, true));
  });
});
