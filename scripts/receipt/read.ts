/**
 * The erasure receipt of one user, from the account events the Worker recorded
 * (spacerr_jobs.account_events, kept ACCOUNT_EVENTS_RETENTION_DAYS after delivery) and the run
 * that deleted the account (spacerr_jobs.job_runs, kept JOB_RUNS_RETENTION_DAYS).
 * Index: account_events_once_idx (user_id first).
 */
import pg from 'pg';
import { readMap } from '../stack/migrate.ts';
import { formatStripePart, readStripePart, type StripePart } from './stripe.ts';

export interface ReceiptEvent {
  id: string;
  type: string;
  deactivated_at: Date;
  data: Record<string, string>;
  run_id: string;
  created_at: Date;
  attempts: number;
  delivered_at: Date | null;
  parked_at: Date | null;
  last_error: string | null;
  run_trigger: string | null;
}

export interface Receipt {
  userId: string;
  /** The account.erased event, if one was recorded (and not yet pruned). */
  erased: ReceiptEvent | undefined;
  events: ReceiptEvent[];
  /** The user still has a row in the app's user table. */
  exists: boolean;
  /** The Stripe customers its deletion queued, and what became of each. */
  stripe: StripePart;
}

export async function readReceipt(databaseUrl: string, userId: string): Promise<Receipt> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<ReceiptEvent>(
      `SELECT e.id, e.type, e.deactivated_at, e.data, e.run_id, e.created_at, e.attempts, e.delivered_at, e.parked_at,
              e.last_error, r.trigger AS run_trigger
       FROM spacerr_jobs.account_events e LEFT JOIN spacerr_jobs.job_runs r ON r.id = e.run_id
       WHERE e.user_id = $1 ORDER BY e.created_at, e.id`,
      [userId],
    );
    const user = readMap().roles.user!;
    const table = `${pg.escapeIdentifier(readMap().schema)}.${pg.escapeIdentifier(user.table)}`;
    const exists = (await client.query(`SELECT 1 FROM ${table} WHERE ${pg.escapeIdentifier(user.id.name)} = $1`, [userId])).rowCount === 1;
    const stripe = await readStripePart(client, userId);
    return { userId, erased: rows.find((r) => r.type === 'account.erased'), events: rows, exists, stripe };
  } finally {
    await client.end();
  }
}

/** The receipt as lines for a terminal: the answer first, then every event recorded. */
export function formatReceipt(r: Receipt): string[] {
  const when = (d: Date | null) => (d ? d.toISOString() : '–');
  const lines: string[] = [];
  if (r.erased) {
    const run = r.erased.run_trigger ? ` (${r.erased.run_trigger} run)` : '';
    lines.push(
      `✓ user ${r.userId} was erased at ${r.erased.data.erasedAt} by run ${r.erased.run_id}${run}; deactivated ${r.erased.data.deactivatedAt}`,
    );
  } else if (r.exists) {
    lines.push(`✗ user ${r.userId} is not erased: the account still exists`);
  } else {
    lines.push(
      `✗ no erasure of user ${r.userId} is recorded (account events off at the time, pruned after ACCOUNT_EVENTS_RETENTION_DAYS, or never a user)`,
    );
  }
  for (const e of r.events) {
    const state = e.delivered_at
      ? `delivered ${when(e.delivered_at)}`
      : e.parked_at
        ? `PARKED ${when(e.parked_at)} after ${e.attempts} attempts: ${e.last_error}`
        : `pending (${e.attempts} attempts${e.last_error ? `, last: ${e.last_error}` : ''})`;
    lines.push(`  ${e.type} ${e.id} recorded ${when(e.created_at)}, ${state}`);
  }
  lines.push(...formatStripePart(r.stripe));
  return lines;
}
