/**
 * The erasure receipt of one user, from the account events the Worker recorded
 * (spacerr_jobs.account_events, kept ACCOUNT_EVENTS_RETENTION_DAYS after delivery) and the run
 * that deleted the account (spacerr_jobs.job_runs, kept JOB_RUNS_RETENTION_DAYS), and what is
 * cleared and pending outside Postgres now, per kind of store and store: the files (the user's
 * prefix sweeps, spacerr_jobs.blob_sweeps, and its queued files, spacerr_jobs.blob_deletions).
 * Index: account_events_once_idx (user_id first), blob_sweeps_owner_prefix_idx, blob_deletions_owner_idx.
 */
import pg from 'pg';
import { readMap } from '../stack/migrate.ts';
import { formatStripePart, readStripePart, type StripePart } from './stripe.ts';

export interface ReceiptEvent {
  id: string;
  type: string;
  deactivated_at: Date;
  data: Record<string, unknown>;
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
  /** Outside Postgres, per kind of store (`blob`: per file store). */
  stores: { blob: Record<string, FileReceipt> };
}

/** One file store's part of the receipt. */
export interface FileReceipt {
  /** Files the sweeps of the user's prefixes deleted. */
  filesRemoved: number;
  /** Files under its prefixes kept: a live row (a chat given to another user) names them. */
  filesKept: number;
  /** Queued files of the user not yet deleted (where the outbox knows their owner). */
  filesPending: number;
  /** Prefixes not yet swept to the end. */
  prefixesPending: number;
  /** Sweeps or files that gave up (parked), waiting for an operator's requeue. */
  parked: number;
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
    const files = await client.query<{
      store: string | null;
      removed: number;
      kept: number;
      pending: number;
      prefixes: number;
      parked: number;
    }>(
      `SELECT store, sum(deleted)::int AS removed, sum(kept)::int AS kept, 0 AS pending,
              count(*) FILTER (WHERE finished_at IS NULL)::int AS prefixes, count(*) FILTER (WHERE parked_at IS NOT NULL AND finished_at IS NULL)::int AS parked
       FROM spacerr_jobs.blob_sweeps WHERE owner_id = $1 GROUP BY store
       UNION ALL
       SELECT store, 0, 0, count(*)::int, 0, count(*) FILTER (WHERE parked_at IS NOT NULL)::int
       FROM spacerr_jobs.blob_deletions WHERE owner_id = $1 GROUP BY store`,
      [userId],
    );
    const blob: Record<string, FileReceipt> = {};
    for (const f of files.rows) {
      // A queued file or a sweep not claimed yet has no store: it goes to the one BLOB_STORE names then.
      const at = (blob[f.store ?? 'not yet claimed'] ??= { filesRemoved: 0, filesKept: 0, filesPending: 0, prefixesPending: 0, parked: 0 });
      at.filesRemoved += f.removed;
      at.filesKept += f.kept;
      at.filesPending += f.pending;
      at.prefixesPending += f.prefixes;
      at.parked += f.parked;
    }
    const stripe = await readStripePart(client, userId);
    return { userId, erased: rows.find((r) => r.type === 'account.erased'), events: rows, exists, stores: { blob }, stripe };
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
      `✓ user ${r.userId} was erased at ${String(r.erased.data.erasedAt)} by run ${r.erased.run_id}${run}; deactivated ${String(r.erased.data.deactivatedAt)}`,
    );
  } else if (r.exists) {
    lines.push(`✗ user ${r.userId} is not erased: the account still exists`);
  } else {
    lines.push(
      `✗ no erasure of user ${r.userId} is recorded (account events off at the time, pruned after ACCOUNT_EVENTS_RETENTION_DAYS, or never a user)`,
    );
  }
  for (const [store, f] of Object.entries(r.stores.blob)) {
    const pending =
      f.filesPending + f.prefixesPending === 0
        ? 'nothing pending'
        : `pending: ${f.filesPending} queued file(s), ${f.prefixesPending} prefix(es) to sweep${f.parked > 0 ? ` (${f.parked} PARKED: requeue purge-deleted-blobs)` : ''}`;
    lines.push(`  files in ${store}: ${f.filesRemoved} removed, ${f.filesKept} kept (a live row names them); ${pending}`);
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
