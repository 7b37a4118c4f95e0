/**
 * The per-user sweeps of the file stores (spacerr_jobs.blob_sweeps): after an account's erasure,
 * every file under each of its prefixes (the app map's `blobPrefixes`, src/blobs/prefixes.ts) is
 * listed and deleted, so the files no row ever named (uploaded in the chat input, never sent) go
 * too — except a file a live row still names (`liveKey`), which is kept. Rows are written by the
 * account job's deleting statement (`queueSweeps`); the blob purge job runs them after its outbox.
 *
 * One step is one page of one sweep: claim (1 request), list (1 call), which are live (1 request),
 * delete the rest (1 call), record the page (1 request). The claim pushes next_attempt_at forward,
 * so a run that dies mid-step leaves the sweep for a later one; the record applies only to the
 * sweep as claimed, so a request repeated after its reply was lost changes nothing. A deletion
 * is only repeated with a fresh listing, and a file already gone counts as deleted.
 */
import { type SQL, sql } from 'drizzle-orm';
import { BLOB_PREFIXES } from '../blobs/prefixes';
import { USER_ID } from '../blobs/prefix-rules';
import { type BlobStoreName, BlobStoreError } from '../blobs/store';
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
 * The CTE the account job's deleting statement adds after `deleted` (the users it deleted): one
 * sweep per user and prefix, in the store BLOB_STORE names, committed with the erasure. A user id
 * holding a `/` is left out: its prefix could lie inside another user's. No prefixes: nothing.
 */
export function queueSweeps(ctx: Pick<JobContext, 'blobs'>): SQL {
  if (BLOB_PREFIXES.length === 0) return sql``;
  return sql`,
      swept AS (
        INSERT INTO ${W} (owner_id, prefix, store)
        SELECT d.id::text, replace(t.template, ${USER_ID}, d.id::text), ${ctx.blobs.current}
        FROM deleted d CROSS JOIN unnest(${pgArray([...BLOB_PREFIXES])}::text[]) AS t(template)
        WHERE strpos(d.id::text, '/') = 0
        ON CONFLICT (owner_id, prefix, store) DO NOTHING
        RETURNING 1
      )`;
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
        SELECT id FROM ${W}
        WHERE parked_at IS NULL AND finished_at IS NULL AND next_attempt_at <= now()
        ORDER BY next_attempt_at, id LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      UPDATE ${W} s SET next_attempt_at = now() + make_interval(secs => ${CLAIM_SECONDS})
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
 * its trigger could tell), and prefixes not yet swept. `{}` when there is nothing of the user's.
 * Index: blob_sweeps_owner_prefix_idx (owner first), blob_deletions_owner_idx (partial).
 */
export function blobReceipt(ownerId: SQL, current: BlobStoreName): SQL {
  return sql`coalesce((SELECT jsonb_object_agg(t.store, jsonb_build_object(
      'filesRemoved', t.removed, 'filesKept', t.kept, 'filesPending', t.pending, 'prefixesPending', t.prefixes))
    FROM (SELECT u.store, sum(u.removed)::int AS removed, sum(u.kept)::int AS kept, sum(u.pending)::int AS pending,
                 sum(u.prefixes)::int AS prefixes
          FROM (SELECT store, deleted AS removed, kept, 0 AS pending, (finished_at IS NULL)::int AS prefixes
                FROM ${W} WHERE owner_id = ${ownerId}
                UNION ALL
                SELECT coalesce(store, ${current}), 0, 0, 1, 0 FROM spacerr_jobs.blob_deletions WHERE owner_id = ${ownerId}) u
          GROUP BY u.store) t), '{}'::jsonb)`;
}
