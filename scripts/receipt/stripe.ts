/**
 * The receipt's Stripe part: each Stripe customer the user's deletion queued
 * (spacerr_jobs.stripe_customer_deletions, owner_id = the user), removed (Stripe confirmed it
 * gone; kept ACCOUNT_EVENTS_RETENTION_DAYS), pending, or parked. Index: stripe_customer_deletions_owner_idx.
 */
import type pg from 'pg';

export interface StripeCustomerReceipt {
  id: string;
  state: 'removed' | 'pending' | 'parked';
  queuedAt: Date;
  /** When it was removed, or parked. */
  at: Date | null;
  attempts: number;
  lastError: string | null;
}

export interface StripePart {
  customers: StripeCustomerReceipt[];
}

export async function readStripePart(client: pg.Client, userId: string): Promise<StripePart> {
  const { rows } = await client.query<StripeCustomerReceipt>(
    `SELECT customer_id AS id,
            CASE WHEN deleted_at IS NOT NULL THEN 'removed' WHEN parked_at IS NOT NULL THEN 'parked' ELSE 'pending' END AS state,
            enqueued_at AS "queuedAt", coalesce(deleted_at, parked_at) AS at, attempts, last_error AS "lastError"
     FROM spacerr_jobs.stripe_customer_deletions WHERE owner_id = $1 ORDER BY enqueued_at, id`,
    [userId],
  );
  return { customers: rows };
}

/** One line per customer, under a `stripe` heading; nothing when none was queued. */
export function formatStripePart(part: StripePart): string[] {
  if (part.customers.length === 0) return [];
  const when = (d: Date | null) => (d ? d.toISOString() : '–');
  return [
    '  stripe',
    ...part.customers.map((c) => {
      if (c.state === 'removed') return `    customer ${c.id} removed ${when(c.at)} (queued ${when(c.queuedAt)})`;
      if (c.state === 'parked') return `    customer ${c.id} PARKED ${when(c.at)} after ${c.attempts} attempts: ${c.lastError}`;
      return `    customer ${c.id} pending since ${when(c.queuedAt)} (${c.attempts} attempts${c.lastError ? `, last: ${c.lastError}` : ''})`;
    }),
  ];
}
