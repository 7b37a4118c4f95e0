/**
 * The machinery every outbox of deletions outside Postgres shares (blob_deletions,
 * stripe_customer_deletions): a trigger queues a row in the app's transaction; a sweep claims due
 * rows, calls the service, and records each row's outcome. What the outboxes have in common is
 * written once here: the claim, the claim token, the backoff and parking of a failed call, the
 * figures, the requeue.
 *
 * The claim pushes next_attempt_at forward by CLAIM_SECONDS, so a run that dies before recording
 * its outcomes leaves the rows for a later run, and SKIP LOCKED keeps two runs from claiming the
 * same row. Every write after the claim applies to a row only as it was claimed (`asClaimed`), so a
 * request repeated after its reply was lost (it committed) changes nothing the second time.
 */
import { type SQL, sql } from 'drizzle-orm';
import { capped } from './backlog';

/** A claimed row is not picked again for this long if the run dies before recording its outcome. */
export const CLAIM_SECONDS = 900;
/** Backoff after a failed call: 1 min · 2^attempts, at most this (6 h). */
export const MAX_BACKOFF_SECONDS = 21_600;

/** What a claim returns of every row, besides the outbox's own columns: its claim token. */
export interface ClaimToken {
  id: number;
  attempts: number;
  /** The next_attempt_at the claim set (now() + CLAIM_SECONDS), as text: with `attempts`, the claim's token. */
  claimed_until: string;
}

export interface Outbox {
  /** The table, schema-qualified. */
  readonly table: SQL;
  /** Rows waiting (neither parked nor done), and parked rows (not done): the job's figures. */
  figures(): { pending: SQL; parked: SQL };
  /** Every parked row due again with a fresh count of attempts, `RETURNING 1` per row. */
  readonly requeue: SQL;
  /** Claims up to `limit` due rows, oldest due first; returns `id, attempts, claimed_until` and `returning`. */
  /** `skip`: rows left queued, unclaimed (a condition on the row as `o`). */
  claim(limit: number, returning: SQL, skip?: SQL): SQL;
  /** The failed call's rows: attempts + 1, the error, the backoff; parked at `maxAttempts`. As claimed only. */
  failed(rows: ClaimToken[], error: string, maxAttempts: number): SQL;
  /** Rows whose call was never made: due again at once, attempts untouched. As claimed only. */
  untried(rows: ClaimToken[]): SQL;
  /** `due` and `parked` right now (a dry run's counts). */
  countDue(skip?: SQL): SQL;
  /**
   * The claimed rows that are still as this claim left them: the same attempts, and the
   * next_attempt_at the claim set. Writing an attempt's outcome changes attempts (or, for a row
   * kept as done, marks it done), so a request that committed and is sent again finds no row as
   * claimed and changes nothing. A row an operator requeued meanwhile (next_attempt_at = now()) is
   * no longer as claimed either, and is left as they made it. Binds `c` (with `c.id`) for the
   * statement's FROM; `matchesClaim` then ties it to the row `b`.
   */
  asClaimed(rows: ClaimToken[]): SQL;
}

export const matchesClaim = sql`b.id = c.id AND b.attempts = c.attempts AND b.next_attempt_at = c.claimed_until`;

/**
 * An outbox table of the Worker's schema with the shared columns (id, attempts, next_attempt_at,
 * last_error, parked_at). `done`: the column a row kept after its call succeeded has set
 * (stripe_customer_deletions keeps rows as receipts); without it, done rows are deleted.
 * Index: the table's `<table>_due_idx` on (next_attempt_at, id) and partial `<table>_parked_idx`.
 */
export function outbox(name: string, opts: { done?: string } = {}): Outbox {
  const table = sql.raw(`spacerr_jobs.${name}`);
  const open = opts.done ? sql.raw(` AND ${opts.done} IS NULL`) : sql``;
  const asClaimed = (rows: ClaimToken[]) =>
    sql`unnest(${pgArray(rows.map((r) => r.id))}::bigint[], ${pgArray(rows.map((r) => r.attempts))}::int[],
                    ${pgArray(rows.map((r) => r.claimed_until))}::timestamptz[]) AS c(id, attempts, claimed_until)`;
  return {
    table,
    figures: () => ({
      pending: capped(sql`FROM ${table} WHERE parked_at IS NULL${open}`),
      parked: capped(sql`FROM ${table} WHERE parked_at IS NOT NULL${open}`),
    }),
    requeue: sql`
    UPDATE ${table} SET parked_at = NULL, attempts = 0, next_attempt_at = now()
    WHERE parked_at IS NOT NULL${open} RETURNING 1`,
    claim: (limit, returning, skip) => sql`
      WITH due AS (
        SELECT id FROM ${table} o
        WHERE parked_at IS NULL${open} AND next_attempt_at <= now()${skip ? sql` AND NOT ${skip}` : sql``}
        ORDER BY next_attempt_at, id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${table} b SET next_attempt_at = now() + make_interval(secs => ${CLAIM_SECONDS})
      FROM due WHERE b.id = due.id
      RETURNING b.id, b.attempts, b.next_attempt_at::text AS claimed_until, ${returning}`,
    failed: (rows, error, maxAttempts) => sql`
      UPDATE ${table} b SET
        attempts = b.attempts + 1,
        last_error = ${error.slice(0, 500)},
        next_attempt_at = now() + make_interval(secs => least(60 * power(2, b.attempts), ${MAX_BACKOFF_SECONDS})),
        parked_at = CASE WHEN b.attempts + 1 >= ${maxAttempts} THEN now() END
      FROM ${asClaimed(rows)} WHERE ${matchesClaim}`,
    untried: (rows) => sql`UPDATE ${table} b SET next_attempt_at = now()
      FROM ${asClaimed(rows)} WHERE ${matchesClaim}`,
    countDue: (skip) => sql`
      SELECT count(*) FILTER (WHERE parked_at IS NULL AND next_attempt_at <= now()${skip ? sql` AND NOT ${skip}` : sql``}) AS due,
             count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
      FROM ${table} o WHERE true${open}`,
    asClaimed,
  };
}

/** A Postgres array literal as one parameter (up to 10,000 values rather than one parameter each). */
export function pgArray(values: Array<string | number>): string {
  return `{${values.map((v) => `"${v}"`).join(',')}}`;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
