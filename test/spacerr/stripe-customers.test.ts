/**
 * Stripe erasure on Spacerr's layout, whose user row carries Better Auth's `stripeCustomerId` and
 * whose `billing_subscription` row (cascading with the user) carries one too: deleting a user —
 * by the Worker's account batch or by the app's own DELETE — queues its customers in
 * stripe_customer_deletions in the same transaction, and delete-stripe-customers deletes them at
 * the local Stripe endpoint (scripts/stack/stripe.ts), with faults at a known request.
 */
import { beforeEach, describe, expect, inject, it } from 'vitest';
import { liftHold, placeHold } from '../../src/db/holds';
import { createApp } from '../../src/http/app';
import { insertInto, insertUser } from '../layouts/app-rows';
import { endpointStats, enabledJobs, provisionEnv, q, runNamed, sql, type TestEnv, testDb } from '../worker/support';

const JOB = 'delete-stripe-customers';
const ACCOUNTS = 'delete-stale-deactivated-accounts';
const AUTH = { Authorization: 'Bearer test-cron-secret-0123456789' };
const NOW = new Date();
const DAY = 86_400_000;

interface Endpoint {
  id: string;
  url: string;
  key: string;
}

async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${inject('stack').controlUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`control ${method} ${path}: ${await res.text()}`);
  return (await res.json()) as T;
}
const stripeState = (s: Endpoint) =>
  control<{ requests: number; customers: { live: string[]; deleted: string[] } }>('GET', `/stripe/${s.id}`);
const setStripeFault = (s: Endpoint, fault: string, schedule: { afterRequests?: number; count?: number } = {}) =>
  control('POST', `/stripe/${s.id}/fault`, { fault, ...schedule });

/** A customer created at the endpoint as the app's signup does (Better Auth's Stripe plugin). */
async function newCustomer(s: Endpoint): Promise<string> {
  const res = await fetch(`${s.url}/v1/customers`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${s.key}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'email=someone%40example.com',
  });
  return ((await res.json()) as { id: string }).id;
}

let stripe: Endpoint;
let e: TestEnv;
const withStripe = (extra: Record<string, string> = {}) =>
  provisionEnv({ STRIPE_SECRET_KEY: stripe.key, STRIPE_API_URL: stripe.url, ...extra } as Partial<Record<keyof Env, unknown>>);
beforeEach(async () => {
  stripe = await control<Endpoint>('POST', '/stripe');
  e = await withStripe();
});

/** A Spacerr user with its customer on the user row and, optionally, a billing row naming another. */
async function seedUser(id: string, opts: { deactivatedDaysAgo?: number; customer?: string; billingCustomer?: string }) {
  const db = testDb(e);
  await insertUser(db, id, opts.deactivatedDaysAgo === undefined ? null : new Date(NOW.getTime() - opts.deactivatedDaysAgo * DAY));
  if (opts.customer) await db.execute(sql`UPDATE "user" SET "stripeCustomerId" = ${opts.customer} WHERE id = ${id}`);
  if (opts.billingCustomer) {
    await insertInto(db, 'billing_subscription', { id: `bs_${id}`, userId: id, stripeCustomerId: opts.billingCustomer, status: 'active' });
  }
}

const outbox = () =>
  q<{
    customer_id: string;
    owner_id: string;
    attempts: number;
    last_error: string | null;
    parked: boolean;
    done: boolean;
    due_in_s: number;
  }>(
    testDb(e),
    sql`SELECT customer_id, owner_id, attempts, last_error, parked_at IS NOT NULL AS parked, deleted_at IS NOT NULL AS done,
               extract(epoch FROM next_attempt_at - now())::float8 AS due_in_s
        FROM spacerr_jobs.stripe_customer_deletions ORDER BY id`,
  );
const makeDue = () => testDb(e).execute(sql`UPDATE spacerr_jobs.stripe_customer_deletions SET next_attempt_at = now()`);

describe(JOB, () => {
  it("the account batch queues the user's customer and its billing row's; the sweep deletes both at Stripe, and no one else's", async () => {
    const [own, billing, other] = [await newCustomer(stripe), await newCustomer(stripe), await newCustomer(stripe)];
    await seedUser('gone', { deactivatedDaysAgo: 40, customer: own, billingCustomer: billing });
    await seedUser('stays', { deactivatedDaysAgo: 3, customer: other });

    expect((await runNamed(e, ACCOUNTS, { now: NOW })).counts.users).toBe(1);
    expect((await outbox()).map((r) => [r.customer_id, r.owner_id, r.done])).toEqual(
      expect.arrayContaining([
        [own, 'gone', false],
        [billing, 'gone', false],
      ]),
    );
    expect(await outbox()).toHaveLength(2);

    const before = (await stripeState(stripe)).requests;
    const report = await runNamed(e, JOB, { now: NOW });

    // lock + claim + 2 deletes + record + finish (with the parked check).
    expect(report).toMatchObject({ status: 'succeeded', more: false, subrequests: 6, counts: { stripe_customers: 2, already_missing: 0 } });
    const state = await stripeState(stripe);
    expect(state.requests - before).toBe(2);
    expect(state.customers.deleted.sort()).toEqual([own, billing].sort());
    expect(state.customers.live).toEqual([other]);
    expect((await outbox()).every((r) => r.done && r.attempts === 1 && r.last_error === null)).toBe(true);
    // Done rows are receipts, not work: the next run claims nothing.
    expect((await runNamed(e, JOB, { now: NOW })).counts).toEqual({ stripe_customers: 0, already_missing: 0 });
  });

  it("the app's own DELETE of a user queues its customer; one Stripe no longer has counts as done", async () => {
    const live = await newCustomer(stripe);
    await seedUser('u1', { customer: live });
    await seedUser('u2', { customer: 'cus_deletedelsewhere' });
    await testDb(e).execute(sql`DELETE FROM "user" WHERE id IN ('u1', 'u2')`);
    expect((await outbox()).map((r) => [r.customer_id, r.owner_id])).toEqual([
      [live, 'u1'],
      ['cus_deletedelsewhere', 'u2'],
    ]);

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'succeeded', counts: { stripe_customers: 1, already_missing: 1 } });
    expect((await stripeState(stripe)).customers.deleted).toEqual([live]);
    expect((await outbox()).map((r) => r.done)).toEqual([true, true]);
  });

  it("a held user's customer stays queued, untouched at Stripe, while the hold stands (the app deleted the user itself)", async () => {
    const held = await newCustomer(stripe);
    const free = await newCustomer(stripe);
    await seedUser('uh', { customer: held });
    await seedUser('uf', { customer: free });
    await placeHold(testDb(e), { userId: 'uh', reason: 'fraud investigation' }, new Date(NOW.getTime() - DAY));
    await testDb(e).execute(sql`DELETE FROM "user" WHERE id IN ('uh', 'uf')`);

    expect(await runNamed(e, JOB, { now: NOW, dryRun: true })).toMatchObject({ counts: { stripe_customers: 1 } });
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { stripe_customers: 1 } });
    expect((await stripeState(stripe)).customers.deleted).toEqual([free]);
    expect((await outbox()).map((r) => [r.customer_id, r.done])).toEqual([
      [held, false],
      [free, true],
    ]);

    await liftHold(testDb(e), 'uh');
    expect(await runNamed(e, JOB, { now: new Date(Date.now() + 60_000) })).toMatchObject({ counts: { stripe_customers: 1 } });
    expect((await stripeState(stripe)).customers.deleted).toEqual([free, held]);
  });

  it('a Stripe failure mid-sweep: deleted rows done, the failed one backed off, the rest due again; a later run finishes', async () => {
    const ids = [await newCustomer(stripe), await newCustomer(stripe), await newCustomer(stripe)];
    for (const [i, id] of ids.entries()) await seedUser(`u${i}`, { customer: id });
    await testDb(e).execute(sql`DELETE FROM "user"`);
    await setStripeFault(stripe, 'http500', { afterRequests: 1, count: 1 });

    const failed = await runNamed(e, JOB, { now: NOW });

    expect(failed).toMatchObject({ status: 'failed', more: true });
    expect(failed.error).toMatch(new RegExp(`^StripeDeleteError: Stripe delete of customer ${ids[1]} failed: Stripe 500 api_error`));
    const rows = await outbox();
    expect(rows.map(({ customer_id, attempts, done, parked }) => ({ customer_id, attempts, done, parked }))).toEqual([
      { customer_id: ids[0], attempts: 1, done: true, parked: false },
      { customer_id: ids[1], attempts: 1, done: false, parked: false },
      { customer_id: ids[2], attempts: 0, done: false, parked: false },
    ]);
    expect(rows[1]!.last_error).toMatch(/^Stripe 500 api_error/);
    expect(rows[1]!.due_in_s).toBeGreaterThan(30); // first backoff: one minute
    expect(rows[2]!.due_in_s).toBeLessThanOrEqual(0); // never tried: due at once
    expect((await stripeState(stripe)).customers.live.sort()).toEqual([ids[1], ids[2]].sort());

    await makeDue();
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ status: 'succeeded', counts: { stripe_customers: 2 } });
    expect((await stripeState(stripe)).customers.live).toEqual([]);
  });

  it('a delete whose reply was lost is retried, finds the customer gone, and counts it done', async () => {
    const id = await newCustomer(stripe);
    await seedUser('u', { customer: id });
    await testDb(e).execute(sql`DELETE FROM "user"`);
    await setStripeFault(stripe, 'done-then-drop', { count: 1 });

    expect((await runNamed(e, JOB, { now: NOW })).error).toMatch(/Stripe unreachable/);
    expect((await stripeState(stripe)).customers.deleted).toEqual([id]);
    expect((await outbox()).map((r) => [r.attempts, r.done])).toEqual([[1, false]]);

    await makeDue();
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({
      status: 'succeeded',
      counts: { stripe_customers: 0, already_missing: 1 },
    });
    expect((await outbox()).map((r) => r.done)).toEqual([true]);
  });

  it('parks a customer after STRIPE_MAX_ATTEMPTS with an alarm; requeued, the next run deletes it', async () => {
    e = await withStripe({ STRIPE_MAX_ATTEMPTS: '2' });
    const id = await newCustomer(stripe);
    await seedUser('u', { customer: id });
    await testDb(e).execute(sql`DELETE FROM "user"`);
    await setStripeFault(stripe, 'rate-limit');

    await runNamed(e, JOB, { now: NOW });
    await makeDue();
    const second = await runNamed(e, JOB, { now: NOW });

    expect(second.status).toBe('failed');
    expect(
      (await outbox()).map((r) => [r.attempts, r.parked, r.last_error?.startsWith('Stripe 429 invalid_request_error/rate_limit')]),
    ).toEqual([[2, true, true]]);
    // Parked: not tried again, and the alarm stands.
    const before = (await stripeState(stripe)).requests;
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({
      status: 'succeeded',
      counts: { stripe_customers: 0, already_missing: 0 },
      alarms: [expect.objectContaining({ code: 'stripe_customers_parked', job: JOB, count: 1 })],
    });
    expect((await stripeState(stripe)).requests).toBe(before);

    await setStripeFault(stripe, 'none');
    const requeue = await createApp().request(`/api/internal/jobs/${JOB}/requeue`, { method: 'POST', headers: AUTH }, e as Env);
    expect([requeue.status, await requeue.json()]).toEqual([200, { job: JOB, requeued: 1 }]);
    const healed = await runNamed(e, JOB, { now: NOW });
    expect(healed).toMatchObject({ status: 'succeeded', counts: { stripe_customers: 1 } });
    expect(healed.alarms ?? []).toEqual([]);
    expect((await stripeState(stripe)).customers.deleted).toEqual([id]);
  });

  it('counts every Stripe call against RUN_SUBREQUEST_BUDGET: a small budget stops with more, the next runs finish', async () => {
    e = await withStripe({ RUN_SUBREQUEST_BUDGET: '8' });
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await newCustomer(stripe));
    for (const [i, id] of ids.entries()) await seedUser(`u${i}`, { customer: id });
    await testDb(e).execute(sql`DELETE FROM "user"`);
    const before = (await stripeState(stripe)).requests;

    const first = await runNamed(e, JOB, { now: NOW });

    // lock + claim + deletes + record + finish within 8: 4 deletes.
    expect(first).toMatchObject({ status: 'succeeded', more: true, subrequests: 8, counts: { stripe_customers: 4 } });
    expect((await stripeState(stripe)).requests - before).toBe(4);
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ more: true, counts: { stripe_customers: 4 } });
    expect(await runNamed(e, JOB, { now: NOW })).toMatchObject({ more: false, counts: { stripe_customers: 2 } });
    expect((await stripeState(stripe)).customers.live).toEqual([]);
  });

  it('the account.erased event lists the Stripe customers as pending', async () => {
    const receiver = await control<{ url: string }>('POST', '/receivers', { secret: `whsec_${btoa('x'.repeat(32))}` });
    e = await withStripe({ ACCOUNT_EVENTS_URL: receiver.url, ACCOUNT_EVENTS_SECRET: `whsec_${btoa('x'.repeat(32))}` });
    const [a, b] = [await newCustomer(stripe), await newCustomer(stripe)];
    await seedUser('paying', { deactivatedDaysAgo: 40, customer: a, billingCustomer: b });
    await seedUser('free', { deactivatedDaysAgo: 40 });

    await runNamed(e, ACCOUNTS, { now: NOW });

    const events = await q<{ user_id: string; data: Record<string, string> }>(
      testDb(e),
      sql`SELECT user_id, data FROM spacerr_jobs.account_events WHERE type = 'account.erased' ORDER BY user_id`,
    );
    expect(events.map((ev) => [ev.user_id, ev.data.stripeCustomers, ev.data.stripeCustomerIds])).toEqual([
      ['free', 'none', undefined],
      ['paying', 'pending', [a, b].sort().join(',')],
    ]);
  });
});

describe('the Stripe trigger and the app', () => {
  it("never fails the app's DELETE: a customer column the app dropped stops the jobs (drift), not the app", async () => {
    const db = testDb(e);
    await seedUser('u', { billingCustomer: 'cus_billing' });
    await db.execute(sql`ALTER TABLE billing_subscription DROP COLUMN "stripeCustomerId"`);
    await db.execute(sql`DELETE FROM "user" WHERE id = 'u'`);
    expect(await q(db, sql`SELECT id FROM "user"`)).toEqual([]);
    const run = await runNamed(e, JOB, { now: NOW });
    expect(run.error).toMatch(/^AppMapDriftError: .*column billing_subscription.stripeCustomerId is missing/);
  });
});

describe(`${JOB} off (no STRIPE_SECRET_KEY)`, () => {
  it('is never run: no lock, no Neon request, no Stripe request; the customers stay queued for when it is set', async () => {
    const off = await provisionEnv();
    expect(enabledJobs(off).map((j) => j.name)).not.toContain(JOB);
    const id = await newCustomer(stripe);
    await insertUser(testDb(off), 'u');
    await testDb(off).execute(sql`UPDATE "user" SET "stripeCustomerId" = ${id}`);
    await testDb(off).execute(sql`DELETE FROM "user"`);
    const neonBefore = (await endpointStats(off)).neonRequests;

    const report = await runNamed(off, JOB, { now: NOW });

    expect(report).toMatchObject({ status: 'skipped', subrequests: 0, error: 'not configured' });
    expect((await endpointStats(off)).neonRequests).toBe(neonBefore);
    expect((await stripeState(stripe)).requests).toBe(1); // the customer's creation only
    expect((await stripeState(stripe)).customers.live).toEqual([id]);
  });

  it('a malformed STRIPE_SECRET_KEY fails the run naming the variable', async () => {
    const bad = await provisionEnv({ STRIPE_SECRET_KEY: 'pk_test_0123456789abcdef' } as Partial<Record<keyof Env, unknown>>);
    await expect(runNamed(bad, JOB, { now: NOW })).rejects.toThrow(/^STRIPE_SECRET_KEY: is a publishable key/);
  });
});
