/**
 * delete-stale-empty-chats: chats created more than EMPTY_CHAT_MIN_AGE_MINUTES ago that have no
 * messages. Their attachments (uploaded but never sent) go with them by cascade, and the outbox
 * trigger queues their blobs.
 */
import { sql } from 'drizzle-orm';
import { capped } from '../db/backlog';
import { num } from '../db/rows';
import { batchedDeletes, type DeleteBatch } from '../run/batched-run';
import { type AsOf, defineJob, type JobContext } from '../run/job';
import { before, MINUTE_MS } from '../time';

/** Chats created before this, without messages, are due for deletion. */
const cutoff = ({ config, now }: AsOf) => before(now, config.emptyChatMinAgeMinutes, MINUTE_MS);

export const deleteStaleEmptyChats = defineJob({
  name: 'delete-stale-empty-chats',
  description: 'Deletes chats older than EMPTY_CHAT_MIN_AGE_MINUTES that have no messages.',
  // Every 12 h, 00:00 and 12:00 UTC.
  cron: '0 */12 * * *',
  cutoff,
  // Index: chats_empty_created_at_idx (partial, NOT has_messages).
  figures: (at) => ({ eligible: capped(sql`FROM chats WHERE NOT has_messages AND created_at < ${cutoff(at)}`) }),
  backlog: ['eligible'],
  run(ctx) {
    return batchedDeletes(ctx, {
      cutoff: cutoff(ctx),
      batchSize: ctx.config.emptyChatBatchSize,
      cost: 1,
      count: countStaleEmptyChats,
      deleteBatch,
    });
  },
});

/**
 * One batch, one statement, one transaction. Race safety with a first message being inserted:
 * - The app's INSERT into messages takes a KEY SHARE lock on the chat (foreign key check) and its
 *   trigger sets chats.has_messages = true, updating the chat row, before it commits.
 * - `FOR UPDATE SKIP LOCKED` skips a chat whose message insert is in flight; it is not deleted.
 * - If that insert committed after this statement's snapshot, the chat row has a newer version;
 *   READ COMMITTED re-evaluates `NOT has_messages` on it (EvalPlanQual) and drops the chat.
 * - Once we hold the row lock, a new insert waits for us and then fails its foreign key check:
 *   the app sees the error, and no committed message is ever deleted with its chat.
 * The NOT EXISTS re-check covers a has_messages flag gone stale; such chats (locked, not deleted)
 * are healed rather than left to block the head of the index, without probing messages again.
 * Index: chats_empty_created_at_idx (partial, NOT has_messages); `= ANY(ARRAY(…))` keeps the
 * delete, the heal and the attachment count on primary-key and foreign-key index probes.
 */
async function deleteBatch(ctx: JobContext, cutoff: Date): Promise<DeleteBatch> {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH doomed AS (
      SELECT id FROM chats
      WHERE NOT has_messages AND created_at < ${cutoff}
      ORDER BY created_at
      LIMIT ${ctx.config.emptyChatBatchSize}
      FOR UPDATE SKIP LOCKED
    ),
    deleted AS (
      DELETE FROM chats c
      WHERE c.id = ANY(ARRAY(SELECT id FROM doomed)) AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id)
      RETURNING c.id
    ),
    healed AS (
      UPDATE chats c SET has_messages = true
      WHERE c.id = ANY(ARRAY(SELECT id FROM doomed EXCEPT SELECT id FROM deleted))
      RETURNING c.id
    )
    SELECT (SELECT count(*) FROM doomed) AS selected,
           (SELECT count(*) FROM deleted) AS chats,
           (SELECT count(*) FROM attachments a WHERE a.chat_id = ANY(ARRAY(SELECT id FROM deleted))) AS attachments`),
  );
  const row = result.rows[0] ?? {};
  return { selected: num(row.selected), counts: { chats: num(row.chats), attachments: num(row.attachments) } };
}

async function countStaleEmptyChats(ctx: JobContext, cutoff: Date) {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH stale AS (
      SELECT c.id FROM chats c
      WHERE NOT c.has_messages AND c.created_at < ${cutoff}
        AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id)
    )
    SELECT (SELECT count(*) FROM stale) AS chats,
           (SELECT count(*) FROM attachments a WHERE a.chat_id IN (SELECT id FROM stale)) AS attachments`),
  );
  const row = result.rows[0] ?? {};
  return { chats: num(row.chats), attachments: num(row.attachments) };
}
