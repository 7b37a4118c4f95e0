/**
 * deliver-account-events: with ACCOUNT_EVENTS_URL and ACCOUNT_EVENTS_SECRET set, records the
 * `account.deletion_scheduled` notices that have come due and delivers the account_events outbox
 * (notices, and the `account.erased` rows the account job writes as it deletes), signed, at least
 * once, with backoff and parking like the blob outbox. An `account.erased` event's first attempt
 * adds to its data what was cleared in the file stores and what is pending. Delivered events are kept
 * ACCOUNT_EVENTS_RETENTION_DAYS as erasure receipts (`npm run receipt -- <userId>`).
 * Unconfigured, it is never run: no lock, no request.
 */
import { type SQL, sql } from 'drizzle-orm';
import { APP } from '../app-map/app';
import { capped } from '../db/backlog';
import { num } from '../db/rows';
import { addCounts, inBatches } from '../run/batched-run';
import { defineJob, parkedAlarm, type JobContext, type JobOutcome } from '../run/job';
import { before, DAY_MS } from '../time';
import { type AccountEvent, deliver, EVENT_ID, iso, runsWithin } from '../events/account-events';
import { blobReceipt } from '../files/blob-sweeps';
import { holdEnded, legallyHeld, noticeAfterHold, noticeRunAfterHold } from '../holds/legal-holds';
import { ACCOUNT_DELETIONS, SCHEDULES } from '../schedules';
import type { ConfigOf, Setting } from '../config/settings';
import { accountEvents, integer } from '../config/values';

/** Events POSTed at once (concurrently) per batch. */
const DELIVERIES_PER_BATCH = 10;
/** A claimed event is not picked again for this long if the run dies before recording the attempt. */
const CLAIM_SECONDS = 900;
/** Notices recorded per run at most (a first run after turning events on may find many). */
const NOTICES_PER_RUN = 1000;

/** Its own settings, which the account job reads too (it records `account.erased` with events on). */
const SETTINGS = [
  {
    name: 'DELETION_NOTICE_DAYS',
    kind: 'var',
    topic: 'events',
    default: 7,
    meaning:
      'with account events on: `account.deletion_scheduled` is sent once the account job run that deletes the account is this many days away or less (0: no notices)',
    key: 'deletionNoticeDays',
    parse: integer(0, 365),
  },
  {
    name: 'ACCOUNT_EVENTS_RETENTION_DAYS',
    kind: 'var',
    topic: 'events',
    default: 400,
    meaning:
      'delivered account events (the erasure receipts) are kept this long: 400 covers a year of audits or erasure disputes after the fact, plus a month (1–3650)',
    key: 'accountEventsRetentionDays',
    parse: integer(1, 3650),
  },
  {
    name: 'ACCOUNT_EVENTS_MAX_ATTEMPTS',
    kind: 'var',
    topic: 'events',
    default: 12,
    meaning: 'deliveries of an account event before it is parked (backoff 1 min · 2^attempt, at most 6 h: 12 spans about 1.5 days)',
    key: 'accountEventsMaxAttempts',
    parse: integer(1, 100),
  },
  {
    name: 'ACCOUNT_EVENTS_URL',
    kind: 'var or secret',
    topic: 'events',
    default: 'unset',
    meaning: 'receiver of the signed account lifecycle events (https; http only for localhost); unset with the secret: events off',
    key: 'accountEvents',
    parse: accountEvents,
  },
  {
    name: 'ACCOUNT_EVENTS_SECRET',
    kind: 'secret',
    topic: 'events',
    default: 'unset',
    meaning: 'Standard Webhooks signing secret, `whsec_<base64>` (read with ACCOUNT_EVENTS_URL)',
  },
] as const satisfies readonly Setting[];

declare module '../config/settings' {
  interface Config extends ConfigOf<typeof SETTINGS> {}
}

export const deliverAccountEvents = defineJob({
  name: 'deliver-account-events',
  description: 'Records deletion notices and delivers account lifecycle events to ACCOUNT_EVENTS_URL (Standard Webhooks).',
  schedule: SCHEDULES.tick,
  settings: SETTINGS,
  deletes: [],
  enabled: (config) => config.accountEvents !== undefined,
  // Index: account_events_due_idx and account_events_parked_idx (partial).
  figures: () => ({
    pending: capped(sql`FROM spacerr_jobs.account_events WHERE delivered_at IS NULL AND parked_at IS NULL`),
    parked: capped(sql`FROM spacerr_jobs.account_events WHERE delivered_at IS NULL AND parked_at IS NOT NULL`),
  }),
  backlog: ['pending', 'parked'],
  alarm: parkedAlarm(
    'account_events_parked',
    (count, config) =>
      `${count} account event(s) gave up after ${config.accountEventsMaxAttempts} delivery attempts (see account_events.last_error)`,
  ),
  // After the receiver is fixed. Index: account_events_parked_idx (partial).
  requeue: sql`
    UPDATE spacerr_jobs.account_events SET parked_at = NULL, attempts = 0, next_attempt_at = now()
    WHERE parked_at IS NOT NULL AND delivered_at IS NULL RETURNING 1`,
  run,
});

async function run(ctx: JobContext): Promise<JobOutcome> {
  const target = ctx.config.accountEvents;
  if (!target) return { counts: {}, more: false };
  if (ctx.dryRun) return { counts: await countDue(ctx), more: false };
  const counts: Record<string, number> = { delivered: 0, failed: 0 };
  let first = true;
  // A batch: claim (1), up to DELIVERIES_PER_BATCH POSTs, record the outcomes (1).
  const more = await inBatches(ctx.budget, 3, async () => {
    const posts = Math.min(DELIVERIES_PER_BATCH, ctx.budget.limit - ctx.budget.used - 2);
    const [recorded, claimed] = await claim(ctx, posts, first);
    if (first) addCounts(counts, recorded);
    first = false;
    if (claimed.length === 0) return false;
    const sentAt = new Date();
    const results = await Promise.all(
      claimed.map((event) => {
        ctx.budget.spend();
        return deliver(target, event, sentAt);
      }),
    );
    await recordAttempts(ctx, claimed, results);
    const delivered = results.filter((r) => r.ok).length;
    addCounts(counts, { delivered, failed: results.length - delivered });
    return claimed.length >= posts;
  });
  return { counts, more };
}

/**
 * One request: on the run's first batch, record the notices now due and prune old receipts;
 * then claim up to `limit` due events (the claim sees the notices: the statements of a batch run
 * in order in one transaction). The claim pushes next_attempt_at forward, so a run that dies
 * before recording its attempts leaves the events for a later run, and SKIP LOCKED keeps two
 * runs from claiming the same event.
 */
async function claim(ctx: JobContext, limit: number, first: boolean): Promise<[Record<string, number>, ClaimedEvent[]]> {
  const claimSql = sql`
    WITH due AS (
      SELECT id FROM spacerr_jobs.account_events
      WHERE delivered_at IS NULL AND parked_at IS NULL AND next_attempt_at <= now()
      ORDER BY next_attempt_at, id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    )
    UPDATE spacerr_jobs.account_events e SET next_attempt_at = now() + make_interval(secs => ${CLAIM_SECONDS}),
      data = CASE WHEN e.type = 'account.erased' AND e.attempts = 0 THEN ${withStores(ctx)} ELSE e.data END
    FROM due WHERE e.id = due.id
    RETURNING e.id, e.type, ${iso(sql`e.created_at`)} AS timestamp, e.data, e.attempts, e.next_attempt_at::text AS claimed_until`;
  if (!first) {
    const claimed = await ctx.budget.request(() => ctx.db.execute(claimSql));
    return [{}, claimed.rows as unknown as ClaimedEvent[]];
  }
  const [notices, pruned, claimed] = await ctx.budget.request(() =>
    ctx.db.batch([
      ctx.db.execute(recordNotices(ctx) ?? sql`SELECT 0 AS notices`),
      ctx.db.execute(sql`
        WITH pruned AS (
          DELETE FROM spacerr_jobs.account_events
          WHERE delivered_at < ${before(ctx.now, ctx.config.accountEventsRetentionDays, DAY_MS)}
          RETURNING 1
        )
        SELECT count(*) AS pruned FROM pruned`),
      ctx.db.execute(claimSql),
    ]),
  );
  const recorded = { notices: num(notices.rows[0]?.notices), pruned: num(pruned.rows[0]?.pruned) };
  return [recorded, claimed.rows as unknown as ClaimedEvent[]];
}

/**
 * An `account.erased` event's data as its first attempt sends it (and every later attempt again):
 * with `stores`, what was cleared outside Postgres and what is still pending, per kind of store
 * (`blob`: per file store, src/files/blob-sweeps.ts `blobReceipt`), as of that first attempt.
 */
function withStores(ctx: JobContext): SQL {
  return sql`e.data || jsonb_build_object('stores', coalesce(e.data->'stores', '{}'::jsonb)
    || jsonb_build_object('blob', ${blobReceipt(sql`e.user_id`, ctx.blobs.current)}))`;
}

/** An event as claimed: its attempts and the next_attempt_at the claim set are the claim's token. */
interface ClaimedEvent extends AccountEvent {
  attempts: number;
  claimed_until: string;
}

const user = APP.role('user');

/**
 * Records `account.deletion_scheduled` for every deactivated user that the account job's next
 * runs within DELETION_NOTICE_DAYS will delete, once per deactivation (a reactivated user, whose
 * deactivated_at is NULL, is not selected; one who deactivates again has a new deactivated_at).
 * `FOR SHARE SKIP LOCKED`: a user the account job is deleting right now (its batch holds the row
 * FOR UPDATE) is skipped, and one it deleted after our snapshot is no longer returned, so a notice
 * is never recorded for an account already erased. A user whose row an uncommitted UPDATE holds (a
 * reactivation in flight: `deactivated_at = NULL`) is skipped too, and re-checked by the next run;
 * one reactivated after our snapshot is re-read at the lock and no longer matches. (FOR KEY SHARE
 * would not do: it does not conflict with an UPDATE, so it would record the notice of a user being
 * reactivated.) The price: an UPDATE of a selected user row waits for this one statement.
 * Legal holds (src/holds/legal-holds.ts): an account under an active hold gets no notice (it is not
 * going to be deleted). One whose hold has ended gets its notice as soon as it would be deleted
 * within DELETION_NOTICE_DAYS, naming the account job's first run more than DELETION_NOTICE_DAYS
 * away (the account job waits for that run), whatever runs lie nearer.
 * Index: users_deactivated_at_idx (partial), legal_holds_pkey, account_events_once_idx.
 */
function recordNotices(ctx: JobContext): SQL | undefined {
  const runs = runsWithin(ACCOUNT_DELETIONS.cron, ctx.now, ctx.config.deletionNoticeDays);
  const last = runs.at(-1);
  const afterHold = noticeAfterHold(ctx.config) ? noticeRunAfterHold(ACCOUNT_DELETIONS.cron, ctx.now, ctx.config) : null;
  if (!last && !afterHold) return undefined;
  const retention = sql`make_interval(days => ${ctx.config.accountRetentionDays})`;
  const at = (d: Date) => sql`${d.toISOString()}::timestamptz`;
  const before = (d: Date) => user.asColumnTime('deactivatedAt', sql`${at(d)} - ${retention}`);
  // Deleted by a run within the notice window, or (after a hold) once the window has passed.
  const horizon = new Date(ctx.now.getTime() + ctx.config.deletionNoticeDays * DAY_MS);
  const firstRun = (deleteAfter: SQL) =>
    runs.length === 0
      ? sql`NULL::timestamptz`
      : sql`(SELECT min(r.at) FROM (VALUES ${sql.join(
          runs.map((r) => sql`(${at(r)})`),
          sql`, `,
        )}) r(at) WHERE r.at > ${deleteAfter})`;
  return sql`
    WITH soon AS (
      SELECT u.${user.id} AS id, ${user.instant('deactivatedAt', 'u')} AS deactivated_at, ${holdEnded('u', ctx.now)} AS hold_ended
      FROM ${user.table} u
      WHERE u.${user.col('deactivatedAt')} < ${before(afterHold ? horizon : last!)}
        AND NOT ${legallyHeld('u', ctx.now)}
        AND (${last ? sql`u.${user.col('deactivatedAt')} < ${before(last)}` : sql`false`} OR ${afterHold ? holdEnded('u', ctx.now) : sql`false`})
        AND NOT EXISTS (
          SELECT 1 FROM spacerr_jobs.account_events e
          WHERE e.user_id = u.${user.id} AND e.deactivated_at = ${user.instant('deactivatedAt', 'u')}
            AND e.type = 'account.deletion_scheduled')
      ORDER BY u.${user.col('deactivatedAt')}
      LIMIT ${NOTICES_PER_RUN}
      FOR SHARE OF u SKIP LOCKED
    ),
    scheduled AS (
      SELECT s.id, s.deactivated_at, s.deactivated_at + ${retention} AS delete_after,
             CASE WHEN s.hold_ended AND ${afterHold !== null}::boolean THEN ${afterHold ? at(afterHold) : sql`NULL::timestamptz`}
                  ELSE ${firstRun(sql`s.deactivated_at + ${retention}`)} END AS run_at
      FROM soon s
    ),
    recorded AS (
      INSERT INTO spacerr_jobs.account_events (id, type, user_id, deactivated_at, data, run_id)
      SELECT ${EVENT_ID}, 'account.deletion_scheduled', id, deactivated_at,
             jsonb_build_object('userId', id, 'deactivatedAt', ${iso(sql`deactivated_at`)},
                                'deleteAfter', ${iso(sql`delete_after`)}, 'scheduledDeletionAt', ${iso(sql`run_at`)}),
             ${ctx.runId}
      FROM scheduled
      ON CONFLICT DO NOTHING
      RETURNING 1
    )
    SELECT count(*) AS notices FROM recorded`;
}

/**
 * One request for the batch's outcomes: delivered, or attempts + 1 with the error and backoff
 * (1 min · 2^attempts, at most 6 h), parked at ACCOUNT_EVENTS_MAX_ATTEMPTS. Each event is written
 * only as it was claimed (the same attempts, the next_attempt_at the claim set), and writing it
 * changes attempts: when this request committed but its reply was lost, the retry finds no event
 * as claimed and changes nothing, so one attempt counts once. An event an operator requeued
 * meanwhile is left as requeued.
 */
async function recordAttempts(ctx: JobContext, claims: ClaimedEvent[], results: Awaited<ReturnType<typeof deliver>>[]) {
  const claimOf = new Map(claims.map((c) => [c.id, c]));
  const rows = results.map((r) => ({
    id: r.id,
    ok: r.ok,
    error: r.ok ? null : r.error.slice(0, 500),
    attempts: claimOf.get(r.id)?.attempts,
    claimed_until: claimOf.get(r.id)?.claimed_until,
  }));
  await ctx.budget.request(() =>
    ctx.db.execute(sql`
    UPDATE spacerr_jobs.account_events e SET
      attempts = e.attempts + 1,
      delivered_at = CASE WHEN r.ok THEN now() END,
      last_error = r.error,
      next_attempt_at = CASE WHEN r.ok THEN e.next_attempt_at
                             ELSE now() + make_interval(secs => least(60 * power(2, e.attempts), 21600)) END,
      parked_at = CASE WHEN NOT r.ok AND e.attempts + 1 >= ${ctx.config.accountEventsMaxAttempts} THEN now() END
    FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(id text, ok boolean, error text, attempts int, claimed_until timestamptz)
    WHERE e.id = r.id AND e.attempts = r.attempts AND e.next_attempt_at = r.claimed_until`),
  );
}

async function countDue(ctx: JobContext) {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    SELECT count(*) FILTER (WHERE parked_at IS NULL AND next_attempt_at <= now()) AS due,
           count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
    FROM spacerr_jobs.account_events WHERE delivered_at IS NULL`),
  );
  const row = result.rows[0] ?? {};
  return { due: num(row.due), parked: num(row.parked) };
}
