/**
 * The per-user sweeps of the file stores (spacerr_jobs.blob_sweeps): after an account's erasure,
 * every file under each of its prefixes (the app map's `blobPrefixes`, src/blobs/prefixes.ts) is
 * listed and deleted, so the files no row ever named (uploaded in the chat input, never sent) go
 * too — except a file a live row still names (`liveKey`), which is kept. Rows are written by the
 * user table's trigger (src/app-map/triggers.ts `queue_blob_sweeps`: one per deleted user and
 * prefix, whether the account job or the app itself deleted the user) with no store, which the
 * sweep's first claim sets to BLOB_STORE's; the blob purge job runs them after its outbox. A sweep
 * of an owner under an active legal hold is not claimed until the hold ends.
 *
 * One step is one page of one sweep: claim (1 request), list (1 call), which are live (1 request),
 * delete the rest (1 call), record the page (1 request). The claim pushes next_attempt_at forward,
 * so a run that dies mid-step leaves the sweep for a later one; the record applies only to the
 * sweep as claimed, so a request repeated after its reply was lost changes nothing. A deletion
 * is only repeated with a fresh listing, and a file already gone counts as deleted.
 */
import { type SQL, sql } from 'drizzle-orm';
import { type BlobStoreName, BlobStoreError } from '../blobs/store';
import { anyHolds, heldOwner } from '../db/holds';
import { pgArray } from '../db/rows';
import type { JobContext } from '../run/job';
import { before, DAY_MS } from '../time';
import { liveKey } from './live-files';

/** Claim, list, live check, delete, record, and one spare for a retry. */
export const SWEEP_STEP_COST = 6;
/** A claimed sweep is not picked again for this long if the run dies before recording its page. */
const CLAIM_SECONDS = 900;
const W = sql`spacerr_jobs.blob_sweeps`;

export class BlobSweepError extends Error {
  override name = 'BlobSweepError';
}

/**
 * "The sweep `w` is due": not parked or finished, its time come, and its owner under no active
 * legal hold (`anyHolds` first: without holds, no probe per sweep). For the claim and the job's
 * counts of due work alike, so a held sweep is neither run nor waited for.
 * Index: blob_sweeps_due_idx (partial), legal_holds_pkey.
 */
export function dueSweep(now: Date): SQL {
  return sql`w.parked_at IS NULL AND w.finished_at IS NULL AND w.next_attempt_at <= now()
    AND NOT (${anyHolds} AND ${heldOwner(sql`w.owner_id`, sql`${now.toISOString()}::timestamptz`)})`;
}

interface ClaimedSweep {
  id: number;
  owner_id: string;
  prefix: string;
  store: BlobStoreName;
  cursor: string | null;
  attempts: number;
  claimed_until: string;
}

/** One page of the next due sweep. `more`: a sweep was due (another page or sweep may be). */
export async function sweepStep(ctx: JobContext): Promise<{ counts: Record<string, number>; more: boolean }> {
  // Finished sweeps are the erasure receipt's file counts, kept as long as the receipts.
  // Index: blob_sweeps_finished_idx, blob_sweeps_due_idx (partial).
  const [, claimed] = await ctx.budget.request(() =>
    ctx.db.batch([
      ctx.db.execute(sql`DELETE FROM ${W} WHERE finished_at < ${before(ctx.now, ctx.config.accountEventsRetentionDays, DAY_MS)}`),
      ctx.db.execute(sql`
      WITH due AS (
        SELECT id FROM ${W} w WHERE ${dueSweep(ctx.now)}
        ORDER BY next_attempt_at, id LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${W} s SET next_attempt_at = now() + make_interval(secs => ${CLAIM_SECONDS}),
        store = coalesce(s.store, ${ctx.blobs.current})
      FROM due WHERE s.id = due.id
      RETURNING s.id, s.owner_id, s.prefix, s.store, s.cursor, s.attempts, s.next_attempt_at::text AS claimed_until`),
    ]),
  );
  const sweep = claimed.rows[0] as unknown as ClaimedSweep | undefined;
  if (!sweep) return { counts: {}, more: false };

  let next: string | undefined;
  let dead: string[] = [];
  let kept = 0;
  try {
    const store = ctx.blobs.get(sweep.store);
    ctx.budget.spend();
    const page = await store.list(sweep.prefix, sweep.cursor ?? undefined);
    next = page.cursor;
    // The store lists by prefix; a pathname outside it (a store answering wrongly) is never deleted.
    const listed = page.pathnames.filter((p) => p.startsWith(sweep.prefix));
    if (listed.length > 0) {
      const live = await ctx.budget.request(() =>
        ctx.db.execute(sql`SELECT p FROM unnest(${pgArray(listed)}::text[]) AS f(p) WHERE ${liveKey(sql`f.p`)}`),
      );
      const keep = new Set(live.rows.map((r) => String(r.p)));
      dead = listed.filter((p) => !keep.has(p));
      kept = listed.length - dead.length;
    }
    if (dead.length > 0) {
      ctx.budget.spend();
      await store.delete(dead);
    }
  } catch (err) {
    await ctx.budget.request(() =>
      ctx.db.execute(sql`
      UPDATE ${W} s SET
        attempts = s.attempts + 1,
        last_error = ${failureText(err).slice(0, 500)},
        next_attempt_at = now() + make_interval(secs => ${backoffSeconds(sql`s.attempts`, err)}),
        parked_at = CASE WHEN ${parksNow(err)}::boolean OR s.attempts + 1 >= ${ctx.config.blobMaxAttempts} THEN now() END
      WHERE ${asClaimed(sweep)}`),
    );
    throw new BlobSweepError(`sweep of ${sweep.prefix} in ${sweep.store} failed: ${failureText(err)}`, { cause: err });
  }
  await ctx.budget.request(() =>
    ctx.db.execute(sql`
    UPDATE ${W} s SET cursor = ${next ?? null}, deleted = s.deleted + ${dead.length}, kept = s.kept + ${kept},
      attempts = 0, last_error = NULL, next_attempt_at = now(),
      finished_at = CASE WHEN ${next === undefined}::boolean THEN now() END
    WHERE ${asClaimed(sweep)}`),
  );
  return { counts: { swept_files: dead.length, swept_files_kept: kept, sweeps_finished: next === undefined ? 1 : 0 }, more: true };
}

/** The sweep as this claim left it: the same attempts, the next_attempt_at the claim set. */
function asClaimed(sweep: ClaimedSweep): SQL {
  return sql`s.id = ${sweep.id} AND s.attempts = ${sweep.attempts} AND s.next_attempt_at = ${sweep.claimed_until}::timestamptz`;
}

/**
 * Seconds until a failed row is due again: 1 min · 2^attempts, at most 6 h, and never sooner
 * than the store's `retry-after`.
 */
export function backoffSeconds(attempts: SQL, err: unknown): SQL {
  const retryAfter = err instanceof BlobStoreError ? (err.retryAfterSeconds ?? 0) : 0;
  return sql`greatest(${retryAfter}::int, least(60 * power(2, ${attempts}), 21600))`;
}

/** The store said the call will not succeed until someone fixes something: park at once. */
export function parksNow(err: unknown): boolean {
  return err instanceof BlobStoreError && !err.transient;
}

export function failureText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * One user's files outside Postgres, per store, as a jsonb object: `{ "<store>": { filesRemoved,
 * filesKept, filesPending, prefixesPending } }` — files the sweeps deleted and kept (a live row
 * names them), queued files of this owner not yet deleted (the outbox knows a file's owner where
 * its trigger could tell), and prefixes not yet swept. A sweep or file not claimed yet has no store:
 * it is counted under `current`, the store its claim will choose. `{}` when there is nothing of the user's.
 * Index: blob_sweeps_owner_prefix_idx (owner first), blob_deletions_owner_idx (partial).
 */
export function blobReceipt(ownerId: SQL, current: BlobStoreName): SQL {
  return sql`coalesce((SELECT jsonb_object_agg(t.store, jsonb_build_object(
      'filesRemoved', t.removed, 'filesKept', t.kept, 'filesPending', t.pending, 'prefixesPending', t.prefixes))
    FROM (SELECT u.store, sum(u.removed)::int AS removed, sum(u.kept)::int AS kept, sum(u.pending)::int AS pending,
                 sum(u.prefixes)::int AS prefixes
          FROM (SELECT coalesce(store, ${current}) AS store, deleted AS removed, kept, 0 AS pending,
                       (finished_at IS NULL)::int AS prefixes
                FROM ${W} WHERE owner_id = ${ownerId}
                UNION ALL
                SELECT coalesce(store, ${current}), 0, 0, 1, 0 FROM spacerr_jobs.blob_deletions WHERE owner_id = ${ownerId}) u
          GROUP BY u.store) t), '{}'::jsonb)`;
}
