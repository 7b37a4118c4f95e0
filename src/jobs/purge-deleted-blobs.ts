/**
 * purge-deleted-blobs: drains blob_deletions (the outbox the attachments trigger fills) into R2.
 * A key leaves the outbox only after R2 confirmed its deletion (deleting a key that is already gone
 * succeeds in R2). An R2 failure leaves the rows with attempts + 1, last_error and a backed-off
 * next_attempt_at; after BLOB_MAX_ATTEMPTS a row is parked and shown as needing attention.
 * The claim, its token, the backoff and parking are the outbox machinery (src/db/outbox.ts).
 */
import { type SQL, sql } from 'drizzle-orm';
import { APP } from '../app-map/app';
import { type ClaimToken, errorText, outbox, pgArray } from '../db/outbox';
import { num } from '../db/rows';
import type { BatchSize } from '../run/batch-size';
import { type Batch, batchedRun, batchSize, timedBatch } from '../run/batched-run';
import { defineJob, type JobContext } from '../run/job';
import { EVERY_10_MINUTES } from '../run/schedule';

/**
 * A key is live while a row of the app names it again: an attachments row's key, or a message
 * source's pathname (each found by the index the installer ensures). A message part naming it is
 * not looked for: that would scan every message's parts, and Spacerr's pathnames carry a random
 * suffix per upload, so a deleted part's pathname does not come back.
 */
function liveKey(key: SQL): SQL {
  const checks: SQL[] = [];
  if (APP.has('attachment')) {
    const a = APP.role('attachment');
    checks.push(sql`EXISTS (SELECT 1 FROM ${a.table} a WHERE a.${a.col('blobKey')} = ${key})`);
  }
  if (APP.has('messageSource') && APP.role('messageSource').has('pathname')) {
    const m = APP.role('messageSource');
    checks.push(sql`EXISTS (SELECT 1 FROM ${m.table} s WHERE s.${m.col('pathname')} = ${key})`);
  }
  return checks.length > 0 ? sql.join(checks, sql` OR `) : sql`false`;
}

/** R2's limit on keys per delete call. */
export const R2_DELETE_MAX_KEYS = 1000;

const BLOBS = outbox('blob_deletions');

export class BlobDeleteError extends Error {
  override name = 'BlobDeleteError';
}

export const purgeDeletedBlobs = defineJob({
  name: 'purge-deleted-blobs',
  description: 'Deletes the R2 objects queued in blob_deletions, in batches of up to 1000 keys.',
  cron: EVERY_10_MINUTES,
  sweep: true,
  // Index: blob_deletions_due_idx and blob_deletions_parked_idx (partial).
  figures: () => BLOBS.figures(),
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
  // After R2 access is fixed. Index: blob_deletions_parked_idx (partial).
  requeue: BLOBS.requeue,
  run(ctx) {
    // The claim grows with BATCH_TARGET_MS from one R2 call's worth of keys up to CLAIM_MAX_KEYS:
    // the claim is the only statement whose time grows with it, and each R2 call stays ≤ 1000 keys.
    const size = batchSize(ctx, { start: R2_DELETE_MAX_KEYS, max: CLAIM_MAX_KEYS });
    return batchedRun(ctx, {
      // A batch is claim + one R2 delete per 1000 keys + confirm (or record the failure), plus one
      // spare for a retry.
      cost: () => 3 + Math.ceil(size.value / R2_DELETE_MAX_KEYS),
      count: countDue,
      batch: (c) => purgeBatch(c, size),
    });
  },
});

/** The most keys one batch claims: ten R2 calls, so a batch costs at most 13 subrequests. */
const CLAIM_MAX_KEYS = 10 * R2_DELETE_MAX_KEYS;

interface Claimed extends ClaimToken {
  blob_key: string;
  live: boolean;
  /** The row's enqueued_at as claimed, as text (exact to the microsecond). */
  enqueued: string;
}

async function purgeBatch(ctx: JobContext, size: BatchSize): Promise<Batch> {
  // `live`: the key belongs to an attachments row again (a reused key). Its outbox entry is
  // dropped without touching R2: deleting it would destroy a blob whose row exists.
  const { rows, full } = await timedBatch(ctx, size, async (limit) => {
    const claimed = await ctx.budget.request(() =>
      ctx.db.execute(BLOBS.claim(limit, sql`b.blob_key, b.enqueued_at::text AS enqueued, ${liveKey(sql`b.blob_key`)} AS live`)),
    );
    const rows = claimed.rows as unknown as Claimed[];
    return { rows, full: rows.length >= limit };
  });
  if (rows.length === 0) return { counts: {}, full: false };
  const dead = rows.filter((r) => !r.live);
  const keys = dead.map((r) => r.blob_key);

  // One attempt per call: the outbox's attempts and backoff are the retry mechanism for R2.
  for (let done = 0; done < dead.length; done += R2_DELETE_MAX_KEYS) {
    const chunk = dead.slice(done, done + R2_DELETE_MAX_KEYS);
    ctx.budget.spend();
    try {
      await ctx.blobs.delete(chunk.map((r) => r.blob_key));
    } catch (err) {
      const confirmed = [...rows.filter((r) => r.live), ...dead.slice(0, done)];
      await settleFailure(ctx, { confirmed, failed: chunk, untried: dead.slice(done + R2_DELETE_MAX_KEYS) }, err);
      throw new BlobDeleteError(`R2 delete of ${chunk.length} keys failed: ${errorText(err)}`, { cause: err });
    }
  }
  await ctx.budget.request(() => ctx.db.execute(confirm(rows)));
  return {
    counts: { blobs: keys.length, blob_deletions: rows.length, reused_keys_kept: rows.length - keys.length },
    full,
  };
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
 * After an R2 call failed, in one request (one transaction), in place of the confirming DELETE:
 * the keys R2 already deleted (and the reused keys) leave the outbox; the failed call's rows get
 * attempts + 1, the error and an exponential backoff (1 min · 2^attempts, at most 6 h), parked at
 * the max; the rows whose call was never made are due again at once, their attempts untouched.
 * Each UPDATE touches a row only as claimed (src/db/outbox.ts): the request is safe to repeat.
 */
async function settleFailure(ctx: JobContext, rows: { confirmed: Claimed[]; failed: Claimed[]; untried: Claimed[] }, err: unknown) {
  await ctx.budget.request(() =>
    ctx.db.batch([
      ctx.db.execute(confirm(rows.confirmed)),
      ctx.db.execute(BLOBS.failed(rows.failed, errorText(err), ctx.config.blobMaxAttempts)),
      ctx.db.execute(BLOBS.untried(rows.untried)),
    ]),
  );
}

async function countDue(ctx: JobContext) {
  const result = await ctx.budget.request(() => ctx.db.execute(BLOBS.countDue()));
  const row = result.rows[0] ?? {};
  return { blobs: num(row.due), parked: num(row.parked) };
}
