/**
 * purge-deleted-blobs: drains blob_deletions (the outbox the triggers fill) into the file stores
 * (src/blobs/: Vercel Blob, R2), each row into the store it records, then runs the per-user sweeps
 * of blob_sweeps (src/files/blob-sweeps.ts). A key leaves the outbox only after its store confirmed
 * the deletion (a key already gone counts as deleted). A failed call leaves its rows with
 * attempts + 1, last_error and a backed-off next_attempt_at (at least the store's `retry-after`);
 * an answer the store says will not change (a refused token, a suspended store) parks them at
 * once, and so do BLOB_MAX_ATTEMPTS failures; parked rows are shown as needing attention.
 * Every write after the claim applies to a row only as it was claimed, so a request repeated after
 * its reply was lost (it committed) changes nothing the second time.
 */
import { type SQL, sql } from 'drizzle-orm';
import { BLOB_PREFIXES } from '../blobs/prefixes';
import { BLOB_STORES, type BlobStore, type BlobStoreName, STORE_NAMES } from '../blobs/store';
import { capped } from '../db/backlog';
import { activeHoldWhere, anyHolds } from '../db/holds';
import { num, pgArray } from '../db/rows';
import type { BatchSize } from '../run/batch-size';
import { addCounts, type Batch, batchedRun, batchSize, inBatches, timedBatch } from '../run/batched-run';
import { defineJob, type JobContext } from '../run/job';
import { backoffSeconds, dueSweep, failureText, parksNow, SWEEP_STEP_COST, sweepStep } from '../files/blob-sweeps';
import { liveKey } from '../files/live-files';
import { SCHEDULES } from '../schedules';
import type { ConfigOf, Setting } from '../config/settings';
import { integer, oneOf, vercelBlob } from '../config/values';
import { VERCEL_BLOB_API } from '../blobs/vercel-blob';

/** The most keys one delete call takes, in every store (R2's limit; Vercel Blob's page). */
export const DELETE_MAX_KEYS = 1000;
/** A claimed row is not picked again for this long if the run dies before confirming it. */
const CLAIM_SECONDS = 900;

export class BlobDeleteError extends Error {
  override name = 'BlobDeleteError';
}

/** Its own settings: src/deps.ts builds the file stores from them. */
const SETTINGS = [
  {
    name: 'BLOB_MAX_ATTEMPTS',
    kind: 'var',
    topic: 'files',
    default: 8,
    meaning:
      'delete or list attempts of a queued file or sweep before it is parked (an answer the store says will not change, such as `store_suspended` or a refused token, parks it at once)',
    key: 'blobMaxAttempts',
    parse: integer(1, 100),
  },
  {
    name: 'BLOB_STORE',
    kind: 'var',
    topic: 'files',
    default: 'vercel-blob',
    meaning:
      'where the app writes its files: `vercel-blob` (Vercel Blob, with `BLOB_READ_WRITE_TOKEN`) or `r2` (the `BLOBS` binding); a queued file is recorded in it at its first claim and always deleted from that store',
    key: 'blobStore',
    parse: oneOf(BLOB_STORES, 'vercel-blob'),
  },
  {
    name: 'BLOB_READ_WRITE_TOKEN',
    kind: 'secret',
    topic: 'files',
    default: 'unset',
    meaning:
      "the Vercel Blob store's read-write token (`vercel_blob_rw_<storeId>_<secret>`, the app's own private store); required with `BLOB_STORE=vercel-blob`",
    key: 'vercelBlob',
    parse: vercelBlob(VERCEL_BLOB_API, oneOf(BLOB_STORES, 'vercel-blob')),
  },
  {
    name: 'VERCEL_BLOB_API_URL',
    kind: 'dev only',
    topic: 'files',
    default: 'unset',
    meaning: 'sends Vercel Blob API calls to the local endpoint (the name `@vercel/blob` reads); leave it unset in production',
  },
] as const satisfies readonly Setting[];

declare module '../config/settings' {
  interface Config extends ConfigOf<typeof SETTINGS> {}
}

export const purgeDeletedBlobs = defineJob({
  name: 'purge-deleted-blobs',
  description:
    "Deletes the files queued in blob_deletions from the store each was queued with (Vercel Blob or R2), in calls of up to 1000 keys, then sweeps erased users' prefixes.",
  schedule: SCHEDULES.tick,
  settings: SETTINGS,
  deletes: ['blobs'],
  // Index: blob_deletions_due_idx and blob_deletions_parked_idx (partial); blob_sweeps_due_idx
  // and blob_sweeps_parked_idx (partial).
  figures: () => ({
    pending: capped(sql`FROM spacerr_jobs.blob_deletions WHERE parked_at IS NULL`),
    parked: capped(sql`FROM spacerr_jobs.blob_deletions WHERE parked_at IS NOT NULL`),
    sweeps: capped(sql`FROM spacerr_jobs.blob_sweeps WHERE parked_at IS NULL AND finished_at IS NULL`),
    sweepsParked: capped(sql`FROM spacerr_jobs.blob_sweeps WHERE parked_at IS NOT NULL AND finished_at IS NULL`),
  }),
  backlog: ['pending', 'parked', 'sweeps', 'sweepsParked'],
  alarm: {
    code: 'blobs_parked',
    figures: ['parked', 'sweepsParked'],
    raise(read, config) {
      const files = num(read.parked);
      const sweeps = num(read.sweepsParked);
      if (files + sweeps === 0) return undefined;
      const parts = [
        ...(files > 0 ? [`${files} blob deletion(s) (see blob_deletions.last_error)`] : []),
        ...(sweeps > 0 ? [`${sweeps} sweep(s) of an erased user's prefix (see blob_sweeps.last_error)`] : []),
      ];
      return {
        count: files + sweeps,
        message: `${parts.join(' and ')} gave up after ${config.blobMaxAttempts} attempts or on an answer that will not change`,
      };
    },
  },
  // After the store's access is fixed: both queues (spacerr_jobs.requeue_parked_blobs, drizzle/0007).
  // Index: the two parked indexes (partial).
  requeue: sql`SELECT 1 FROM spacerr_jobs.requeue_parked_blobs()`,
  async run(ctx) {
    // The claim grows with BATCH_TARGET_MS from one call's worth of keys up to CLAIM_MAX_KEYS:
    // the claim is the only statement whose time grows with it, and each call stays ≤ 1000 keys.
    const size = batchSize(ctx, { start: DELETE_MAX_KEYS, max: CLAIM_MAX_KEYS });
    let sweepsDue = false;
    const outcome = await batchedRun(ctx, {
      // A batch is claim + one delete call per 1000 keys (per store) + confirm (or record the
      // failure), plus one spare for a retry, plus one for a second store's partial call.
      cost: () => 4 + Math.ceil(size.value / DELETE_MAX_KEYS),
      count: countDue,
      batch: async (c) => {
        const batch = await purgeBatch(c, size);
        sweepsDue = batch.sweepsDue;
        return batch;
      },
    });
    if (ctx.dryRun || outcome.more || !sweepsDue) return outcome;
    // The sweeps, once the outbox is drained: each step is one page of one erased user's prefix.
    const more = await inBatches(ctx.budget, SWEEP_STEP_COST, async () => {
      const step = await sweepStep(ctx);
      addCounts(outcome.counts, step.counts);
      return step.more;
    });
    return { counts: outcome.counts, more };
  },
});

/** The most keys one batch claims: ten delete calls, so a batch costs at most 14 subrequests. */
const CLAIM_MAX_KEYS = 10 * DELETE_MAX_KEYS;

interface Claimed {
  id: number;
  blob_key: string;
  store: BlobStoreName;
  attempts: number;
  live: boolean;
  /** The row's enqueued_at as claimed, as text (exact to the microsecond). */
  enqueued: string;
  /** The next_attempt_at the claim set (now() + CLAIM_SECONDS), as text: with `attempts`, the claim's token. */
  claimed_until: string;
}

async function purgeBatch(ctx: JobContext, size: BatchSize): Promise<Batch & { sweepsDue: boolean }> {
  // `live`: the key belongs to an attachments row again (a reused key). Its outbox entry is
  // dropped without touching the store: deleting it would destroy a blob whose row exists.
  // `store`: a row's first claim records the store BLOB_STORE names (where the app writes now);
  // a row claimed before keeps its own. The same request says whether a sweep is due (one
  // probe of blob_sweeps_due_idx), so an idle run costs one request.
  const { rows, full, sweepsDue } = await timedBatch(ctx, size, async (limit) => {
    const [claimed, sweeps] = await ctx.budget.request(() =>
      ctx.db.batch([
        ctx.db.execute(sql`
      WITH due AS (
        SELECT id FROM spacerr_jobs.blob_deletions b
        WHERE parked_at IS NULL AND next_attempt_at <= now() AND NOT ${heldFile(sql`b`, ctx.now)}
        ORDER BY next_attempt_at, id
        LIMIT ${limit}
        FOR UPDATE SKIP LOCKED
      )
      UPDATE spacerr_jobs.blob_deletions b SET next_attempt_at = now() + make_interval(secs => ${CLAIM_SECONDS}),
        store = coalesce(b.store, ${ctx.blobs.current})
      FROM due WHERE b.id = due.id
      RETURNING b.id, b.blob_key, b.store, b.attempts, b.enqueued_at::text AS enqueued, b.next_attempt_at::text AS claimed_until, ${liveKey(sql`b.blob_key`)} AS live`),
        ctx.db.execute(sql`SELECT EXISTS (
        SELECT 1 FROM spacerr_jobs.blob_sweeps w WHERE ${dueSweep(ctx.now)}) AS due`),
      ]),
    );
    const rows = claimed.rows as unknown as Claimed[];
    const due = sweeps.rows[0]?.due;
    return { rows, full: rows.length >= limit, sweepsDue: due === true || due === 't' };
  });
  if (rows.length === 0) return { counts: {}, full: false, sweepsDue };
  const dead = rows.filter((r) => !r.live);
  // One store's keys after another's, so every delete call names keys of one store.
  dead.sort((a, b) => (a.store < b.store ? -1 : a.store > b.store ? 1 : 0));

  // One attempt per call: the outbox's attempts and backoff are the retry mechanism for a store.
  for (let done = 0; done < dead.length;) {
    const store = dead[done]!.store;
    let end = done;
    while (end < dead.length && end - done < DELETE_MAX_KEYS && dead[end]!.store === store) end++;
    const chunk = dead.slice(done, end);
    ctx.budget.spend();
    try {
      await storeOf(ctx, store).delete(chunk.map((r) => r.blob_key));
    } catch (err) {
      const confirmed = [...rows.filter((r) => r.live), ...dead.slice(0, done)];
      await settleFailure(ctx, { confirmed, failed: chunk, untried: dead.slice(end) }, err);
      throw new BlobDeleteError(`${STORE_NAMES[store]} delete of ${chunk.length} keys failed: ${failureText(err)}`, { cause: err });
    }
    done = end;
  }
  await ctx.budget.request(() => ctx.db.execute(confirm(rows)));
  return { counts: { blobs: dead.length, blob_deletions: rows.length, reused_keys_kept: rows.length - dead.length }, full, sweepsDue };
}

/** The store a row names; one this invocation has no settings for throws as a failed call (parked). */
function storeOf(ctx: JobContext, name: BlobStoreName): BlobStore {
  return ctx.blobs.get(name);
}

/**
 * Removes the claimed rows from the outbox, each only as it was claimed: a row the app re-armed
 * meanwhile (its key deleted again: a new object under a reused key) has a new enqueued_at and
 * stays, due again, so that object is deleted too.
 */
function confirm(rows: Claimed[]): SQL {
  return sql`DELETE FROM spacerr_jobs.blob_deletions b
    USING unnest(${pgArray(rows.map((r) => r.id))}::bigint[], ${pgArray(rows.map((r) => r.enqueued))}::timestamptz[]) AS c(id, enqueued_at)
    WHERE b.id = c.id AND b.enqueued_at = c.enqueued_at`;
}

/**
 * The claimed rows that are still as this claim left them: the same attempts, and the
 * next_attempt_at the claim set. Writing an attempt's outcome changes attempts, so a request that
 * committed and is sent again (its reply was lost) finds no row as claimed and changes nothing: a
 * failed call counts once, however often its recording is retried. A row the app re-armed, or an
 * operator requeued, meanwhile (next_attempt_at = now()) is no longer as claimed either, and is
 * left as they made it. Binds `c` (with `c.id`) for the statement's FROM and `b` for the row.
 */
function asClaimed(rows: Claimed[]): SQL {
  return sql`unnest(${pgArray(rows.map((r) => r.id))}::bigint[], ${pgArray(rows.map((r) => r.attempts))}::int[],
                    ${pgArray(rows.map((r) => r.claimed_until))}::timestamptz[]) AS c(id, attempts, claimed_until)`;
}
const matchesClaim = sql`b.id = c.id AND b.attempts = c.attempts AND b.next_attempt_at = c.claimed_until`;

/**
 * After a store's call failed, in one request (one transaction), in place of the confirming DELETE:
 * the keys already deleted (and the reused keys) leave the outbox; the failed call's rows get
 * attempts + 1, the error and a backoff (`backoffSeconds`), parked at the max or at once on an
 * answer that will not change; the rows whose call was never made are due again at once, their
 * attempts untouched.
 * Each UPDATE touches a row only as claimed (`asClaimed`): the request is safe to repeat.
 */
async function settleFailure(ctx: JobContext, rows: { confirmed: Claimed[]; failed: Claimed[]; untried: Claimed[] }, err: unknown) {
  await ctx.budget.request(() =>
    ctx.db.batch([
      ctx.db.execute(confirm(rows.confirmed)),
      ctx.db.execute(sql`
      UPDATE spacerr_jobs.blob_deletions b SET
        attempts = b.attempts + 1,
        last_error = ${failureText(err).slice(0, 500)},
        next_attempt_at = now() + make_interval(secs => ${backoffSeconds(sql`b.attempts`, err)}),
        parked_at = CASE WHEN ${parksNow(err)}::boolean OR b.attempts + 1 >= ${ctx.config.blobMaxAttempts} THEN now() END
      FROM ${asClaimed(rows.failed)} WHERE ${matchesClaim}`),
      ctx.db.execute(sql`UPDATE spacerr_jobs.blob_deletions b SET next_attempt_at = now()
      FROM ${asClaimed(rows.untried)} WHERE ${matchesClaim}`),
    ]),
  );
}

async function countDue(ctx: JobContext) {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    SELECT count(*) FILTER (WHERE parked_at IS NULL AND next_attempt_at <= now() AND NOT ${heldFile(sql`b`, ctx.now)}) AS blobs,
           count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked,
           (SELECT count(*) FROM spacerr_jobs.blob_sweeps w WHERE ${dueSweep(ctx.now)}) AS sweeps
    FROM spacerr_jobs.blob_deletions b`),
  );
  const row = result.rows[0] ?? {};
  return { blobs: num(row.blobs), parked: num(row.parked), sweeps: num(row.sweeps) };
}

/**
 * "This queued file belongs to an account under a legal hold": its recorded owner is held, or
 * (where a cascade from the chat or the user left `owner_id` NULL) its key lies under a held
 * user's prefix (the map's `blobPrefixes`). Such a file stays queued, untouched, until the hold
 * ends. `anyHolds` first, so that without holds nothing else is evaluated.
 */
function heldFile(b: SQL, now: Date): SQL {
  const underPrefix = BLOB_PREFIXES.map((template) => {
    const [before, after] = template.split('<userId>') as [string, string];
    return sql` OR starts_with(${b}.blob_key, ${before} || lh.user_id || ${after})`;
  });
  const match = sql`(lh.user_id = ${b}.owner_id${sql.join(underPrefix, sql``)})`;
  return sql`(${anyHolds} AND ${activeHoldWhere(match, sql`${now.toISOString()}::timestamptz`)})`;
}
