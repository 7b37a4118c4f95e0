/**
 * Missed cron slots (src/chain/slots.ts), through the Worker's real `scheduled()` handler against the
 * real stack: a slot whose delivery never came is run once by a later delivery that touches
 * Postgres anyway, and recorded as missed (history, listing, log line, heartbeat); a slot
 * delivered twice runs once; an idle tick checks nothing.
 */
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { heartbeatVariable } from '../../src/config/parse';
import { createApp } from '../../src/http/app';
import worker from '../../src/index';
import { seedAccount } from './seed';
import { countRows, endpointStats, heartbeatCheck, provisionEnv, q, sql, type TestEnv, testDb } from './support';

const MONTHLY = '0 0 1 * *';
const TWELVE_HOURLY = '0 */12 * * *';
const TICK = '*/10 * * * *';
const ACCOUNTS = 'delete-stale-deactivated-accounts';
const CHATS = 'delete-stale-empty-chats';

let e: TestEnv;
let sent: unknown[];
beforeEach(async () => {
  e = await provisionEnv({ CRON_SECRET: 'slots-secret' });
  sent = [];
});
afterEach(() => vi.restoreAllMocks());

async function deliver(cron: string, at: string, env: Env = e) {
  const ctx = createExecutionContext();
  const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
  await worker.scheduled(createScheduledController({ cron, scheduledTime: new Date(at) }), { ...env, CONTINUATIONS: queue }, ctx);
  await waitOnExecutionContext(ctx);
}

const runsOf = (job: string) =>
  q<{ trigger: string; status: string; slot: string | null; missed: string[] | null; error: string | null }>(
    testDb(e),
    sql`SELECT trigger, status, to_char(slot AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS slot, missed, error
        FROM spacerr_jobs.job_runs WHERE job = ${job} ORDER BY started_at, id`,
  );

const logged = (spy: { mock: { calls: unknown[][] } }) => spy.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>);

describe('a slot whose delivery never came', () => {
  it('is run once by the next 12-hourly delivery, and shows as missed in the history, the listing, the log and the heartbeat', async () => {
    const db = testDb(e);
    const check = heartbeatCheck('accounts');
    const env = { ...e, [heartbeatVariable(ACCOUNTS)]: check.url } as Env;
    // November's run: the job's latest slot.
    await deliver(MONTHLY, '2099-11-01T00:00:00.000Z', env);
    // Deactivated 40 days before December's slot: due then, not in November.
    await seedAccount(db, new Date('2099-12-01T00:00:00.000Z'), { id: 'gone', deactivatedDaysAgo: 40 });
    // December's monthly delivery never comes. The 12-hourly one of the same minute does not take
    // it for missed (that delivery may be running), and an idle tick does not look (nor touch Postgres).
    await deliver(TWELVE_HOURLY, '2099-12-01T00:00:00.000Z', env);
    const before = await endpointStats(e);
    await deliver(TICK, '2099-12-01T00:10:00.000Z', env);
    expect((await endpointStats(e)).neonRequests).toBe(before.neonRequests);
    expect(await countRows(db, 'users')).toBe(1);

    const warn = vi.spyOn(console, 'warn');
    await deliver(TWELVE_HOURLY, '2099-12-01T12:00:00.000Z', env);
    expect(await countRows(db, 'users')).toBe(0);
    expect(await runsOf(ACCOUNTS)).toEqual([
      { trigger: 'scheduled', status: 'succeeded', slot: '2099-11-01T00:00:00.000Z', missed: null, error: null },
      { trigger: 'scheduled', status: 'succeeded', slot: '2099-12-01T00:00:00.000Z', missed: ['2099-12-01T00:00:00.000Z'], error: null },
    ]);
    expect(logged(warn)).toContainEqual(
      expect.objectContaining({
        event: 'slots_missed',
        job: ACCOUNTS,
        delivery: TWELVE_HOURLY,
        slots: ['2099-12-01T00:00:00.000Z'],
        catchUp: true,
      }),
    );
    const pings = await check.received();
    expect(pings.at(-1)?.path).toMatch(/\/fail$/);
    expect(pings.at(-1)?.body).toMatch(/1 slot\(s\) of cron "0 0 1 \* \*" were never delivered \(2099-12-01T00:00:00\.000Z\)/);

    const res = await createApp().request('/api/internal/jobs', { headers: { Authorization: 'Bearer slots-secret' } }, e);
    const listing = (await res.json()) as { jobs: Array<{ name: string; missed: { slots: string[] } | null }> };
    expect(listing.jobs.find((j) => j.name === ACCOUNTS)?.missed).toMatchObject({ slots: ['2099-12-01T00:00:00.000Z'] });
    expect(listing.jobs.find((j) => j.name === CHATS)?.missed).toBeNull();

    // Later deliveries find the slot run: no second catch-up; the late delivery itself runs nothing.
    await deliver(TWELVE_HOURLY, '2099-12-02T00:00:00.000Z', env);
    await deliver(MONTHLY, '2099-12-01T00:00:00.000Z', env);
    // (The runs' pruning, by the simulated clock, may have taken November's row by now.)
    const december = (await runsOf(ACCOUNTS)).filter((r) => r.slot === '2099-12-01T00:00:00.000Z');
    expect(december.map((r) => [r.status, r.error])).toEqual([
      ['succeeded', null],
      ['skipped', 'this slot already ran (a cron delivery that came twice)'],
    ]);
  });

  it('of the delivery’s own cron is recorded by its next run, which is the one catch-up', async () => {
    await deliver(TWELVE_HOURLY, '2099-11-30T00:00:00.000Z');
    await deliver(TWELVE_HOURLY, '2099-12-01T12:00:00.000Z');
    expect(await runsOf(CHATS)).toEqual([
      { trigger: 'scheduled', status: 'succeeded', slot: '2099-11-30T00:00:00.000Z', missed: null, error: null },
      {
        trigger: 'scheduled',
        status: 'succeeded',
        slot: '2099-12-01T12:00:00.000Z',
        missed: ['2099-11-30T12:00:00.000Z', '2099-12-01T00:00:00.000Z'],
        error: null,
      },
    ]);
    // The monthly job had no slot recorded yet (a fresh install): nothing of it counts as missed.
    expect(await runsOf(ACCOUNTS)).toEqual([]);
  });

  it('is run once even when several deliveries find it missed', async () => {
    await deliver(MONTHLY, '2099-10-01T00:00:00.000Z');
    // Two months lost: one catch-up, for the latest slot, naming both.
    await deliver(TWELVE_HOURLY, '2099-12-01T12:00:00.000Z');
    await deliver(TWELVE_HOURLY, '2099-12-02T00:00:00.000Z');
    expect(await runsOf(ACCOUNTS)).toEqual([
      { trigger: 'scheduled', status: 'succeeded', slot: '2099-10-01T00:00:00.000Z', missed: null, error: null },
      {
        trigger: 'scheduled',
        status: 'succeeded',
        slot: '2099-12-01T00:00:00.000Z',
        missed: ['2099-11-01T00:00:00.000Z', '2099-12-01T00:00:00.000Z'],
        error: null,
      },
    ]);
  });
});

describe('a catch-up that finds the job busy', () => {
  it('leaves the slot missed, and the next delivery that checks runs it', async () => {
    const db = testDb(e);
    await deliver(MONTHLY, '2099-11-01T00:00:00.000Z');
    // Another run of the account job holds its lock (a manual run, say) when the catch-up comes.
    await db.execute(sql`INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, status, lease_until)
      VALUES ('holder', ${ACCOUNTS}, 'http', now(), 'running', now() + interval '5 minutes')`);
    await deliver(TWELVE_HOURLY, '2099-12-01T12:00:00.000Z');
    expect((await runsOf(ACCOUNTS)).at(-1)).toMatchObject({
      status: 'skipped',
      slot: null,
      error: 'another run of this job is in progress',
    });
    await db.execute(
      sql`UPDATE spacerr_jobs.job_runs SET status = 'succeeded', finished_at = now(), lease_until = NULL WHERE id = 'holder'`,
    );
    await deliver(TWELVE_HOURLY, '2099-12-02T00:00:00.000Z');
    expect((await runsOf(ACCOUNTS)).at(-1)).toEqual({
      trigger: 'scheduled',
      status: 'succeeded',
      slot: '2099-12-01T00:00:00.000Z',
      missed: ['2099-12-01T00:00:00.000Z'],
      error: null,
    });
  });
});

describe('a slot delivered twice', () => {
  it('runs once: the second delivery is recorded skipped and deletes nothing', async () => {
    const db = testDb(e);
    const at = new Date('2099-12-01T12:00:00.000Z');
    await seedAccount(db, at, { id: 'u', chats: [{ ageMinutes: 60 }] });
    await deliver(TWELVE_HOURLY, at.toISOString());
    // The app makes another stale empty chat: a second run of the slot would delete it.
    await seedAccount(db, at, { id: 'v', chats: [{ ageMinutes: 60 }] });
    await deliver(TWELVE_HOURLY, at.toISOString());
    expect(await q(db, sql`SELECT id FROM chats`)).toEqual([{ id: 'v-c0' }]);
    expect((await runsOf(CHATS)).map((r) => [r.status, r.error])).toEqual([
      ['succeeded', null],
      ['skipped', 'this slot already ran (a cron delivery that came twice)'],
    ]);
  });
});
