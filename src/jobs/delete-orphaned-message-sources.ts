/**
 * delete-orphaned-message-sources: message_sources rows whose attachment is gone (its foreign key
 * was set to NULL when the attachment was deleted) or no longer attached to that message (the
 * attachment was moved; a trigger queued it in message_source_checks). Both are found by index,
 * in time proportional to the orphans.
 */
import { sql } from 'drizzle-orm';
import { capped } from '../db/backlog';
import { num } from '../db/rows';
import { type Batch, batchedRun, batchSize, timedBatch } from '../run/batched-run';
import { defineJob, type JobContext } from '../run/job';
import { EVERY_10_MINUTES } from '../run/schedule';

export const deleteOrphanedMessageSources = defineJob({
  name: 'delete-orphaned-message-sources',
  description: 'Deletes message_sources rows whose attachment is gone or no longer attached to that message.',
  cron: EVERY_10_MINUTES,
  sweep: true,
  // Index: message_sources_orphaned_idx (partial); the checks queue is small by construction.
  figures: () => ({
    orphaned: capped(sql`FROM public.message_sources WHERE attachment_id IS NULL`),
    checksQueued: capped(sql`FROM spacerr_jobs.message_source_checks`),
  }),
  backlog: ['orphaned', 'checksQueued'],
  run(ctx) {
    // A source row is small and found by index: 50,000 go in ≈ 25 ms of Postgres time at 1M chats,
    // so over a slow link batches grow until transport no longer dominates.
    const size = batchSize(ctx, { start: ctx.config.deleteBatchSize, max: SOURCES_BATCH_MAX });
    return batchedRun(ctx, { cost: 1, count: countOrphans, batch: (c) => timedBatch(c, size, (n) => deleteBatch(c, n)) });
  },
});

/** The most orphans of each kind one batch deletes. */
const SOURCES_BATCH_MAX = 100_000;

/** Both kinds of orphan in one request (a batch runs in one transaction), up to `n` of each. */
async function deleteBatch(ctx: JobContext, n: number): Promise<Batch> {
  const [gone, moved] = await ctx.budget.request(() =>
    ctx.db.batch([
      // FOR UPDATE re-checks attachment_id IS NULL on the newest row version, so a source the app
      // has just pointed at an attachment again is left alone. Index: message_sources_orphaned_idx.
      ctx.db.execute(sql`
      WITH doomed AS (
        SELECT id FROM public.message_sources WHERE attachment_id IS NULL
        LIMIT ${n} FOR UPDATE SKIP LOCKED
      ),
      deleted AS (DELETE FROM public.message_sources WHERE id IN (SELECT id FROM doomed) RETURNING 1)
      SELECT (SELECT count(*) FROM doomed) AS selected, (SELECT count(*) FROM deleted) AS deleted`),
      // FOR SHARE on the queued attachments reads their newest message_id and holds it until we
      // commit, so an attachment moved back to its message concurrently cannot lose its source.
      ctx.db.execute(sql`
      WITH checks AS (
        DELETE FROM spacerr_jobs.message_source_checks
        WHERE attachment_id IN (
          SELECT attachment_id FROM spacerr_jobs.message_source_checks ORDER BY enqueued_at LIMIT ${n} FOR UPDATE SKIP LOCKED)
        RETURNING attachment_id
      ),
      latest AS (
        SELECT id, message_id FROM public.attachments WHERE id IN (SELECT attachment_id FROM checks) FOR SHARE
      ),
      deleted AS (
        DELETE FROM public.message_sources s
        WHERE s.attachment_id IN (SELECT attachment_id FROM checks)
          AND NOT EXISTS (SELECT 1 FROM latest c WHERE c.id = s.attachment_id AND c.message_id = s.message_id)
        RETURNING 1
      )
      SELECT (SELECT count(*) FROM checks) AS selected, (SELECT count(*) FROM deleted) AS deleted`),
    ]),
  );
  const g = gone.rows[0] ?? {};
  const m = moved.rows[0] ?? {};
  return {
    counts: { message_sources: num(g.deleted) + num(m.deleted), message_source_checks: num(m.selected) },
    full: num(g.selected) >= n || num(m.selected) >= n,
  };
}

async function countOrphans(ctx: JobContext) {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    SELECT
      (SELECT count(*) FROM public.message_sources WHERE attachment_id IS NULL)
      + (SELECT count(*) FROM public.message_sources s
         WHERE s.attachment_id IN (SELECT attachment_id FROM spacerr_jobs.message_source_checks)
           AND NOT EXISTS (SELECT 1 FROM public.attachments a WHERE a.id = s.attachment_id AND a.message_id = s.message_id))
      AS message_sources`),
  );
  return { message_sources: num(result.rows[0]?.message_sources) };
}
