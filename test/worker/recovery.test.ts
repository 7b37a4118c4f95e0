/**
 * Recovery of a failed scheduled run (src/chain/recovery.ts), through the Worker's own scheduled and
 * queue handlers against this file's database: the failed run sends one delayed message, its
 * delivery runs the job again as a job_runs row continuing the failed run, a failing attempt is
 * retried on the backoff and given up after the last, and a queue that refuses the send is logged.
 * The same path through wrangler dev's real local queue is in test/node/recovery.test.ts.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import { parseConfig } from '../../src/settings';
import worker from '../../src/index';
import type { WireMessage } from '../../src/chain/chain';
import { RECOVERY_STEPS, recoveryDelay } from '../../src/chain/recovery';
import { nextRunAt } from '../../src/run/schedule';
import { SWEEPS } from '../../src/jobs';
import { seedAccount } from './seed';
import { provisionEnv, q, setFault, sql, type TestEnv, testDb } from './support';

const JOB = 'delete-stale-deactivated-accounts';
const MONTHLY = '0 0 1 * *';

let e: TestEnv;
let sent: Array<{ body: WireMessage; delaySeconds: number | undefined }>;
let errors: MockInstance;
let warnings: MockInstance;

beforeEach(async () => {
  sent = [];
  // The producer side only records what is sent: the deliveries below are made by hand, the way
  // the runtime makes them, so each can be checked on its own.
  const queue = {
    send: async (body: WireMessage, opts?: QueueSendOptions) => void sent.push({ body, delaySeconds: opts?.delaySeconds }),
  };
  e = { ...(await provisionEnv()), CONTINUATIONS: queue as unknown as Queue };
  errors = vi.spyOn(console, 'error').mockImplementation(() => {});
  warnings = vi.spyOn(console, 'warn').mockImplementation(() => {});
  vi.spyOn(console, 'log').mockImplementation(() => {});
});
afterEach(() => vi.restoreAllMocks());

const events = (spy: MockInstance) => spy.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);

async function fire() {
  const controller = createScheduledController({ cron: MONTHLY, scheduledTime: new Date() });
  const ctx = createExecutionContext();
  const done = worker.scheduled(controller, e, ctx);
  await waitOnExecutionContext(ctx);
  return done;
}

async function deliver(body: unknown, attempts: number) {
  const id = `msg-${attempts}`;
  const batch = createMessageBatch('spacerr-jobs-continuations', [{ id, timestamp: Date.now(), attempts, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, e, ctx);
  return { id, result: await getQueueResult(batch, ctx) };
}

const runs = () =>
  q<{ id: string; trigger: string; status: string; continues: string | null }>(
    testDb(e),
    sql`SELECT id, trigger, status, continues FROM spacerr_jobs.job_runs WHERE job = ${JOB} ORDER BY started_at, id`,
  );
const users = async () => (await q<{ id: string }>(testDb(e), sql`SELECT id FROM users ORDER BY id`)).map((r) => r.id);

describe('a scheduled run that fails', () => {
  it('is retried through the queue a minute later, as a run continuing the failed one, which does the work', async () => {
    await seedAccount(testDb(e), new Date(), { id: 'gone', deactivatedDaysAgo: 40 });
    // Request 1 checks the slots (src/chain/slots.ts), 2 takes the lock; the first batch and its two
    // retries lose their connection (Neon's 400).
    await setFault(e, 'neon', 'connection-lost', { afterRequests: 2, count: 3 });
    await expect(fire()).rejects.toThrow(/delete-stale-deactivated-accounts failed/);
    const [failed] = await runs();
    expect(failed).toMatchObject({ trigger: 'scheduled', status: 'failed' });
    expect(await users()).toEqual(['gone']);
    // The sweeps that were to follow the failed run's chain follow its recovery instead.
    // (The configured ones: account events are off here.)
    const config = parseConfig(e as unknown as Record<string, unknown>);
    const then = SWEEPS.filter((job) => job.enabled?.(config) ?? true).map((job) => job.name);
    expect(sent).toEqual([{ body: { job: JOB, continues: failed!.id, hop: 1, recovery: true, then }, delaySeconds: 60 }]);
    expect(events(warnings)).toContainEqual(expect.objectContaining({ event: 'recovery_sent', continues: failed!.id, attempt: 1 }));

    const delivered = await deliver(sent[0]!.body, 1);
    expect(delivered.result.explicitAcks).toEqual([delivered.id]);
    expect(await users()).toEqual([]);
    expect(await runs()).toEqual([failed, expect.objectContaining({ trigger: 'queue', status: 'succeeded', continues: failed!.id })]);

    // Delivered twice: recognised, acked, nothing run again.
    const again = await deliver(sent[0]!.body, 1);
    expect(again.result.explicitAcks).toEqual([again.id]);
    expect((await runs()).at(-1)).toMatchObject({ status: 'skipped', continues: failed!.id });
  });

  it('a failing attempt is delivered again on the backoff, each attempt a run continuing the failed one; the 4th is the last', async () => {
    await seedAccount(testDb(e), new Date(), { id: 'gone', deactivatedDaysAgo: 40 });
    // After the slot check and the lock.
    await setFault(e, 'neon', 'http500', { afterRequests: 2, count: 3 });
    await expect(fire()).rejects.toThrow();
    const body = sent[0]!.body;

    await setFault(e, 'neon', 'http500', { afterRequests: 1, count: 3 }); // still down for attempts 1-4
    for (const attempt of [1, 2, 3]) {
      const { id, result } = await deliver(body, attempt);
      expect([result.retryMessages.map((m) => m.msgId), result.explicitAcks]).toEqual([[id], []]);
      await setFault(e, 'neon', 'http500', { afterRequests: 1, count: 3 });
    }
    expect(
      events(warnings)
        .filter((l) => l.event === 'recovery_sent')
        .map((l) => [l.attempt, l.delaySeconds]),
    ).toEqual([
      [1, 60],
      [2, 300],
      [3, 900],
      [4, 3600],
    ]);
    const last = await deliver(body, 4);
    expect([last.result.retryMessages, last.result.explicitAcks]).toEqual([[], [last.id]]);
    expect(events(errors)).toContainEqual(expect.objectContaining({ event: 'recovery_exhausted', continues: body.continues, attempts: 4 }));
    const all = await runs();
    expect(all.map((r) => [r.trigger, r.status, r.continues])).toEqual([
      ['scheduled', 'failed', null],
      ...Array.from({ length: 4 }, () => ['queue', 'failed', body.continues]),
    ]);
    expect(await users()).toEqual(['gone']); // the next cron, or a manual run, does it
  });

  it('when the queue refuses the send, logs recovery_failed and fails the cron invocation as a failed run does', async () => {
    e = { ...e, CONTINUATIONS: { send: () => Promise.reject(new Error('Queue send failed: 503')) } as unknown as Queue };
    await setFault(e, 'neon', 'connection-lost', { count: 3 }); // the slot check, the lock request and its one retry
    await expect(fire()).rejects.toThrow(/failed/);
    expect(events(errors)).toContainEqual(expect.objectContaining({ event: 'recovery_failed', job: JOB, recovery: true }));
    expect(await runs()).toEqual([]); // a lock-phase failure leaves no row; its log line is the record
    expect(events(errors)).toContainEqual(expect.objectContaining({ event: 'job_run', job: JOB, status: 'failed', phase: 'lock' }));
  });
});

// Pinned apart: without these, removing the guard in recoveryDelay would pass the suite.
describe('recovery of a failed scheduled run', () => {
  const config = { recoveryDelaySeconds: 60 };
  const HOURLY = '0 * * * *';

  it('waits its step when the next cron is further away', () => {
    const now = new Date('2026-12-01T10:00:05Z');
    expect(recoveryDelay(1, config, now, nextRunAt(HOURLY, now))).toBe(RECOVERY_STEPS[0] * 60);
  });

  it("makes no attempt that would land at or after the job's next cron: that run is the retry", () => {
    const now = new Date('2026-12-01T10:59:30Z'); // the next cron is 30 s away, the first step 60 s
    expect(recoveryDelay(1, config, now, nextRunAt(HOURLY, now))).toBeUndefined();
    const exactly = new Date('2026-12-01T10:59:00Z'); // lands exactly on it
    expect(recoveryDelay(1, config, exactly, nextRunAt(HOURLY, exactly))).toBeUndefined();
  });

  it('stops after its last step', () => {
    expect(recoveryDelay(RECOVERY_STEPS.length + 1, config, new Date('2026-12-01T10:00:00Z'), null)).toBeUndefined();
  });
});
