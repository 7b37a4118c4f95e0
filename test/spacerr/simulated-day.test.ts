/**
 * An idle simulated day on Spacerr's layout with STREAM_STATE `resumable-stream`: every cron of
 * wrangler.toml delivered as often as it fires on the 1st of a month, through the Worker's real
 * `scheduled()` and `queue()`, every queue message delivered at once. Spacerr writes no heartbeats:
 * the ticks look for a live sentinel in Upstash instead, and must still leave Neon asleep. One
 * stream died before the day began (its chat still names it, its sentinel still says "1"): the
 * first tick ends the sentinel (a reload answers "done" at once), and the sweeps that follow the
 * 12-hourly run reset the chat's column. The figures go to bench/results/simulated-days-spacerr.json.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { describe, expect, it, vi } from 'vitest';
import { APP } from '../../src/app-map/app';
import worker from '../../src/index';
import { DONE, SENTINEL_TTL_SECONDS, sentinelKey } from '../../src/redis/sentinels';
import { CRONS } from '../../src/run/registry';
import { nextRunAt } from '../../src/run/schedule';
import { seedAccount } from '../layouts/app-rows';
import { endpointStats, provisionEnv, q, sql, testDb, testRedis, writeResult } from '../worker/support';

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

function wakeUps(invocations: Invocation[]): number {
  const awake = new Uint8Array(1440 + NEON_IDLE_MINUTES);
  let n = 0;
  for (const inv of invocations.filter((i) => i.neon > 0)) {
    const m = Math.floor(inv.minute);
    if (awake[m] === 0) n++;
    awake.fill(1, m, m + NEON_IDLE_MINUTES);
  }
  return n;
}

function perDay(xs: Invocation[]) {
  const sum = (k: 'neon' | 'upstashRequests' | 'upstashBilled') => xs.reduce((n, x) => n + x[k], 0);
  return {
    cronDeliveries: xs.filter((i) => i.kind === 'cron').length,
    postgresDeliveries: xs.filter((i) => i.kind === 'cron' && i.neon > 0).length,
    queueInvocations: xs.filter((i) => i.kind === 'queue').length,
    neonRequests: sum('neon'),
    upstashRequests: sum('upstashRequests'),
    upstashCommandsBilled: sum('upstashBilled'),
    wakeUps: wakeUps(xs),
  };
}

describe('simulated day, Spacerr layout', () => {
  it(
    'idle app: the ticks find no live sentinel and leave Neon asleep; a dead stream is cleared after the 12-hourly run',
    { timeout: 120_000 },
    async () => {
      const e = await provisionEnv({}, { dedicatedRedis: true });
      const db = testDb(e);
      const chat = APP.role('chat');
      const [chatId] = (await seedAccount(db, new Date(DAY_START - 60 * MIN), { id: 'u', chats: [{ ageMinutes: 60, messages: 2 }] }))
        .chatIds;
      // The stream of yesterday 23:45, whose function died: its sentinel was set 15 minutes ago.
      await testRedis(e).set(sentinelKey('resumable-stream', 's-died'), '1', { ex: SENTINEL_TTL_SECONDS - 900 });
      await db.execute(sql`UPDATE ${chat.table} SET ${chat.col('activeStreamId')} = 's-died' WHERE ${chat.id} = ${chatId}`);

      vi.spyOn(console, 'log').mockImplementation(() => {});
      const pending: unknown[] = [];
      const env = { ...e, CONTINUATIONS: { send: async (body: unknown) => void pending.push(body) } as unknown as Queue };
      const invocations: Invocation[] = [];
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
      for (const { cron, at } of deliveries()) {
        const minute = (at - DAY_START) / MIN;
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

      const firstOfMonth = perDay(invocations);
      const otherDay = perDay(invocations.filter((i) => i.cron !== MONTHLY));
      const ticks = invocations.filter((i) => i.kind === 'cron' && i.cron === '*/10 * * * *');
      await writeResult('simulated-days-spacerr', {
        day: new Date(DAY_START).toISOString().slice(0, 10),
        layout: 'spacerr',
        streamState: 'resumable-stream',
        idleApp: 'no users; one stream died before the day (chat column set, sentinel "1")',
        results: {
          idle: { firstOfMonth, otherDay, ticks: { deliveries: ticks.length, postgresDeliveries: ticks.filter((t) => t.neon > 0).length } },
        },
      });

      expect(ticks).toHaveLength(144);
      expect(ticks.filter((t) => t.neon > 0)).toEqual([]);
      expect(firstOfMonth.postgresDeliveries).toBeLessThanOrEqual(3);
      expect(firstOfMonth.wakeUps).toBeLessThanOrEqual(3);
      expect(otherDay.wakeUps).toBeLessThanOrEqual(3);
      // The dead stream: its chat resumes nothing any more, its sentinel answers "done".
      expect(await q(db, sql`SELECT ${chat.col('activeStreamId')} AS s FROM ${chat.table}`)).toEqual([{ s: null }]);
      expect(await testRedis(e).get(sentinelKey('resumable-stream', 's-died'))).toBe(DONE);
    },
  );
});
