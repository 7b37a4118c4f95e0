/**
 * delete-stripe-customers: with STRIPE_SECRET_KEY set, deletes at Stripe the customers that
 * stripe_customer_deletions holds (the trigger on each table the app map names in
 * `stripeCustomers` queues a deleted user's customer id in the deleting transaction), one
 * `DELETE /v1/customers/{id}` each, which also cancels the customer's subscriptions. A customer
 * Stripe no longer has (`resource_missing`) counts as done. Done rows are kept, `deleted_at` set,
 * as the erasure receipts' evidence, and pruned after ACCOUNT_EVENTS_RETENTION_DAYS.
 * A failed call leaves its row with attempts + 1, last_error and a backed-off next_attempt_at,
 * parked after STRIPE_MAX_ATTEMPTS with the `stripe_customers_parked` alarm; the calls after it in
 * the batch are not made (their rows are due again at once), and the run fails naming the error.
 * Unconfigured, or where the map names no customer column, it is never run: no lock, no request.
 */
import { type SQL, sql } from 'drizzle-orm';
import { anyHolds, heldOwner } from '../db/holds';
import { type ClaimToken, matchesClaim, outbox } from '../db/outbox';
import { num } from '../db/rows';
import { addCounts, inBatches } from '../run/batched-run';
import { defineJob, parkedAlarm, type JobContext, type JobOutcome } from '../run/job';
import type { CustomerDeletion, StripeClient } from '../stripe/client';
import { STRIPE_MAPPED } from '../stripe/customers';
import { before, DAY_MS } from '../time';
import { SCHEDULES } from '../schedules';
import type { ConfigOf, Setting } from '../config/settings';
import { integer, stripe as stripeKey } from '../config/values';

const CUSTOMERS = outbox('stripe_customer_deletions', { done: 'deleted_at' });
/** Deletes per batch at most: claim (1) + these + record (1) stays well inside one run's budget. */
const DELETES_PER_BATCH = 20;

export class StripeDeleteError extends Error {
  override name = 'StripeDeleteError';
}

/** Its own settings: src/deps.ts builds the Stripe client from them. */
const SETTINGS = [
  {
    name: 'STRIPE_SECRET_KEY',
    kind: 'secret',
    topic: 'stripe',
    default: 'unset',
    meaning:
      'Stripe secret key (`sk_…`, or a restricted key `rk_…` that may write customers): the customers of deleted users (where the app map names them) are deleted at Stripe; unset: Stripe erasure off',
    key: 'stripe',
    parse: stripeKey,
  },
  {
    name: 'STRIPE_API_URL',
    kind: 'var',
    topic: 'stripe',
    default: 'https://api.stripe.com',
    meaning:
      'the Stripe API origin (read with STRIPE_SECRET_KEY; http only for localhost, as `npm run dev` sets it for the local endpoint)',
  },
  {
    name: 'STRIPE_MAX_ATTEMPTS',
    kind: 'var',
    topic: 'stripe',
    default: 8,
    meaning: 'Stripe delete attempts of a customer before its outbox row is parked (backoff 1 min · 2^attempt, at most 6 h)',
    key: 'stripeMaxAttempts',
    parse: integer(1, 100),
  },
] as const satisfies readonly Setting[];

declare module '../config/settings' {
  interface Config extends ConfigOf<typeof SETTINGS> {}
}

export const deleteStripeCustomers = defineJob({
  name: 'delete-stripe-customers',
  description: 'Deletes at Stripe the customers of deleted users (stripe_customer_deletions), with their subscriptions.',
  schedule: SCHEDULES.tick,
  settings: SETTINGS,
  enabled: (config) => config.stripe !== undefined && STRIPE_MAPPED,
  // Index: stripe_customer_deletions_due_idx and stripe_customer_deletions_parked_idx (partial).
  figures: () => CUSTOMERS.figures(),
  backlog: ['pending', 'parked'],
  alarm: parkedAlarm(
    'stripe_customers_parked',
    (count, config) =>
      `${count} Stripe customer deletion(s) gave up after ${config.stripeMaxAttempts} attempts (see stripe_customer_deletions.last_error)`,
  ),
  // After Stripe access is fixed. Index: stripe_customer_deletions_parked_idx (partial).
  requeue: CUSTOMERS.requeue,
  run,
});

interface Claimed extends ClaimToken {
  customer_id: string;
}

async function run(ctx: JobContext): Promise<JobOutcome> {
  const stripe = ctx.stripe;
  if (!stripe) return { counts: {}, more: false };
  if (ctx.dryRun) {
    const row = (await ctx.budget.request(() => ctx.db.execute(CUSTOMERS.countDue(heldCustomer(ctx))))).rows[0] ?? {};
    return { counts: { stripe_customers: num(row.due), parked: num(row.parked) }, more: false };
  }
  const counts: Record<string, number> = { stripe_customers: 0, already_missing: 0 };
  let first = true;
  // A batch: claim (1), one DELETE per customer, record the outcomes (1).
  const more = await inBatches(ctx.budget, 3, async () => {
    const limit = Math.min(DELETES_PER_BATCH, ctx.budget.limit - ctx.budget.used - 2);
    const claimed = await claim(ctx, limit, first, counts);
    first = false;
    if (claimed.length === 0) return false;
    const outcome = await deleteInOrder(ctx, stripe, claimed);
    await record(ctx, outcome);
    addCounts(counts, { stripe_customers: outcome.deleted.length, already_missing: outcome.missing.length });
    if (outcome.failure) {
      throw new StripeDeleteError(`Stripe delete of customer ${outcome.failure.row.customer_id} failed: ${outcome.failure.error}`);
    }
    return claimed.length >= limit;
  });
  return { counts, more };
}

/**
 * One request: on the run's first batch, prune the receipts older than
 * ACCOUNT_EVENTS_RETENTION_DAYS (index: stripe_customer_deletions_deleted_idx); then claim.
 */
async function claim(ctx: JobContext, limit: number, first: boolean, counts: Record<string, number>): Promise<Claimed[]> {
  const claimSql = CUSTOMERS.claim(limit, sql`b.customer_id`, heldCustomer(ctx));
  if (!first) return (await ctx.budget.request(() => ctx.db.execute(claimSql))).rows as unknown as Claimed[];
  const [pruned, claimed] = await ctx.budget.request(() =>
    ctx.db.batch([
      ctx.db.execute(sql`
        WITH pruned AS (
          DELETE FROM ${CUSTOMERS.table}
          WHERE deleted_at < ${before(ctx.now, ctx.config.accountEventsRetentionDays, DAY_MS)}
          RETURNING 1
        )
        SELECT count(*) AS pruned FROM pruned`),
      ctx.db.execute(claimSql),
    ]),
  );
  const n = num(pruned.rows[0]?.pruned);
  if (n > 0) counts.pruned = n;
  return claimed.rows as unknown as Claimed[];
}

interface Outcome {
  deleted: Claimed[];
  missing: Claimed[];
  failure?: { row: Claimed; error: string };
  untried: Claimed[];
}

/**
 * The deletes one after another (each counted against the run's budget), stopping at the first
 * failure: Stripe failing one call (rate limited, down, the key refused) mostly fails the next.
 */
async function deleteInOrder(ctx: JobContext, stripe: StripeClient, rows: Claimed[]): Promise<Outcome> {
  const outcome: Outcome = { deleted: [], missing: [], untried: [] };
  for (const [i, row] of rows.entries()) {
    ctx.budget.spend();
    const result: CustomerDeletion = await stripe.deleteCustomer(row.customer_id);
    if (result.status === 'failed') {
      outcome.failure = { row, error: result.error };
      outcome.untried = rows.slice(i + 1);
      break;
    }
    outcome[result.status].push(row);
  }
  return outcome;
}

/**
 * One request (one transaction) for the batch's outcomes: the customers Stripe confirmed gone are
 * marked done; a failed call's row gets attempts + 1, the error and the backoff, parked at
 * STRIPE_MAX_ATTEMPTS; the rows whose call was never made are due again at once. Each touches a
 * row only as claimed (src/db/outbox.ts), and marking done clears the claim's token (attempts
 * set to the attempts made): the request is safe to repeat.
 */
async function record(ctx: JobContext, outcome: Outcome): Promise<void> {
  const done = () =>
    ctx.db.execute(sql`
    UPDATE ${CUSTOMERS.table} b SET deleted_at = now(), attempts = b.attempts + 1, last_error = NULL
    FROM ${CUSTOMERS.asClaimed([...outcome.deleted, ...outcome.missing])} WHERE ${matchesClaim} AND b.deleted_at IS NULL`);
  const failure = outcome.failure;
  await ctx.budget.request(async () => {
    if (!failure) return void (await done());
    await ctx.db.batch([
      done(),
      ctx.db.execute(CUSTOMERS.failed([failure.row], failure.error, ctx.config.stripeMaxAttempts)),
      ctx.db.execute(CUSTOMERS.untried(outcome.untried)),
    ]);
  });
}

/**
 * A queued customer whose owner is under a legal hold stays queued, unclaimed, until the hold
 * ends (the app may have deleted the held user itself). `anyHolds` first: without holds, nothing
 * else is evaluated.
 */
function heldCustomer(ctx: JobContext): SQL {
  return sql`(${anyHolds} AND ${heldOwner(sql`o.owner_id`, sql`${ctx.now.toISOString()}::timestamptz`)})`;
}
