/**
 * delete-orphaned-message-sources: message_sources rows whose attachment is gone (its foreign key
 * was set to NULL when the attachment was deleted) or no longer attached to that message (the
 * attachment was moved; a trigger queued it in message_source_checks). Both are found by index,
 * in time proportional to the orphans.
 */
import { APP } from '../app-map/app';
import { type SQL, sql } from 'drizzle-orm';
import { capped } from '../db/backlog';
import { anyHolds, heldOwner } from '../db/holds';
import { num } from '../db/rows';
import { type Batch, batchedRun, batchSize, timedBatch } from '../run/batched-run';
import { defineJob, type JobContext } from '../run/job';
import { SCHEDULES } from '../schedules';

/**
 * Only in a layout whose message sources point at an attachments row (`attachmentId`, set NULL when
 * the attachment goes). Spacerr's message_source is itself the file of a message and goes with it
 * by cascade: there is nothing for this job to find, and it is off (the listing says so).
 */
const ON = APP.has('attachment') && APP.has('messageSource') && APP.role('messageSource').has('attachmentId');
const source = ON ? APP.role('messageSource') : undefined;
const attachment = ON ? APP.role('attachment') : undefined;

export const deleteOrphanedMessageSources = defineJob({
  name: 'delete-orphaned-message-sources',
  description: 'Deletes message_sources rows whose attachment is gone or no longer attached to that message.',
  schedule: SCHEDULES.tick,
  deletes: ['message_sources'],
  // Index: message_sources_orphaned_idx (partial); the checks queue is small by construction.
  figures: () => ({
    orphaned: source ? capped(sql`FROM ${source.table} WHERE ${source.col('attachmentId')} IS NULL`) : sql`0`,
    checksQueued: capped(sql`FROM spacerr_jobs.message_source_checks`),
  }),
  backlog: ['orphaned', 'checksQueued'],
  enabled: () => ON,
  run(ctx) {
    // A source row is small and found by index: 50,000 go in ≈ 25 ms of Postgres time at 1M chats,
    // so over a slow link batches grow until transport no longer dominates.
    const size = batchSize(ctx, { start: ctx.config.deleteBatchSize, max: SOURCES_BATCH_MAX });
    return batchedRun(ctx, { cost: 1, count: countOrphans, batch: (c) => timedBatch(c, size, (n) => deleteBatch(c, n)) });
  },
});

/**
 * The source row `s` belongs (through its message's chat) to an account under a legal hold at
 * `now` (src/db/holds.ts): it is kept, and so is its queued check, until the hold ends.
 * Index: the message's and the chat's primary keys, then legal_holds_pkey, per candidate; none
 * of it while no hold exists (`anyHolds`, read once per statement).
 */
function ownerHeld(s: string, now: Date): SQL {
  const message = APP.role('message');
  const chat = APP.role('chat');
  return sql`(${anyHolds} AND EXISTS (SELECT 1 FROM ${message.table} hm JOIN ${chat.table} hc ON hc.${chat.id} = hm.${message.col('chatId')}
    WHERE hm.${message.id} = ${sql.raw(s)}.${source!.col('messageId')}
      AND ${heldOwner(sql`hc.${chat.col('userId')}`, sql`${now.toISOString()}::timestamptz`)}))`;
}
/** A queued check of the attachment `attachmentId` concerns a source a legal hold keeps. */
const checkHeld = (attachmentId: SQL, now: Date) =>
  sql`EXISTS (SELECT 1 FROM ${source!.table} hs WHERE hs.${source!.col('attachmentId')} = ${attachmentId} AND ${ownerHeld('hs', now)})`;

/** The most orphans of each kind one batch deletes. */
const SOURCES_BATCH_MAX = 100_000;

/** Both kinds of orphan in one request (a batch runs in one transaction), up to `n` of each. */
async function deleteBatch(ctx: JobContext, n: number): Promise<Batch> {
  const s = source!;
  const a = attachment!;
  const [gone, moved] = await ctx.budget.request(() =>
    ctx.db.batch([
      // FOR UPDATE re-checks attachment_id IS NULL on the newest row version, so a source the app
      // has just pointed at an attachment again is left alone. Index: message_sources_orphaned_idx.
      ctx.db.execute(sql`
      WITH doomed AS (
        SELECT s.${s.id} AS id FROM ${s.table} s WHERE s.${s.col('attachmentId')} IS NULL AND NOT ${ownerHeld('s', ctx.now)}
        LIMIT ${n} FOR UPDATE SKIP LOCKED
      ),
      deleted AS (DELETE FROM ${s.table} WHERE ${s.id} IN (SELECT id FROM doomed) RETURNING 1)
      SELECT (SELECT count(*) FROM doomed) AS selected, (SELECT count(*) FROM deleted) AS deleted`),
      // FOR SHARE on the queued attachments reads their newest message_id and holds it until we
      // commit, so an attachment moved back to its message concurrently cannot lose its source.
      ctx.db.execute(sql`
      WITH checks AS (
        DELETE FROM spacerr_jobs.message_source_checks
        WHERE attachment_id IN (
          SELECT q.attachment_id FROM spacerr_jobs.message_source_checks q WHERE NOT ${checkHeld(sql`q.attachment_id`, ctx.now)}
          ORDER BY q.enqueued_at LIMIT ${n} FOR UPDATE SKIP LOCKED)
        RETURNING attachment_id
      ),
      latest AS (
        SELECT ${a.id} AS id, ${a.col('messageId')} AS message_id FROM ${a.table}
        WHERE ${a.id} IN (SELECT attachment_id FROM checks) FOR SHARE
      ),
      deleted AS (
        DELETE FROM ${s.table} s
        WHERE s.${s.col('attachmentId')} IN (SELECT attachment_id FROM checks)
          AND NOT EXISTS (SELECT 1 FROM latest c WHERE c.id = s.${s.col('attachmentId')} AND c.message_id = s.${s.col('messageId')})
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
  const s = source!;
  const a = attachment!;
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    SELECT
      (SELECT count(*) FROM ${s.table} s WHERE s.${s.col('attachmentId')} IS NULL AND NOT ${ownerHeld('s', ctx.now)})
      + (SELECT count(*) FROM ${s.table} s
         WHERE s.${s.col('attachmentId')} IN (SELECT attachment_id FROM spacerr_jobs.message_source_checks)
           AND NOT ${checkHeld(sql`s.${s.col('attachmentId')}`, ctx.now)}
           AND NOT EXISTS (SELECT 1 FROM ${a.table} a
                           WHERE a.${a.id} = s.${s.col('attachmentId')} AND a.${a.col('messageId')} = s.${s.col('messageId')}))
      AS message_sources`),
  );
  return { message_sources: num(result.rows[0]?.message_sources) };
}
