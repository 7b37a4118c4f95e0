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
import { holdsOn, unheld } from './account-holds';
import { drainStreamDeletions } from './stream-deletions';

/** Monthly, 00:00 UTC on the 1st. */
const CRON = '0 0 1 * *';

/** Users deactivated before this are due for deletion. */
const cutoff = ({ config, now }: AsOf) => before(now, config.accountRetentionDays, DAY_MS);

/** Users deactivated before this should already be gone (see src/run/deadline.ts). */
const overdue = (at: AsOf) => overdueBefore(CRON, cutoff, at) ?? new Date(0);

const user = APP.role('user');

/** `"deactivatedAt" < instant`, the instant in the column's own type (src/app-map/sql.ts): its index serves it. */
const deactivatedBefore = (at: Date, alias?: string) =>
  sql`${alias ? sql.raw(`${alias}.`) : sql``}${user.col('deactivatedAt')} < ${user.asColumnTime('deactivatedAt', at)}`;
/** Whether the user row `o` is past the cutoff as of `at` (a hold by another owner who goes too is none). */
const stale = (at: AsOf) => (o: string) => deactivatedBefore(cutoff(at), o);

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
    blocked: capped(sql`FROM ${user.table} u WHERE ${deactivatedBefore(cutoff(at), 'u')} AND NOT (${unheld('u', stale(at))})`),
    blockedBy: sql`(SELECT string_agg(DISTINCT k, '; ') FROM (
      SELECT unnest(string_to_array(${holdsOn('u', stale(at))}, '; ')) AS k FROM ${user.table} u
      WHERE ${deactivatedBefore(cutoff(at), 'u')} AND NOT (${unheld('u', stale(at))}) LIMIT 100) s)`,
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
            `${blocked} account(s) past ${config.accountRetentionDays} days are kept: deleting them would fail or take ` +
            `a live user's rows, by ${String(read.blockedBy)}. Delete or move those rows, or change the key's ON DELETE.`,
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
        WHERE ${deactivatedBefore(cutoff, 'u')} AND ${unheld('u', (o) => deactivatedBefore(cutoff, o))}
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
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH ${sql.join(
      [
        sql`doomed_user AS (
      SELECT u.${user.id} AS id FROM ${user.table} u
      WHERE ${deactivatedBefore(cutoff, 'u')} AND ${unheld('u', (o) => deactivatedBefore(cutoff, o))})`,
        ...CASCADED.map(
          ({ role, keys }) =>
            sql`${sql.raw(`doomed_${role}`)} AS (SELECT ${APP.role(role).id} AS id FROM ${APP.role(role).table}
      WHERE ${sql.join(
        keys.map((k) => sql`${sql.raw(`"${k.column.replaceAll('"', '""')}"`)} IN (SELECT id FROM ${sql.raw(`doomed_${k.from}`)})`),
        sql` OR `,
      )})`,
        ),
      ],
      sql`,
    `,
    )}
    SELECT ${sql.join(
      ['user' as Role, ...CASCADED.map((c) => c.role)].map(
        (r) => sql`(SELECT count(*) FROM ${sql.raw(`doomed_${r}`)}) AS ${sql.raw(COUNT_KEYS[r])}`,
      ),
      sql`, `,
    )}`),
  );
  const row = result.rows[0] ?? {};
  const counts: Record<string, number> = Object.fromEntries(ACCOUNT_ROLES.map((r) => [COUNT_KEYS[r], 0]));
  for (const [k, v] of Object.entries(row)) counts[k] = num(v);
  return counts;
}

/**
 * The dry run follows the same cascades the batch's DELETE sets off: per mapped role, in an order
 * where a parent comes first, the rows whose `ON DELETE CASCADE` key points at a doomed row of
 * its parent role (a chat in a doomed project, an upload in a doomed chat, …). So its counts are
 * the run's, not a guess from owner columns.
 */
const CASCADED: Array<{ role: Role; keys: Array<{ column: string; from: Role }> }> = (() => {
  const byTable = new Map<string, Role>([[user.name, 'user']]);
  const out: Array<{ role: Role; keys: Array<{ column: string; from: Role }> }> = [];
  for (const role of ['project', 'chat', 'message', 'attachment', 'messageSource'] as const) {
    if (!APP.has(role)) continue;
    const table = APP.role(role).name;
    const keys = [...APP.map.relations, ...APP.map.userReferences]
      .filter((r) => r.table === table && r.onDelete === 'CASCADE' && r.columns.length === 1 && byTable.has(r.references))
      .map((r) => ({ column: r.columns[0]!, from: byTable.get(r.references)! }));
    const unique = [...new Map(keys.map((k) => [`${k.column}/${k.from}`, k])).values()];
    if (unique.length > 0) out.push({ role, keys: unique });
    byTable.set(table, role);
  }
  return out;
})();
