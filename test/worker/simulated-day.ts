/**
 * The simulated days' machinery (simulated-day.test.ts here and in test/spacerr/):
 * the day's cron deliveries, a `Day` that delivers them and the queue messages they send through the
 * Worker's real `scheduled()` and `queue()` and measures each invocation at the endpoints, and the
 * Neon wake-ups those invocations cause.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { expect } from 'vitest';
import worker from '../../src/index';
import { CRONS } from '../support/crons';
import { nextRunAt } from '../../src/run/schedule';
import { endpointStats, type TestEnv } from './support';

// The 1st of a month, far in the future: queued runs use the real clock, so to them every simulated
// heartbeat is fresh, whatever day the test runs on (the ticks alone judge staleness, in simulated time).
export const DAY_START = Date.parse('2099-12-01T00:00:00.000Z');
export const MIN = 60_000;
export const DAY = 1440 * MIN;
/** The busy app's day: users chat from 08:00 to 22:00 UTC. */
export const ACTIVE_FROM = 8 * 60;
export const ACTIVE_TO = 22 * 60;
/** Neon Free suspends a compute after 5 minutes without queries. */
export const NEON_IDLE_MINUTES = 5;

export interface Invocation {
  kind: 'cron' | 'queue';
  /** The cron delivery this invocation belongs to (a queued run belongs to the one that sent it). */
  cron: string;
  minute: number;
  neon: number;
  upstashRequests: number;
  upstashBilled: number;
  r2: number;
  queueSends: number;
  subrequests: number;
}

/**
 * Every delivery of the day, in time order (the monthly before the 12-hourly at 00:00, then the
 * tick); `expressionOf` fires a cron on another schedule (the faster one).
 */
export function deliveries(expressionOf: (cron: string) => string = (cron) => cron): Array<{ cron: string; at: number }> {
  const order = Object.keys(CRONS).sort((a, b) => a.length - b.length);
  const out: Array<{ cron: string; at: number }> = [];
  for (const cron of order) {
    let at = DAY_START - 1;
    for (;;) {
      const next = nextRunAt(expressionOf(cron), new Date(at))?.getTime();
      if (next === undefined || next >= DAY_START + DAY) break;
      out.push({ cron, at: next });
      at = next;
    }
  }
  return out.sort((a, b) => a.at - b.at || order.indexOf(b.cron) - order.indexOf(a.cron));
}

/** Delivers crons and the queue messages they send to the Worker's real handlers, measuring each invocation. */
export class Day {
  readonly invocations: Invocation[] = [];
  private readonly pending: unknown[] = [];
  private r2 = 0;
  private sends = 0;
  private n = 0;
  readonly env: Env;

  constructor(private readonly e: TestEnv) {
    const blobs = e.BLOBS;
    this.env = {
      ...e,
      // Pass-throughs that count: the real R2 binding, and a queue whose messages this test delivers.
      BLOBS: { delete: (keys: string | string[]) => (this.r2++, blobs.delete(keys)) } as unknown as R2Bucket,
      CONTINUATIONS: { send: async (body: unknown) => (this.sends++, void this.pending.push(body)) } as unknown as Queue,
    };
  }

  private async measure(kind: Invocation['kind'], cron: string, minute: number, invoke: () => Promise<void>) {
    const before = await endpointStats(this.e);
    const [r2, sends] = [this.r2, this.sends];
    await invoke();
    const after = await endpointStats(this.e);
    const neon = after.neonRequests - before.neonRequests;
    const upstashRequests = after.upstashRequests - before.upstashRequests;
    const inv = {
      kind,
      cron,
      minute,
      neon,
      upstashRequests,
      upstashBilled: (after.upstashBilled ?? 0) - (before.upstashBilled ?? 0),
      r2: this.r2 - r2,
      queueSends: this.sends - sends,
      subrequests: 0,
    };
    inv.subrequests = inv.neon + inv.upstashRequests + inv.r2 + inv.queueSends;
    this.invocations.push(inv);
  }

  async deliver(cron: string, at: number) {
    const minute = (at - DAY_START) / MIN;
    await this.measure('cron', cron, minute, async () => {
      const ctx = createExecutionContext();
      await worker.scheduled(createScheduledController({ cron, scheduledTime: at }), this.env, ctx);
      await waitOnExecutionContext(ctx);
    });
    // The queue delivers each message to the consumer (one per invocation, max_batch_size = 1).
    while (this.pending.length > 0) {
      const body = this.pending.shift();
      await this.measure('queue', cron, minute, async () => {
        const batch = createMessageBatch('spacerr-jobs-continuations', [{ id: `m${++this.n}`, timestamp: at, attempts: 1, body }]);
        const ctx = createExecutionContext();
        await worker.queue(batch, this.env, ctx);
        const result = await getQueueResult(batch, ctx);
        expect(result.retryMessages).toEqual([]);
      });
    }
  }
}

/** Minutes Neon is up for the Worker alone: after each Worker query, 5 minutes, unless the app holds it up. */
export function neonFigures(invocations: Invocation[], appMinutes: number[]) {
  const awake = new Uint8Array(1440 + NEON_IDLE_MINUTES);
  for (const m of appMinutes) awake.fill(2, m, m + NEON_IDLE_MINUTES);
  let wakeUps = 0;
  let workerMinutes = 0;
  for (const inv of invocations.filter((i) => i.neon > 0)) {
    const m = Math.floor(inv.minute);
    if (awake[m] === 0) wakeUps++;
    for (let t = m; t < m + NEON_IDLE_MINUTES; t++) {
      if (awake[t] === 0) {
        awake[t] = 1;
        workerMinutes++;
      }
    }
  }
  return { wakeUps, workerAwakeMinutes: workerMinutes };
}
