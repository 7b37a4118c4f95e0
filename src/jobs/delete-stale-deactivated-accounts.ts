/**
 * delete-stale-deactivated-accounts: users whose deactivated_at is more than
 * ACCOUNT_RETENTION_DAYS old, with everything they own. Blob keys of their attachments reach
 * blob_deletions through the outbox trigger in the same transaction, and each user's prefixes (the
 * map's `blobPrefixes`) a sweep in blob_sweeps through the user table's trigger
 * (src/app-map/triggers.ts `queue_blob_sweeps`, which the app's own DELETE fires too); their chats' stream state in
 * Redis is removed at the end of the run (from spacerr_jobs.stream_deletions, filled by the chats trigger).
 */
import { type SQL, sql } from 'drizzle-orm';
import { APP, COUNT_KEYS } from '../app-map/app';
import { ident } from '../app-map/sql';
import type { Role } from '../app-map/types';
import { capped } from '../db/backlog';
import { num } from '../db/rows';
import { addCounts, batchSize, inBatches, timedBatch } from '../run/batched-run';
import { statementTimedOut } from '../run/retry';
import { classifyFailure } from '../run/transient';
import { overdueBefore } from '../run/deadline';
import { type AsOf, defineJob, type JobContext, type JobOutcome } from '../run/job';
import { before, DAY_MS } from '../time';
import { EVENT_ID, iso } from '../events/account-events';
import { holdsOn, unheld } from '../holds/account-holds';
import { forgetHolds } from '../db/holds';
import { freeOfHolds } from '../holds/legal-holds';
import { customersOf, STRIPE_MAPPED } from '../stripe/customers';
import { drainStreamDeletions } from '../streams/stream-deletions';
import { ACCOUNT_DELETIONS } from '../schedules';
import type { ConfigOf, Setting } from '../config/settings';
import { integer } from '../config/values';

/** Users deactivated before this are due for deletion. */
const cutoff = ({ config, now }: AsOf) => before(now, config.accountRetentionDays, DAY_MS);

/** Users deactivated before this should already be gone (see src/run/deadline.ts). */
const overdue = (at: AsOf) => overdueBefore(ACCOUNT_DELETIONS.cron, cutoff, at) ?? new Date(0);

const user = APP.role('user');

/** `"deactivatedAt" < instant`, the instant in the column's own type (src/app-map/sql.ts): its index serves it. */
const deactivatedBefore = (at: Date, alias?: string) =>
  sql`${alias ? sql.raw(`${alias}.`) : sql``}${user.col('deactivatedAt')} < ${user.asColumnTime('deactivatedAt', at)}`;
/**
 * What a batch is scoped by: users deactivated before `cutoff` go, unless a legal hold keeps them
 * at `now` (src/holds/legal-holds.ts), with or without waiting for a notice after one ended.
 */
interface Scope {
  cutoff: Date;
  now: Date;
  config: AsOf['config'];
}
const scopeOf = (at: AsOf): Scope => ({ cutoff: cutoff(at), now: at.now, config: at.config });
/** The user row `o` goes with this scope's batches: past the cutoff, and no legal hold keeps it. */
const goes = (at: Scope) => (o: string) => sql`${deactivatedBefore(at.cutoff, o)} AND ${freeOfHolds(o, at.now, at.config)}`;
/** Whether the user row `o` goes as of `at` (a key hold by another owner who goes too is none). */
const stale = (at: AsOf) => goes(scopeOf(at));
/** The users past `before` whose legal hold (active, or ended and awaiting its notice's run) keeps them, as a FROM clause. */
const heldPastCutoff = (before: Date, at: AsOf) =>
  sql`spacerr_jobs.legal_holds h JOIN ${user.table} u ON ${idText('u')} = h.user_id
      WHERE ${deactivatedBefore(before, 'u')} AND NOT (${freeOfHolds('u', at.now, at.config)})`;
/** Deactivated before `before` and free of legal holds as of `at`: what the listing and the deadline count. */
const dueBy = (before: Date, at: AsOf, u = 'u') => sql`${deactivatedBefore(before, u)} AND ${freeOfHolds(u, at.now, at.config)}`;

/** The roles an account's rows live in, as counted per batch: those the app has. */
const ACCOUNT_ROLES = (['user', 'project', 'chat', 'message', 'attachment', 'messageSource'] as const).filter((r) => APP.has(r));

/** Its own settings; DELETE_BATCH_SIZE also sizes the first batch of the orphaned message sources' sweep. */
const SETTINGS = [
  {
    name: 'ACCOUNT_RETENTION_DAYS',
    kind: 'var',
    topic: 'deletion',
    default: 30,
    meaning: 'days after `deactivated_at` before an account is deleted (1–3650)',
    key: 'accountRetentionDays',
    parse: integer(1, 3650),
  },
  {
    name: 'DELETE_BATCH_SIZE',
    kind: 'var',
    topic: 'batches',
    default: 500,
    meaning:
      'most users in a batch of the account job (its first batch: a quarter, unless `BATCH_TARGET_MS` is 0); rows in the first batch of the sweep of orphaned message sources (1–10000)',
    key: 'deleteBatchSize',
    parse: integer(1, 10_000),
  },
  {
    name: 'STATEMENT_TIMEOUT_MS',
    kind: 'var',
    topic: 'statements',
    default: 9000,
    meaning:
      "server-side bound on each statement of the account job's batches (`statement_timeout`, set inside the batch's transaction), under the client's 10 s abort: a batch that reaches it is cancelled and rolled back, its accounts are retried in halves, and one that cannot be deleted alone is set aside (100–9000)",
    key: 'statementTimeoutMs',
    parse: integer(100, 9000),
  },
] as const satisfies readonly Setting[];

declare module '../config/settings' {
  interface Config extends ConfigOf<typeof SETTINGS> {}
}

export const deleteStaleDeactivatedAccounts = defineJob({
  name: 'delete-stale-deactivated-accounts',
  description: 'Deletes users deactivated more than ACCOUNT_RETENTION_DAYS ago, with everything they own.',
  // Monthly: the deletion notices of account events announce its runs.
  schedule: ACCOUNT_DELETIONS,
  settings: SETTINGS,
  // The app's rows per role, and the stream state removed after them (not the queue rows).
  deletes: [...ACCOUNT_ROLES.map((r) => COUNT_KEYS[r]), 'redis_streams'],
  cutoff,
  // Index: the user table's index on its deactivation time (the app's, or the Worker's) for all three.
  figures: (at) => ({
    eligible: capped(sql`FROM ${user.table} u WHERE ${dueBy(cutoff(at), at)}`),
    // Past retention and kept by a legal hold (or, with notices, by an ended hold's notice not yet
    // out long enough): kept on purpose, shown, never overdue.
    // Index: from the (few) legal holds, the user table's primary key.
    held: capped(sql`FROM ${heldPastCutoff(cutoff(at), at)}`),
    overdue: capped(sql`FROM ${user.table} u WHERE ${dueBy(overdue(at), at)}`),
    oldestOverdue: sql`(SELECT min(${user.instant('deactivatedAt', 'u')}) FROM ${user.table} u WHERE ${dueBy(overdue(at), at)})`,
    blocked: capped(sql`FROM ${user.table} u WHERE ${dueBy(cutoff(at), at)} AND NOT (${unheld('u', stale(at))})`),
    blockedBy: sql`(SELECT string_agg(DISTINCT k, '; ') FROM (
      SELECT unnest(string_to_array(${holdsOn('u', stale(at))}, '; ')) AS k FROM ${user.table} u
      WHERE ${dueBy(cutoff(at), at)} AND NOT (${unheld('u', stale(at))}) LIMIT 100) s)`,
    // Index: slow_accounts' primary key, from the (few) set-aside rows.
    setAside: capped(sql`FROM ${SLOW} s JOIN ${user.table} u ON ${idText('u')} = s.user_id
      WHERE s.set_aside_at IS NOT NULL AND ${dueBy(cutoff(at), at)}`),
    setAsideIds: sql`(SELECT string_agg(id, ', ' ORDER BY id) FROM (
      SELECT s.user_id AS id FROM ${SLOW} s JOIN ${user.table} u ON ${idText('u')} = s.user_id
      WHERE s.set_aside_at IS NOT NULL AND ${dueBy(cutoff(at), at)} ORDER BY s.user_id LIMIT ${SET_ASIDE_NAMED}) s)`,
  }),
  backlog: ['eligible', 'held', 'overdue', 'blocked', 'setAside'],
  alarm: {
    code: 'accounts_overdue',
    figures: ['overdue', 'oldestOverdue', 'blocked', 'blockedBy', 'setAside', 'setAsideIds'],
    raise(read, config) {
      const blocked = num(read.blocked);
      const setAside = num(read.setAside);
      if (setAside > 0) {
        const more = setAside > SET_ASIDE_NAMED ? ` and ${setAside - SET_ASIDE_NAMED} more` : '';
        return {
          code: 'accounts_set_aside',
          count: setAside,
          message:
            `${setAside} account(s) past ${config.accountRetentionDays} days could not be deleted within ` +
            `STATEMENT_TIMEOUT_MS (${config.statementTimeoutMs} ms) even alone and are set aside: ${String(read.setAsideIds)}${more}. ` +
            `Delete each in steps: npm run job -- delete-stale-deactivated-accounts --account <id>.` +
            (blocked > 0 ? ` Also ${blocked} account(s) blocked by ${String(read.blockedBy)}.` : ''),
        };
      }
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
  target: {
    param: 'account',
    meaning: 'deletes that one account in steps (its chats in bounded batches, then the user): for an account set aside',
  },
  async run(ctx) {
    const at = scopeOf(ctx);
    const outcome = ctx.target !== undefined ? await deleteInSteps(ctx, at, ctx.target) : await deleteAccounts(ctx, at);
    // Redis state of the chats just deleted; whatever the budget leaves for later,
    // the stream sweep picks up from the same queue. No chats deleted: nothing of ours queued.
    if ((outcome.counts.chats ?? 0) > 0 && !ctx.dryRun) addCounts(outcome.counts, (await drainStreamDeletions(ctx)).counts);
    return outcome;
  },
});

/** A batch costs 1; keep 3 in hand so one drain of the stream queue after the batches still fits. */
const BATCH_COST = 4;

/**
 * The batches of a run. First the accounts no batch has timed out on, in order of deactivation;
 * then those a batch timed out on, in halves (see `Pick`). A batch that runs into
 * STATEMENT_TIMEOUT_MS is cancelled by Postgres and rolled back; it is never sent again as it was:
 * its accounts are marked in `slow_accounts` (one request), so the next batch leaves them out and
 * the rest proceed, and they are retried in halves down to one account, within this run while the
 * budget lasts and in the next runs after it (the marks are in the database). One that times out
 * alone is set aside, and the alarm names it.
 */
async function deleteAccounts(ctx: JobContext, at: Scope): Promise<JobOutcome> {
  if (ctx.dryRun) return { counts: await countStaleAccounts(ctx, at), more: false };
  // One account's cascade can be any size, and nothing is known of it before the first batch:
  // sized by time, that batch is a quarter of DELETE_BATCH_SIZE (500 whole accounts took up to
  // 1.4 s at 1M chats), and no batch grows past DELETE_BATCH_SIZE, so one grown on small
  // accounts cannot hold its locks for seconds when it meets large ones. Fixed sizes
  // (BATCH_TARGET_MS=0): every batch is DELETE_BATCH_SIZE.
  const size = batchSize(ctx, {
    start: ctx.config.batchTargetMs > 0 ? Math.ceil(ctx.config.deleteBatchSize / 4) : ctx.config.deleteBatchSize,
    max: ctx.config.deleteBatchSize,
  });
  const counts: Record<string, number> = {};
  let pick: Pick = 'fresh';
  const more = await inBatches(ctx.budget, BATCH_COST, async () => {
    let batch: AccountBatch & { full?: boolean };
    try {
      batch =
        pick === 'fresh'
          ? await timedBatch(ctx, size, async (limit) => {
              const b = await deleteBatch(ctx, at, { pick, limit });
              return { ...b, full: b.selected >= limit };
            })
          : await deleteBatch(ctx, at, { pick });
    } catch (err) {
      if (!statementTimedOut(err)) throw err;
      // Marking costs one request; without it, the next run sends this batch again and marks it then.
      if (ctx.budget.canAfford(BATCH_COST)) await markTimedOut(ctx, at, pick, pick === 'fresh' ? size.value : undefined, err);
      return true;
    }
    addCounts(counts, batch.counts);
    if (pick === 'fresh') {
      if (batch.full) return true;
      pick = 'halves';
      return batch.halvesLeft;
    }
    // Nothing selected although some wait: they are locked (a reactivation in flight). Next run.
    return batch.selected > 0 && batch.halvesLeft;
  });
  return { counts, more };
}

/**
 * Which accounts a batch takes. `fresh`: those no batch timed out on, oldest deactivation first, up
 * to the batch size. `halves`: of the accounts a batch timed out on and not set aside, those whose
 * smallest timed-out batch is the smallest (`level`), half of that many (rounded up), oldest
 * first: a batch of n that times out is retried as ⌈n/2⌉, then the rest, each half again after a
 * timeout, down to one account; one that times out alone is set aside.
 */
type Pick = 'fresh' | 'halves';

const SLOW = sql`spacerr_jobs.slow_accounts`;
/** The user id as text, as slow_accounts keeps it (whatever its type in the app). */
const idText = (u: string): SQL => sql`${sql.raw(u)}.${user.id}::text`;
/** How many set-aside accounts the alarm names. */
const SET_ASIDE_NAMED = 20;
/**
 * Due for deletion in the scope `at`: deactivated before its cutoff, no legal hold keeps it at its
 * `now` (src/holds/legal-holds.ts), and no key of the app's blocks it (src/holds/account-holds.ts),
 * where another owner "goes too" only when no legal hold keeps that owner either. Read in the
 * statement that selects and locks the batch, so a hold committed before a batch starts keeps its
 * account out of that batch.
 */
const due = (at: Scope, u: string): SQL => sql`${goes(at)(u)} AND ${unheld(u, goes(at))}`;
/** The smallest batch size a due, not set-aside, timed-out account timed out in (NULL: none). */
const level = (at: Scope): SQL =>
  sql`(SELECT min(s.batch_size) FROM ${SLOW} s JOIN ${user.table} lu ON ${idText('lu')} = s.user_id
       WHERE s.set_aside_at IS NULL AND ${due(at, 'lu')})`;

/** The ids a batch takes (locked, or as they stand for marking them after a timeout). */
function candidates(at: Scope, pick: Pick, limit: number | undefined, lock: boolean): SQL {
  const locking = lock ? sql`FOR UPDATE OF u SKIP LOCKED` : sql``;
  if (pick === 'fresh') {
    return sql`SELECT u.${user.id} AS id FROM ${user.table} u
      WHERE ${due(at, 'u')} AND NOT EXISTS (SELECT 1 FROM ${SLOW} s WHERE s.user_id = ${idText('u')})
      ORDER BY u.${user.col('deactivatedAt')}
      LIMIT ${limit ?? 1}
      ${locking}`;
  }
  return sql`SELECT u.${user.id} AS id FROM ${user.table} u JOIN ${SLOW} s ON s.user_id = ${idText('u')}
      WHERE ${due(at, 'u')} AND s.set_aside_at IS NULL AND s.batch_size = ${level(at)}
      ORDER BY u.${user.col('deactivatedAt')}, u.${user.id}
      LIMIT (${level(at)} + 1) / 2
      ${locking}`;
}

/** Bounds every statement after it in the batch's transaction (SET LOCAL: the batch is one transaction). */
const statementTimeout = (ctx: JobContext) =>
  ctx.db.execute(sql`SELECT set_config('statement_timeout', ${String(ctx.config.statementTimeoutMs)}, true)`);

/**
 * After a batch timed out: marks the accounts it held (the same selection, read as it stands; the
 * batch was rolled back) with the number of them, the batch's size. One that Postgres's timeout
 * cancelled alone is set aside.
 */
async function markTimedOut(ctx: JobContext, at: Scope, pick: Pick, limit: number | undefined, err: unknown): Promise<void> {
  // Only Postgres's own timeout sets an account aside: the client's abort can also be a hung link,
  // which says nothing of the account, so one alone is marked and tried again.
  const byServer = classifyFailure(err).kind === 'SQLSTATE 57014';
  const how = byServer
    ? `cancelled by Postgres after STATEMENT_TIMEOUT_MS (${ctx.config.statementTimeoutMs} ms)`
    : 'abandoned by the Worker after its 10 s request timeout';
  await ctx.budget.request(() =>
    ctx.db.execute(sql`
      INSERT INTO ${SLOW} (user_id, batch_size, timed_out_at, set_aside_at, run_id, last_error)
      SELECT c.id::text, c.n, now(), CASE WHEN c.n = 1 AND ${byServer}::boolean THEN now() END, ${ctx.runId}, ${how}
      FROM (SELECT id, count(*) OVER () AS n FROM (${candidates(at, pick, limit, false)}) t) c
      ON CONFLICT (user_id) DO UPDATE SET batch_size = EXCLUDED.batch_size, timed_out_at = EXCLUDED.timed_out_at,
        set_aside_at = EXCLUDED.set_aside_at, run_id = EXCLUDED.run_id, last_error = EXCLUDED.last_error`),
  );
}

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
 *
 * The batch's first statement bounds every later one to STATEMENT_TIMEOUT_MS on the server, a
 * little under the client's 10 s abort: an attempt the Worker gave up on is cancelled by Postgres
 * and rolled back, never committed behind its back. The statement also drops the deleted users'
 * slow_accounts rows and says whether timed-out accounts still wait (`halvesLeft`).
 */
interface AccountBatch {
  selected: number;
  counts: Record<string, number>;
  /** Accounts a batch timed out on, due and not set aside, remain after this batch. */
  halvesLeft: boolean;
}

/**
 * The CTEs that erase the users `doomed` selects, shared by the batches and the steps: `deleted`
 * (the user rows, their cascade with them), their slow-account and ended legal-hold rows, and
 * their `account.erased` events. One statement, so an erasure is all of these or none.
 */
function eraseDoomed(ctx: JobContext): SQL {
  return sql`deleted AS (
        DELETE FROM ${user.table} WHERE ${user.id} = ANY(ARRAY(SELECT id FROM doomed))
        RETURNING ${user.id} AS id, ${user.instant('deactivatedAt')} AS deactivated_at
      ),
      forgotten AS (DELETE FROM ${SLOW} WHERE user_id IN (SELECT id::text FROM deleted) RETURNING 1),
      ended_holds AS (${forgetHolds(sql`SELECT id::text FROM deleted`)})${erasedEvents(ctx)}`;
}

async function deleteBatch(ctx: JobContext, at: Scope, batch: { pick: Pick; limit?: number }): Promise<AccountBatch> {
  const {
    rows: [row],
    counts,
  } = await countedDelete(
    ctx,
    sql`
      WITH doomed AS (${candidates(at, batch.pick, batch.limit, true)}),
      ${eraseDoomed(ctx)}
      SELECT (SELECT count(*) FROM doomed) AS selected, (SELECT count(*) FROM deleted) AS users,
        EXISTS (SELECT 1 FROM ${SLOW} s JOIN ${user.table} lu ON ${idText('lu')} = s.user_id
                WHERE s.set_aside_at IS NULL AND ${due(at, 'lu')} AND s.user_id NOT IN (SELECT id::text FROM deleted)) AS halves_left`,
  );
  return { selected: num(row?.selected), counts, halvesLeft: row?.halves_left === true || row?.halves_left === 't' };
}

/**
 * Sends `statement` in one batch (one request, one transaction) bounded by STATEMENT_TIMEOUT_MS,
 * and counts per table every row its transaction deleted, cascades included, from
 * pg_stat_xact_user_tables read around it. A timeout is not retried as it was: the caller decides.
 */
async function countedDelete(
  ctx: JobContext,
  statement: SQL,
): Promise<{ rows: Record<string, unknown>[]; counts: Record<string, number> }> {
  const deletedRows = sql`
    SELECT relname, n_tup_del FROM pg_stat_xact_user_tables
    WHERE schemaname = ${APP.schema} AND relname IN ${[...COUNTED.keys()]}`;
  const [, before, result, after] = await ctx.budget.request(
    () =>
      ctx.db.batch([
        statementTimeout(ctx),
        // The counters may also hold earlier transactions of this connection not yet flushed to the
        // statistics collector; the difference across our delete is exactly ours.
        ctx.db.execute(deletedRows),
        ctx.db.execute(statement),
        ctx.db.execute(deletedRows),
      ]),
    { mayRetry: (err) => !statementTimedOut(err) },
  );
  const counts: Record<string, number> = Object.fromEntries([...COUNTED.values()].map((k) => [k, 0]));
  const key = (row: Record<string, unknown>) => COUNTED.get(String(row.relname)) ?? String(row.relname);
  for (const row of after.rows) counts[key(row)] = num(row.n_tup_del);
  for (const row of before.rows) counts[key(row)] = (counts[key(row)] ?? 0) - num(row.n_tup_del);
  return { rows: result.rows, counts };
}

/** Chats in the first step of an account deleted in steps; halved after each step that times out. */
export const STEP_CHATS = 64;

/**
 * One account deleted in steps, for an operator (`--account <id>`): an account set aside because
 * even alone its deletion outlasts STATEMENT_TIMEOUT_MS. Each step is one batch: it locks the user
 * (and re-checks it is due, so a reactivation in flight or done stops the steps: its data is kept)
 * and deletes up to `chat_step` of its chats with their cascade; once it has none, the same step
 * deletes the user with the rest (and records its erasure event). A step that times out halves
 * `chat_step`, kept in the account's slow_accounts row so the next run starts there; a single chat
 * that cannot be deleted in time fails the run, naming it.
 */
async function deleteInSteps(ctx: JobContext, at: Scope, id: string): Promise<JobOutcome> {
  if (ctx.dryRun) throw new Error('an account deleted in steps has no dry run');
  const chat = APP.role('chat');
  const counts: Record<string, number> = {};
  let done = false;
  const more = await inBatches(ctx.budget, BATCH_COST, async () => {
    const step = sql`(SELECT chat_step FROM ${SLOW} WHERE user_id = ${id})`;
    let row: Record<string, unknown> | undefined;
    try {
      const result = await countedDelete(
        ctx,
        sql`
        WITH target AS (
          SELECT u.${user.id} AS id FROM ${user.table} u WHERE u.${user.id} = ${id} AND ${due(at, 'u')}
          FOR UPDATE OF u SKIP LOCKED
        ),
        doomed_chats AS (
          SELECT c.${chat.id} AS id FROM ${chat.table} c WHERE c.${chat.col('userId')} IN (SELECT id FROM target)
          ORDER BY c.${chat.id} LIMIT coalesce(${step}, ${STEP_CHATS})
          FOR UPDATE OF c
        ),
        deleted_chats AS (DELETE FROM ${chat.table} WHERE ${chat.id} = ANY(ARRAY(SELECT id FROM doomed_chats)) RETURNING 1),
        doomed AS (SELECT id FROM target WHERE NOT EXISTS (SELECT 1 FROM doomed_chats)),
        ${eraseDoomed(ctx)}
        SELECT (SELECT count(*) FROM target) AS target, (SELECT count(*) FROM doomed_chats) AS chats,
               (SELECT count(*) FROM deleted) AS users, (SELECT min(id::text) FROM doomed_chats) AS first_chat`,
      );
      addCounts(counts, result.counts);
      row = result.rows[0];
    } catch (err) {
      if (!statementTimedOut(err)) throw err;
      const [halved] = (
        await ctx.budget.request(() =>
          ctx.db.execute(sql`
          INSERT INTO ${SLOW} (user_id, batch_size, set_aside_at, run_id, last_error, chat_step)
          VALUES (${id}, 1, now(), ${ctx.runId}, 'deleted in steps: a step timed out', ${STEP_CHATS / 2})
          ON CONFLICT (user_id) DO UPDATE SET chat_step = coalesce(${SLOW}.chat_step, ${STEP_CHATS}) / 2,
            timed_out_at = now(), run_id = EXCLUDED.run_id
          RETURNING chat_step`),
        )
      ).rows;
      if (num(halved?.chat_step) === 0) {
        throw new Error(
          `account ${id}: one chat (its first by id) cannot be deleted within STATEMENT_TIMEOUT_MS ` +
            `(${ctx.config.statementTimeoutMs} ms), even alone; delete its messages first, or raise STATEMENT_TIMEOUT_MS`,
        );
      }
      return true;
    }
    if (num(row?.target) === 0) {
      throw new Error(
        `account ${id} is not due for deletion: no such user, not deactivated more than ${ctx.config.accountRetentionDays} days ` +
          `ago, under a legal hold (npm run hold -- list), held by a RESTRICT key, or its reactivation is in flight`,
      );
    }
    done = num(row?.users) > 0;
    return !done;
  });
  return { counts, more: more && !done };
}

/**
 * With account events on, the batch's statement also records one `account.erased` per user it
 * deleted: the DELETE's RETURNING rows are exactly the users gone (a reactivated user dropped out
 * of it, see above), and a statement is atomic, so there is no erased account without its event
 * and no event without the erasure. Off: nothing is added to the statement.
 */
function erasedEvents(ctx: JobContext): SQL {
  if (!ctx.config.accountEvents) return sql``;
  const stripe = ctx.config.stripe && STRIPE_MAPPED ? customersOf(sql`SELECT id FROM deleted`) : undefined;
  return sql`,${
    stripe
      ? sql`
      stripe_customers AS (${stripe}),`
      : sql``
  }
      erased AS (
        INSERT INTO spacerr_jobs.account_events (id, type, user_id, deactivated_at, data, run_id)
        SELECT ${EVENT_ID}, 'account.erased', d.id, d.deactivated_at,
               jsonb_build_object('userId', d.id, 'deactivatedAt', ${iso(sql`d.deactivated_at`)},
                                  'erasedAt', ${iso(sql`now()`)}, 'runId', ${ctx.runId}::text)${stripe ? stripePart : sql``},
               ${ctx.runId}
        FROM deleted d
        ON CONFLICT DO NOTHING
        RETURNING 1
      )`;
}

/**
 * With Stripe erasure on, the event's Stripe part: `stripeCustomers` is `pending` (queued in this
 * transaction for the Stripe sweep; `npm run receipt` says when each was removed) with the
 * ids in `stripeCustomerIds`, or `none` when the user had no customer.
 */
const stripePart = sql` || coalesce(
          (SELECT jsonb_build_object('stripeCustomers', 'pending',
                                     'stripeCustomerIds', string_agg(DISTINCT sc.customer_id, ',' ORDER BY sc.customer_id))
           FROM stripe_customers sc WHERE sc.owner_id = d.id::text HAVING count(*) > 0),
          jsonb_build_object('stripeCustomers', 'none'))`;

/** The dry run's count of accounts past retention that legal holds keep (deleted by no batch). */
export const HELD_COUNT = 'held';

/**
 * The dry run: what the batches would delete (set-aside and legally held accounts left out),
 * counted per role the app has, and `held`: the accounts past retention legal holds keep.
 */
async function countStaleAccounts(ctx: JobContext, at: Scope) {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH ${sql.join(
      [
        sql`doomed_user AS (
      SELECT u.${user.id} AS id FROM ${user.table} u
      WHERE ${due(at, 'u')}
        AND NOT EXISTS (SELECT 1 FROM ${SLOW} s WHERE s.user_id = ${idText('u')} AND s.set_aside_at IS NOT NULL))`,
        ...CASCADED.map(
          ({ role, keys }) =>
            sql`${sql.raw(`doomed_${role}`)} AS (SELECT ${APP.role(role).id} AS id FROM ${APP.role(role).table}
      WHERE ${sql.join(
        keys.map((k) => sql`${sql.raw(ident(k.column))} IN (SELECT id FROM ${sql.raw(`doomed_${k.from}`)})`),
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
    )},
    (SELECT count(*) FROM ${heldPastCutoff(at.cutoff, at)}) AS ${sql.raw(HELD_COUNT)}`),
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
