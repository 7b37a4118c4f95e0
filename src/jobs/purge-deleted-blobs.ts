/**
 * purge-deleted-blobs: drains blob_deletions (the outbox the attachments trigger fills) into R2.
 * A key leaves the outbox only after R2 confirmed its deletion (deleting a key that is already gone
 * succeeds in R2). An R2 failure leaves the rows with attempts + 1, last_error and a backed-off
 * next_attempt_at; after BLOB_MAX_ATTEMPTS a row is parked and shown as needing attention.
 */
import { inArray, sql } from 'drizzle-orm';
import { capped } from '../db/backlog';
import { num } from '../db/rows';
import { blobDeletions } from '../db/schema';
import { type Batch, batchedRun } from '../run/batched-run';
import { defineJob, type JobContext } from '../run/job';
import { EVERY_10_MINUTES } from '../run/schedule';

/** R2's limit on keys per delete call. */
export const R2_DELETE_MAX_KEYS = 1000;
/** A claimed row is not picked again for this long if the run dies before confirming it. */
const CLAIM_SECONDS = 900;

export class BlobDeleteError extends Error {
  override name = 'BlobDeleteError';
}

export const purgeDeletedBlobs = defineJob({
  name: 'purge-deleted-blobs',
  description: 'Deletes the R2 objects queued in blob_deletions, in batches of up to 1000 keys.',
  cron: EVERY_10_MINUTES,
  sweep: true,
  // Index: blob_deletions_due_idx and blob_deletions_parked_idx (partial).
  figures: () => ({
    pending: capped(sql`FROM spacerr_jobs.blob_deletions WHERE parked_at IS NULL`),
    parked: capped(sql`FROM spacerr_jobs.blob_deletions WHERE parked_at IS NOT NULL`),
  }),
  backlog: ['pending', 'parked'],
  alarm: {
    code: 'blobs_parked',
    figures: ['parked'],
    raise(read, config) {
      const count = num(read.parked);
      if (count === 0) return undefined;
      return {
        count,
        message: `${count} blob deletion(s) gave up after ${config.blobMaxAttempts} attempts (see blob_deletions.last_error)`,
      };
    },
  },
  run(ctx) {
    // A batch is claim + R2 delete + confirm (or record the failure), plus one spare for a retry.
    return batchedRun(ctx, { cost: 4, count: countDue, batch: purgeBatch });
  },
});

interface Claimed {
  id: number;
  blob_key: string;
  attempts: number;
  live: boolean;
}

async function purgeBatch(ctx: JobContext): Promise<Batch> {
  // `live`: the key belongs to an attachments row again (a reused key). Its outbox entry is
  // dropped without touching R2: deleting it would destroy a blob whose row exists.
  const claimed = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH due AS (
      SELECT id FROM spacerr_jobs.blob_deletions
      WHERE parked_at IS NULL AND next_attempt_at <= now()
      ORDER BY next_attempt_at, id
      LIMIT ${R2_DELETE_MAX_KEYS}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE spacerr_jobs.blob_deletions b SET next_attempt_at = now() + make_interval(secs => ${CLAIM_SECONDS})
    FROM due WHERE b.id = due.id
    RETURNING b.id, b.blob_key, b.attempts,
              EXISTS (SELECT 1 FROM public.attachments a WHERE a.blob_key = b.blob_key) AS live`),
  );
  const rows = claimed.rows as unknown as Claimed[];
  if (rows.length === 0) return { counts: {}, full: false };
  const keys = rows.filter((r) => !r.live).map((r) => r.blob_key);
  const ids = rows.map((r) => num(r.id));

  if (keys.length > 0) {
    // One attempt: the outbox's attempts and backoff are the retry mechanism for R2.
    ctx.budget.spend();
    try {
      await ctx.blobs.delete(keys);
    } catch (err) {
      await recordFailure(
        ctx,
        rows.filter((r) => !r.live).map((r) => num(r.id)),
        err,
      );
      throw new BlobDeleteError(`R2 delete of ${keys.length} keys failed: ${errorText(err)}`, { cause: err });
    }
  }
  await ctx.budget.request(() => ctx.db.delete(blobDeletions).where(inArray(blobDeletions.id, ids)));
  return {
    counts: { blobs: keys.length, blob_deletions: ids.length, reused_keys_kept: ids.length - keys.length },
    full: rows.length >= R2_DELETE_MAX_KEYS,
  };
}

/** attempts + 1, the error, exponential backoff (1 min · 2^attempts, at most 6 h), parked at the max. */
async function recordFailure(ctx: JobContext, ids: number[], err: unknown) {
  // Takes the place of the confirming DELETE within the batch's three subrequests.
  await ctx.budget.request(() =>
    ctx.db.execute(sql`
    UPDATE spacerr_jobs.blob_deletions SET
      attempts = attempts + 1,
      last_error = ${errorText(err).slice(0, 500)},
      next_attempt_at = now() + make_interval(secs => least(60 * power(2, attempts), 21600)),
      parked_at = CASE WHEN attempts + 1 >= ${ctx.config.blobMaxAttempts} THEN now() END
    WHERE ${inArray(blobDeletions.id, ids)}`),
  );
}

async function countDue(ctx: JobContext) {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    SELECT count(*) FILTER (WHERE parked_at IS NULL AND next_attempt_at <= now()) AS blobs,
           count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
    FROM spacerr_jobs.blob_deletions`),
  );
  const row = result.rows[0] ?? {};
  return { blobs: num(row.blobs), parked: num(row.parked) };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
