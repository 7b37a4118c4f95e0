/**
 * delete-stale-deactivated-accounts: users whose deactivated_at is more than
 * ACCOUNT_RETENTION_DAYS old, with everything they own. Blob keys of their attachments reach
 * blob_deletions through the outbox trigger in the same transaction; their chats' stream state in
 * Redis is removed at the end of the run (from spacerr_jobs.stream_deletions, filled by the chats trigger).
 */
import { type SQL, sql } from 'drizzle-orm';
import { APP, COUNT_KEYS } from '../app-map/app';
import type { Role } from '../app-map/types';
import { capped } from '../db/backlog';
import { num } from '../db/rows';
import { addCounts, batchedDeletes, batchSize, type DeleteBatch } from '../run/batched-run';
import { overdueBefore } from '../run/deadline';
import { type AsOf, defineJob, type JobContext } from '../run/job';
import { before, DAY_MS } from '../time';
import { EVENT_ID, iso } from './account-events';
import { drainStreamDeletions } from './stream-deletions';

/** Monthly, 00:00 UTC on the 1st. */
const CRON = '0 0 1 * *';

/** Users deactivated before this are due for deletion. */
const cutoff = ({ config, now }: AsOf) => before(now, config.accountRetentionDays, DAY_MS);

/** Users deactivated before this should already be gone (see src/run/deadline.ts). */
const overdue = (at: AsOf) => overdueBefore(CRON, cutoff, at) ?? new Date(0);

const user = APP.role('user');

/**
 * Foreign keys to the user that forbid its deletion (RESTRICT or NO ACTION, Prisma's default for
 * a required relation without onDelete): a user one of them still points at cannot be deleted,
 * and putting it in a batch would fail the whole batch. Such users are left out of every batch and
 * raise the `accounts_blocked` alarm naming the constraint, while the others are deleted.
 */
const BLOCKING = APP.map.userReferences.filter((r) => (r.onDelete === 'RESTRICT' || r.onDelete === 'NO ACTION') && r.columns.length === 1);
const quoted = (name: string) => sql.raw(`"${name.replaceAll('"', '""')}"`);
/** No blocking row points at the user `u` (an alias of the user table). */
const unblocked = (u: string): SQL =>
  sql.join(
    [
      sql`true`,
      ...BLOCKING.map(
        (r) =>
          sql`NOT EXISTS (SELECT 1 FROM ${quoted(APP.schema)}.${quoted(r.table)} b WHERE b.${quoted(r.columns[0]!)} = ${sql.raw(u)}.${user.id})`,
      ),
    ],
    sql` AND `,
  );
/** Per blocking key, whether it holds the user `u`: the alarm names the constraints. */
const blockedBy = (u: string): SQL =>
  BLOCKING.length === 0
    ? sql`NULL::text`
    : sql`concat_ws(', ', ${sql.join(
        BLOCKING.map(
          (r) =>
            sql`CASE WHEN EXISTS (SELECT 1 FROM ${quoted(APP.schema)}.${quoted(r.table)} b WHERE b.${quoted(r.columns[0]!)} = ${sql.raw(u)}.${user.id})
                THEN ${`${r.constraint} (${r.table}, ON DELETE ${r.onDelete})`} END`,
        ),
        sql`, `,
      )})`;
/** `"deactivatedAt" < instant`, the instant in the column's own type (src/app-map/sql.ts): its index serves it. */
const deactivatedBefore = (at: Date, alias?: string) =>
  sql`${alias ? sql.raw(`${alias}.`) : sql``}${user.col('deactivatedAt')} < ${user.asColumnTime('deactivatedAt', at)}`;

export const deleteStaleDeactivatedAccounts = defineJob({
  name: 'delete-stale-deactivated-accounts',
  description: 'Deletes users deactivated more than ACCOUNT_RETENTION_DAYS ago, with everything they own.',
  cron: CRON,
  cutoff,
  // Index: the user table's index on its deactivation time (the app's, or the Worker's) for all three.
  figures: (at) => ({
    eligible: capped(sql`FROM ${user.table} WHERE ${deactivatedBefore(cutoff(at))}`),
    overdue: capped(sql`FROM ${user.table} WHERE ${deactivatedBefore(overdue(at))}`),
    oldestOverdue: sql`(SELECT min(${user.instant('deactivatedAt')}) FROM ${user.table} WHERE ${deactivatedBefore(overdue(at))})`,
    blocked: capped(sql`FROM ${user.table} u WHERE ${deactivatedBefore(cutoff(at), 'u')} AND NOT (${unblocked('u')})`),
    blockedBy: sql`(SELECT string_agg(DISTINCT k, ', ') FROM (
      SELECT unnest(string_to_array(${blockedBy('u')}, ', ')) AS k FROM ${user.table} u
      WHERE ${deactivatedBefore(cutoff(at), 'u')} AND NOT (${unblocked('u')}) LIMIT 100) s)`,
  }),
  backlog: ['eligible', 'overdue', 'blocked'],
  alarm: {
    code: 'accounts_overdue',
    figures: ['overdue', 'oldestOverdue', 'blocked', 'blockedBy'],
    raise(read, config) {
      const blocked = num(read.blocked);
      if (blocked > 0) {
        return {
          code: 'accounts_blocked',
          count: blocked,
          message:
            `${blocked} account(s) past ${config.accountRetentionDays} days cannot be deleted: rows under ` +
            `${String(read.blockedBy)} still point at them and forbid it. Delete those rows or make the key ON DELETE CASCADE.`,
        };
      }
      const count = num(read.overdue);
      if (count === 0) return undefined;
      const oldest = read.oldestOverdue == null ? null : new Date(read.oldestOverdue as string).toISOString();
      return {
        count,
        message:
          `${count} account(s) deactivated more than ${config.accountRetentionDays} days before a scheduled ` +
          `run still exist, ${config.deadlineGraceHours} h after it (oldest deactivated ${oldest})`,
      };
    },
  },
  async run(ctx) {
    // A batch costs 1; keep 3 in hand so one drain of the stream queue below still fits.
    const outcome = await batchedDeletes(ctx, {
      cutoff: cutoff(ctx),
      // One account's cascade can be any size, and nothing is known of it before the first batch:
      // sized by time, that batch is a quarter of DELETE_BATCH_SIZE (500 whole accounts took up to
      // 1.4 s at 1M chats), and no batch grows past DELETE_BATCH_SIZE, so one grown on small
      // accounts cannot hold its locks for seconds when it meets large ones. Fixed sizes
      // (BATCH_TARGET_MS=0): every batch is DELETE_BATCH_SIZE.
      size: batchSize(ctx, {
        start: ctx.config.batchTargetMs > 0 ? Math.ceil(ctx.config.deleteBatchSize / 4) : ctx.config.deleteBatchSize,
        max: ctx.config.deleteBatchSize,
      }),
      cost: 4,
      count: countStaleAccounts,
      deleteBatch,
    });
    // Redis state of the chats just deleted; whatever the budget leaves for later,
    // the stream-cleanup job picks up from the same queue. No chats deleted: nothing of ours queued.
    if ((outcome.counts.chats ?? 0) > 0 && !ctx.dryRun) addCounts(outcome.counts, (await drainStreamDeletions(ctx)).counts);
    return outcome;
  },
});

/** The roles an account's rows live in, as counted per batch: those the app has. */
const ACCOUNT_ROLES = (['user', 'project', 'chat', 'message', 'attachment', 'messageSource'] as const).filter((r) => APP.has(r));
/** Physical table name → count key. */
const COUNTED = new Map<string, string>(ACCOUNT_ROLES.map((r: Role) => [APP.role(r).name, COUNT_KEYS[r]]));

/**
 * One batch of users, deleted with everything they own in one transaction: the users are deleted
 * and the foreign keys' cascades take their projects, chats, messages, attachments and sources,
 * each found through its foreign key's index — the same work as one unbatched DELETE, per row.
 * (Deleting the children first, set-based, made the planner hash-join whole tables.) The counts
 * per table come from pg_stat_xact_user_tables, which counts every row this transaction deleted,
 * cascades included, read around the delete in the same batch (one request, one transaction).
 *
 * Race safety with reactivation (UPDATE users SET deactivated_at = NULL):
 * - `FOR UPDATE SKIP LOCKED` skips a user whose reactivation is in flight (it holds the row).
 * - A reactivation committed after our snapshot left a newer row version; READ COMMITTED
 *   re-evaluates `deactivated_at < cutoff` on it (EvalPlanQual) and the user drops out.
 * - Once we hold the row, a reactivation waits for us and then updates no row: the user was
 *   already gone when it arrived.
 * Index: users_deactivated_at_idx (partial); `= ANY(ARRAY(…))` keeps the delete on users_pkey.
 */
async function deleteBatch(ctx: JobContext, cutoff: Date, limit: number): Promise<DeleteBatch> {
  const deletedRows = sql`
    SELECT relname, n_tup_del FROM pg_stat_xact_user_tables
    WHERE schemaname = ${APP.schema} AND relname IN ${[...COUNTED.keys()]}`;
  const [before, deleted, after] = await ctx.budget.request(() =>
    ctx.db.batch([
      // The counters may also hold earlier transactions of this connection not yet flushed to the
      // statistics collector; the difference across our delete is exactly ours.
      ctx.db.execute(deletedRows),
      ctx.db.execute(sql`
      WITH doomed AS (
        SELECT u.${user.id} AS id FROM ${user.table} u
        WHERE ${deactivatedBefore(cutoff, 'u')} AND ${unblocked('u')}
        ORDER BY u.${user.col('deactivatedAt')}
        LIMIT ${limit}
        FOR UPDATE OF u SKIP LOCKED
      ),
      deleted AS (
        DELETE FROM ${user.table} WHERE ${user.id} = ANY(ARRAY(SELECT id FROM doomed))
        RETURNING ${user.id} AS id, ${user.instant('deactivatedAt')} AS deactivated_at
      )${erasedEvents(ctx)}
      SELECT (SELECT count(*) FROM doomed) AS selected, (SELECT count(*) FROM deleted) AS users`),
      ctx.db.execute(deletedRows),
    ]),
  );
  const counts: Record<string, number> = Object.fromEntries([...COUNTED.values()].map((k) => [k, 0]));
  const key = (row: Record<string, unknown>) => COUNTED.get(String(row.relname)) ?? String(row.relname);
  for (const row of after.rows) counts[key(row)] = num(row.n_tup_del);
  for (const row of before.rows) counts[key(row)] = (counts[key(row)] ?? 0) - num(row.n_tup_del);
  return { selected: num(deleted.rows[0]?.selected), counts };
}

/**
 * With account events on, the batch's statement also records one `account.erased` per user it
 * deleted: the DELETE's RETURNING rows are exactly the users gone (a reactivated user dropped out
 * of it, see above), and a statement is atomic, so there is no erased account without its event
 * and no event without the erasure. Off: nothing is added to the statement.
 */
function erasedEvents(ctx: JobContext): SQL {
  if (!ctx.config.accountEvents) return sql``;
  return sql`,
      erased AS (
        INSERT INTO spacerr_jobs.account_events (id, type, user_id, deactivated_at, data, run_id)
        SELECT ${EVENT_ID}, 'account.erased', id, deactivated_at,
               jsonb_build_object('userId', id, 'deactivatedAt', ${iso(sql`deactivated_at`)},
                                  'erasedAt', ${iso(sql`now()`)}, 'runId', ${ctx.runId}::text),
               ${ctx.runId}
        FROM deleted
        ON CONFLICT DO NOTHING
        RETURNING 1
      )`;
}

/** The dry run: what the batches would delete, counted per role the app has. */
async function countStaleAccounts(ctx: JobContext, cutoff: Date) {
  const parts: SQL[] = [sql`(SELECT count(*) FROM stale) AS users`];
  if (APP.has('project')) {
    const p = APP.role('project');
    parts.push(sql`(SELECT count(*) FROM ${p.table} WHERE ${p.col('userId')} IN (SELECT id FROM stale)) AS projects`);
  }
  parts.push(sql`(SELECT count(*) FROM stale_chats) AS chats`, sql`(SELECT count(*) FROM stale_messages) AS messages`);
  if (APP.has('attachment')) {
    const a = APP.role('attachment');
    parts.push(sql`(SELECT count(*) FROM ${a.table} WHERE ${a.col('userId')} IN (SELECT id FROM stale)) AS attachments`);
  }
  if (APP.has('messageSource')) {
    const m = APP.role('messageSource');
    parts.push(sql`(SELECT count(*) FROM ${m.table} WHERE ${m.col('messageId')} IN (SELECT id FROM stale_messages)) AS message_sources`);
  }
  const chat = APP.role('chat');
  const message = APP.role('message');
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH stale AS (SELECT u.${user.id} AS id FROM ${user.table} u WHERE ${deactivatedBefore(cutoff, 'u')} AND ${unblocked('u')}),
    stale_chats AS (SELECT ${chat.id} AS id FROM ${chat.table} WHERE ${chat.col('userId')} IN (SELECT id FROM stale)),
    stale_messages AS (SELECT ${message.id} AS id FROM ${message.table} WHERE ${message.col('chatId')} IN (SELECT id FROM stale_chats))
    SELECT ${sql.join(parts, sql`, `)}`),
  );
  const row = result.rows[0] ?? {};
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, num(v)]));
}
