/**
 * delete-stale-deactivated-accounts: users whose deactivated_at is more than
 * ACCOUNT_RETENTION_DAYS old, with everything they own. Blob keys of their attachments reach
 * blob_deletions through the outbox trigger in the same transaction; their chats' stream state in
 * Redis is removed at the end of the run (from stream_deletions, filled by the chats trigger).
 */
import { sql } from 'drizzle-orm';
import { drainStreamDeletions } from './stream-deletions';
import { addCounts, inBatches, type Job, type JobContext, num } from './types';

const DAY_MS = 86_400_000;

export const deleteStaleDeactivatedAccounts: Job = {
  name: 'delete-stale-deactivated-accounts',
  description: 'Deletes users deactivated more than ACCOUNT_RETENTION_DAYS ago, with everything they own.',
  async run(ctx) {
    const cutoff = new Date(ctx.now.getTime() - ctx.config.accountRetentionDays * DAY_MS);
    if (ctx.dryRun) return { counts: await countStaleAccounts(ctx, cutoff), more: false };
    const counts: Record<string, number> = {};
    // A batch costs 1; keep 3 in hand so one drain of the stream queue below still fits.
    const more = await inBatches(ctx.budget, 4, async () => {
      const batch = await deleteBatch(ctx, cutoff);
      addCounts(counts, batch.counts);
      return batch.selected >= ctx.config.deleteBatchSize;
    });
    // Redis state of the chats just deleted; whatever the budget leaves for later,
    // clear-stale-streams picks up from the same queue. No chats deleted: nothing of ours queued.
    if ((counts.chats ?? 0) > 0) addCounts(counts, (await drainStreamDeletions(ctx)).counts);
    return { counts, more };
  },
};

/**
 * One batch of users, deleted with their rows in one statement (so one transaction): children
 * first, set-based, which also yields exact counts per table. The foreign keys' cascades still
 * run and catch anything the snapshot did not see (another user's attachment in this user's chat,
 * a message committed a moment ago), so nothing that references a deleted user survives.
 *
 * Race safety with reactivation (UPDATE users SET deactivated_at = NULL):
 * - `FOR UPDATE SKIP LOCKED` skips a user whose reactivation is in flight (it holds the row).
 * - A reactivation committed after our snapshot left a newer row version; READ COMMITTED
 *   re-evaluates `deactivated_at < cutoff` on it (EvalPlanQual) and the user drops out.
 * - Once we hold the row, a reactivation waits for us and then updates no row: the user was
 *   already gone when it arrived.
 * Index: users_deactivated_at_idx (partial); every child lookup uses its foreign key's index.
 */
async function deleteBatch(ctx: JobContext, cutoff: Date) {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH doomed AS (
      SELECT id FROM users
      WHERE deactivated_at < ${cutoff}
      ORDER BY deactivated_at
      LIMIT ${ctx.config.deleteBatchSize}
      FOR UPDATE SKIP LOCKED
    ),
    doomed_chats AS (SELECT id FROM chats WHERE user_id IN (SELECT id FROM doomed)),
    doomed_messages AS (SELECT id FROM messages WHERE chat_id IN (SELECT id FROM doomed_chats)),
    d_sources AS (DELETE FROM message_sources WHERE message_id IN (SELECT id FROM doomed_messages) RETURNING 1),
    d_attachments AS (DELETE FROM attachments WHERE user_id IN (SELECT id FROM doomed) RETURNING 1),
    d_messages AS (DELETE FROM messages WHERE id IN (SELECT id FROM doomed_messages) RETURNING 1),
    d_chats AS (DELETE FROM chats WHERE id IN (SELECT id FROM doomed_chats) RETURNING 1),
    d_projects AS (DELETE FROM projects WHERE user_id IN (SELECT id FROM doomed) RETURNING 1),
    d_users AS (DELETE FROM users WHERE id IN (SELECT id FROM doomed) RETURNING 1)
    SELECT (SELECT count(*) FROM doomed) AS selected,
           (SELECT count(*) FROM d_users) AS users,
           (SELECT count(*) FROM d_projects) AS projects,
           (SELECT count(*) FROM d_chats) AS chats,
           (SELECT count(*) FROM d_messages) AS messages,
           (SELECT count(*) FROM d_attachments) AS attachments,
           (SELECT count(*) FROM d_sources) AS message_sources`),
  );
  const row = result.rows[0] ?? {};
  return {
    selected: num(row.selected),
    counts: {
      users: num(row.users),
      projects: num(row.projects),
      chats: num(row.chats),
      messages: num(row.messages),
      attachments: num(row.attachments),
      message_sources: num(row.message_sources),
    },
  };
}

async function countStaleAccounts(ctx: JobContext, cutoff: Date) {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH stale AS (SELECT id FROM users WHERE deactivated_at < ${cutoff}),
    stale_chats AS (SELECT id FROM chats WHERE user_id IN (SELECT id FROM stale)),
    stale_messages AS (SELECT id FROM messages WHERE chat_id IN (SELECT id FROM stale_chats))
    SELECT (SELECT count(*) FROM stale) AS users,
           (SELECT count(*) FROM projects WHERE user_id IN (SELECT id FROM stale)) AS projects,
           (SELECT count(*) FROM stale_chats) AS chats,
           (SELECT count(*) FROM stale_messages) AS messages,
           (SELECT count(*) FROM attachments WHERE user_id IN (SELECT id FROM stale)) AS attachments,
           (SELECT count(*) FROM message_sources WHERE message_id IN (SELECT id FROM stale_messages)) AS message_sources`),
  );
  const row = result.rows[0] ?? {};
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, num(v)]));
}
