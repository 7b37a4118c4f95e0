/**
 * Legal holds: an account under one (a dispute, a fraud investigation, a legal request) is never
 * erased, and no job deletes anything it owns, whatever its deactivation date. (The account job's
 * "blocked" accounts, src/holds/account-holds.ts, are another thing: keys of the app's schema that
 * would make an erasure fail or take a live user's rows.)
 *
 * A hold is active while its `until` is unset or later than the time a job runs at. It is read by
 * primary key inside the statement that selects what to delete (`heldOwner`), never beforehand, so
 * a hold placed while a run is under way is honoured by that run's next batch, and reading it costs
 * no request of its own. An ended hold (expired, or lifted: `until` becomes the time it was lifted)
 * stays in the table as the record that the account was held until the account is erased, so
 * that with account events on the account waits for its deletion notice (see the account job).
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Db } from './client';

export interface Hold {
  userId: string;
  reason: string;
  by: string | null;
  /** ISO 8601: when it was placed. */
  since: string;
  /** ISO 8601: when it ends (or ended); null: until lifted. */
  until: string | null;
}

const HOLDS = sql`spacerr_jobs.legal_holds`;

/**
 * "The owner `ownerIdSql` is under an active hold at `now`", a boolean SQL expression for any
 * job's selecting statement: `AND NOT ${heldOwner(sql`c."userId"`, sql`${now}`)}`. The owner id is
 * compared as text (whatever its type in the app); a NULL owner is never held. For an outbox row
 * that records its owner (`owner_id`), `NOT ${heldOwner(sql`d.owner_id`, sql`now()`)}` in its claim
 * keeps a held owner's items queued until the hold ends.
 * Index: legal_holds_pkey, one probe per candidate row.
 */
export function heldOwner(ownerIdSql: SQL, now: SQL): SQL {
  return activeHoldWhere(sql`lh.user_id = (${ownerIdSql})::text`, now);
}

/** "Some hold active at `now` matches `match`" (a condition on the hold row as `lh`). */
export function activeHoldWhere(match: SQL, now: SQL): SQL {
  return sql`EXISTS (SELECT 1 FROM ${HOLDS} lh WHERE ${match} AND (lh.until IS NULL OR lh.until > ${now}))`;
}

/**
 * "Some hold exists", evaluated once per statement (Postgres plans an uncorrelated EXISTS as an InitPlan): put in front of
 * a costlier test of a row's owner (`${anyHolds} AND EXISTS (… joins … ${heldOwner(…)})`) so that
 * without holds the joins are never made.
 */
export const anyHolds: SQL = sql`EXISTS (SELECT 1 FROM ${HOLDS})`;

/**
 * "The owner `ownerIdSql` was under a hold that has ended by `now`" (one still active is
 * `heldOwner`). Index: legal_holds_pkey.
 */
export function formerlyHeld(ownerIdSql: SQL, now: SQL): SQL {
  return sql`EXISTS (SELECT 1 FROM ${HOLDS} lh WHERE lh.user_id = (${ownerIdSql})::text AND lh.until <= ${now})`;
}

/** A DELETE of the holds of the users whose ids (as text) `idsText` selects: for the statement that erases them. */
export function forgetHolds(idsText: SQL): SQL {
  return sql`DELETE FROM ${HOLDS} WHERE user_id IN (${idsText}) RETURNING 1`;
}

/**
 * Places a hold on the account `userId` (active from `now`, until `until` or until lifted); a hold
 * already on it, active or ended, is replaced. One request.
 */
export async function placeHold(db: Db, h: { userId: string; reason: string; by?: string; until?: Date }, now: Date): Promise<Hold> {
  const result = await db.execute(sql`
    INSERT INTO ${HOLDS} (user_id, reason, placed_by, since, until)
    VALUES (${h.userId}, ${h.reason}, ${h.by ?? null}, ${now.toISOString()}::timestamptz, ${h.until?.toISOString() ?? null}::timestamptz)
    ON CONFLICT (user_id) DO UPDATE SET reason = EXCLUDED.reason, placed_by = EXCLUDED.placed_by,
      since = EXCLUDED.since, until = EXCLUDED.until
    RETURNING ${COLUMNS}`);
  return toHold(result.rows[0]!);
}

/**
 * Lifts the active hold on `userId`: it ends now (Postgres's clock) and stays as an ended hold.
 * False when the account has no active hold. One request.
 */
export async function liftHold(db: Db, userId: string): Promise<boolean> {
  const result = await db.execute(sql`
    UPDATE ${HOLDS} SET until = now() WHERE user_id = ${userId} AND (until IS NULL OR until > now()) RETURNING 1`);
  return result.rows.length > 0;
}

/** Every hold, active and ended, most recently placed first. One request. */
export async function listHolds(db: Db): Promise<Hold[]> {
  return holdsOf((await holdsQuery(db)).rows);
}

/** The query of {@link listHolds}, to send alone or inside a batch; {@link holdsOf} reads its rows. */
export function holdsQuery(db: Db) {
  return db.execute(sql`SELECT ${COLUMNS} FROM ${HOLDS} ORDER BY since DESC, user_id`);
}

export function holdsOf(rows: readonly Record<string, unknown>[]): Hold[] {
  return rows.map(toHold);
}

/** Times as ISO 8601 UTC strings with milliseconds, as JavaScript writes them. */
const iso = (column: string) => sql.raw(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ${column}`);
const COLUMNS = sql`user_id, reason, placed_by, ${iso('since')}, ${iso('until')}`;

function toHold(row: Record<string, unknown>): Hold {
  return {
    userId: String(row.user_id),
    reason: String(row.reason),
    by: row.placed_by == null ? null : String(row.placed_by),
    since: String(row.since),
    until: row.until == null ? null : String(row.until),
  };
}
