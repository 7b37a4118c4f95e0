/**
 * The Worker's own tables (docs/contract.md, §2), all in its own Postgres schema, `spacerr_jobs`:
 * the app's tables (in `public`, owned by the app's Prisma migrations) are never described or
 * migrated here. The indexes exist so every job finds its work by index, in time proportional to
 * the stale rows rather than the table. The functions and triggers, and the indexes the jobs need
 * on the app's tables, live in the hand-written part of the migrations (`drizzle/`), since Drizzle
 * cannot express them. Every name is schema-qualified in SQL: Neon's HTTP queries have no session,
 * so nothing may rely on a search_path.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgSchema, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

/** The Postgres schema that holds everything the Worker owns, its migration journal included. */
export const WORKER_SCHEMA = 'spacerr_jobs';
export const workerSchema = pgSchema(WORKER_SCHEMA);
const pgTable = workerSchema.table;

/**
 * The columns of an outbox row that a job retries: when it was queued, its attempts, when it is
 * due next, the last error, and `parked_at`, set once its attempts reach the job's maximum (or an
 * answer that will not change): no longer retried, shown as needing attention.
 */
const retried = () => ({
  enqueuedAt: timestamp('enqueued_at', { withTimezone: true }).notNull().defaultNow(),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
  lastError: text('last_error'),
  parkedAt: timestamp('parked_at', { withTimezone: true }),
});

/**
 * Chats without messages, kept by triggers on the app's `chats` and `messages` (drizzle/0001,
 * 0003): a row is added with the chat, removed by its first message (inserted or moved in), added
 * back when its last message is deleted or moved out, and removed with the chat. It makes "has no
 * messages" indexable without a column on the app's table, and because the first message deletes
 * the row, that message conflicts with the empty-chat job's lock on it (the argument is next to
 * the job's SQL).
 */
export const emptyChats = pgTable(
  'empty_chats',
  {
    chatId: text('chat_id').primaryKey(),
    /** The chat's created_at, kept in step by a trigger: the job's order and cutoff. */
    createdAt: timestamp('created_at', { withTimezone: true }).notNull(),
  },
  // The empty-chat job's only access path: old chats that have no message.
  (t) => [index('empty_chats_created_at_idx').on(t.createdAt)],
);

/**
 * Hint queue for sources that may have become orphans because their attachment was re-pointed
 * to another message. Filled by a trigger; the job re-checks every row before deleting.
 */
export const messageSourceChecks = pgTable('message_source_checks', {
  attachmentId: text('attachment_id').primaryKey(),
  enqueuedAt: timestamp('enqueued_at', { withTimezone: true }).notNull().defaultNow(),
});

/**
 * The blob outbox: filled by the triggers whenever a row naming a stored file (an attachments
 * row, a message's file part, a message source) is deleted or stops naming it.
 */
export const blobDeletions = pgTable(
  'blob_deletions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    blobKey: text('blob_key').notNull().unique(),
    /**
     * The store the file lives in (`vercel-blob`, `r2`): set by the first claim from BLOB_STORE,
     * then kept, so a row queued before BLOB_STORE changed is deleted from the store it was in.
     * NULL: not claimed yet.
     */
    store: text('store'),
    /** The user the file belonged to, where the trigger can tell (an attachments row's user, a live chat's owner). */
    ownerId: text('owner_id'),
    ...retried(),
  },
  (t) => [
    index('blob_deletions_due_idx')
      .on(t.nextAttemptAt, t.id)
      .where(sql`${t.parkedAt} IS NULL`),
    index('blob_deletions_parked_idx')
      .on(t.parkedAt)
      .where(sql`${t.parkedAt} IS NOT NULL`),
    // The receipt's pending files of one user.
    index('blob_deletions_owner_idx')
      .on(t.ownerId)
      .where(sql`${t.ownerId} IS NOT NULL`),
  ],
);

/**
 * Per-user sweeps of the file stores: one row per erased user and prefix of the map's
 * `blobPrefixes` (`chat-attachments/<userId>/`), written by the statement that deletes the user.
 * The purge job lists the store under the prefix page by page (`cursor` is where the next page
 * starts) and deletes every file no live row names, so files never attached to a message go too.
 * A finished sweep is kept (`finished_at`, its counts) ACCOUNT_EVENTS_RETENTION_DAYS as part of
 * the erasure receipt. Retries, backoff and parking as in blob_deletions.
 */
export const blobSweeps = pgTable(
  'blob_sweeps',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    ownerId: text('owner_id').notNull(),
    prefix: text('prefix').notNull(),
    /** Set by the sweep's first claim (BLOB_STORE then): the trigger that queues it cannot know it. */
    store: text('store'),
    cursor: text('cursor'),
    ...retried(),
    /** Files deleted, and files kept because a live row names them. */
    deleted: integer('deleted').notNull().default(0),
    kept: integer('kept').notNull().default(0),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [
    // One sweep per user and prefix, in whichever store its claim chose.
    uniqueIndex('blob_sweeps_owner_prefix_idx').on(t.ownerId, t.prefix),
    index('blob_sweeps_due_idx')
      .on(t.nextAttemptAt, t.id)
      .where(sql`${t.parkedAt} IS NULL AND ${t.finishedAt} IS NULL`),
    index('blob_sweeps_parked_idx')
      .on(t.parkedAt)
      .where(sql`${t.parkedAt} IS NOT NULL AND ${t.finishedAt} IS NULL`),
    index('blob_sweeps_finished_idx')
      .on(t.finishedAt)
      .where(sql`${t.finishedAt} IS NOT NULL`),
  ],
);

/**
 * The Stripe outbox: a customer id queued by the trigger on each table the app map names in
 * `stripeCustomers`, in the transaction that deletes the row (the user, or a billing row that
 * cascades with it). The sweep deletes the customer at Stripe and keeps the row, `deleted_at` set,
 * as the erasure receipt's evidence for ACCOUNT_EVENTS_RETENTION_DAYS.
 */
export const stripeCustomerDeletions = pgTable(
  'stripe_customer_deletions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    customerId: text('customer_id').notNull().unique(),
    /** The user the customer belonged to (the deleted user's id, as text). */
    ownerId: text('owner_id'),
    ...retried(),
    /** When Stripe confirmed the customer gone (deleted now, or already missing). */
    deletedAt: timestamp('deleted_at', { withTimezone: true }),
  },
  (t) => [
    index('stripe_customer_deletions_due_idx')
      .on(t.nextAttemptAt, t.id)
      .where(sql`${t.parkedAt} IS NULL AND ${t.deletedAt} IS NULL`),
    index('stripe_customer_deletions_parked_idx')
      .on(t.parkedAt)
      .where(sql`${t.parkedAt} IS NOT NULL AND ${t.deletedAt} IS NULL`),
    index('stripe_customer_deletions_deleted_idx')
      .on(t.deletedAt)
      .where(sql`${t.deletedAt} IS NOT NULL`),
    // The receipt's look-up of one user's customers.
    index('stripe_customer_deletions_owner_idx').on(t.ownerId),
  ],
);

/** Chats deleted while they may have had stream state in Redis (filled by a trigger). */
export const streamDeletions = pgTable('stream_deletions', {
  chatId: text('chat_id').primaryKey(),
  enqueuedAt: timestamp('enqueued_at', { withTimezone: true }).notNull().defaultNow(),
});

export const JOB_RUN_STATUSES = ['running', 'succeeded', 'failed', 'skipped', 'abandoned'] as const;
export type JobRunStatus = (typeof JOB_RUN_STATUSES)[number];

/** What started a run: its cron, an HTTP call, or a queued continuation. */
export const RUN_TRIGGERS = ['scheduled', 'http', 'queue'] as const;
export type RunTrigger = (typeof RUN_TRIGGERS)[number];

export const jobRuns = pgTable(
  'job_runs',
  {
    id: text('id').primaryKey(),
    job: text('job').notNull(),
    trigger: text('trigger').$type<RunTrigger>().notNull(),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    status: text('status').$type<JobRunStatus>().notNull(),
    dryRun: boolean('dry_run').notNull().default(false),
    counts: jsonb('counts').$type<Record<string, number>>().notNull().default({}),
    more: boolean('more').notNull().default(false),
    subrequests: integer('subrequests').notNull().default(0),
    error: text('error'),
    /** While `running`, the lock's expiry: a run whose holder died is taken over after this. */
    leaseUntil: timestamp('lease_until', { withTimezone: true }),
    /** The run this one continues (a queued continuation draining a backlog), if any. */
    continues: text('continues'),
    /**
     * The cron slot (scheduled time) a scheduled run is for: its delivery's, or for a catch-up the
     * missed slot it runs for (src/chain/slots.ts). Null for runs no cron delivered.
     */
    slot: timestamp('slot', { withTimezone: true }),
    /** Slots of the job's cron whose delivery never came, found by this run (ISO times, oldest first). */
    missed: jsonb('missed').$type<string[]>(),
  },
  (t) => [
    // The lock: at most one running run per job, enforced by Postgres itself.
    uniqueIndex('job_runs_one_running_idx')
      .on(t.job)
      .where(sql`${t.status} = 'running'`),
    index('job_runs_job_started_idx').on(t.job, t.startedAt.desc()),
    // A slot runs once: a second delivery of it (or a catch-up racing its late delivery) inserts nothing.
    uniqueIndex('job_runs_one_slot_idx')
      .on(t.job, t.slot)
      .where(sql`${t.slot} IS NOT NULL AND ${t.status} <> 'skipped'`),
    // The latest slot each job recorded: the missed-slot check's one probe per job.
    index('job_runs_job_slot_idx')
      .on(t.job, t.slot.desc())
      .where(sql`${t.slot} IS NOT NULL`),
    // The latest run of a job that found missed slots (the listing's `missed`).
    index('job_runs_missed_idx')
      .on(t.job, t.startedAt.desc())
      .where(sql`${t.missed} IS NOT NULL`),
  ],
);

/**
 * Jobs an operator paused (`npm run job -- pause`, POST /api/internal/jobs/:job/pause): while a
 * row stands, every run of the job but a dry run is recorded `skipped` with the reason, read inside
 * the lock request (src/db/job-runs.ts), so its deliveries, continuations and recoveries stop.
 */
export const jobPauses = pgTable('job_pauses', {
  job: text('job').primaryKey(),
  reason: text('reason').notNull(),
  pausedBy: text('paused_by'),
  since: timestamp('since', { withTimezone: true }).notNull(),
});

export const ACCOUNT_EVENT_TYPES = ['account.deletion_scheduled', 'account.erased'] as const;
export type AccountEventType = (typeof ACCOUNT_EVENT_TYPES)[number];

/**
 * The account events outbox (only written while ACCOUNT_EVENTS_URL is set): `account.erased`
 * rows are inserted by the statement that deletes the users, `account.deletion_scheduled` rows by
 * the delivery job. `id` is the Standard Webhooks `webhook-id`, the same on every delivery
 * attempt. Delivered rows are kept ACCOUNT_EVENTS_RETENTION_DAYS as erasure receipts.
 */
export const accountEvents = pgTable(
  'account_events',
  {
    id: text('id').primaryKey(),
    type: text('type').$type<AccountEventType>().notNull(),
    userId: text('user_id').notNull(),
    deactivatedAt: timestamp('deactivated_at', { withTimezone: true }).notNull(),
    /** The event's `data`, as sent: ids, times and (account.erased) counts per store only. */
    data: jsonb('data').$type<Record<string, unknown>>().notNull(),
    /** The run that recorded it (for account.erased: the run that deleted the user). */
    runId: text('run_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp('delivered_at', { withTimezone: true }),
    lastError: text('last_error'),
    parkedAt: timestamp('parked_at', { withTimezone: true }),
  },
  (t) => [
    // One event of each type per deactivation: a notice is recorded once (ON CONFLICT DO NOTHING).
    uniqueIndex('account_events_once_idx').on(t.userId, t.deactivatedAt, t.type),
    index('account_events_due_idx')
      .on(t.nextAttemptAt, t.id)
      .where(sql`${t.deliveredAt} IS NULL AND ${t.parkedAt} IS NULL`),
    index('account_events_parked_idx')
      .on(t.parkedAt)
      .where(sql`${t.parkedAt} IS NOT NULL AND ${t.deliveredAt} IS NULL`),
    index('account_events_delivered_idx')
      .on(t.deliveredAt)
      .where(sql`${t.deliveredAt} IS NOT NULL`),
  ],
);

/**
 * Accounts whose deletion ran into STATEMENT_TIMEOUT_MS (written by the account job, never by
 * the app). A batch that timed out marks the accounts it held with its size; later batches leave
 * them out and retry them in halves (`batch_size` is the smallest batch each was in that timed
 * out), so the rest of the accounts proceed. One that timed out alone is set aside
 * (`set_aside_at`): no batch tries it again, the `accounts_set_aside` alarm names it, and the
 * operator deletes it in steps (`npm run job -- <the account job> --account <id>`).
 * A row goes in the statement that deletes its user.
 */
export const slowAccounts = pgTable(
  'slow_accounts',
  {
    /** The app user's id, as text (whatever its type in the app). */
    userId: text('user_id').primaryKey(),
    batchSize: integer('batch_size').notNull(),
    timedOutAt: timestamp('timed_out_at', { withTimezone: true }).notNull().defaultNow(),
    setAsideAt: timestamp('set_aside_at', { withTimezone: true }),
    /** The run whose batch timed out last, and how (a server-side 57014, or the client's abort). */
    runId: text('run_id').notNull(),
    lastError: text('last_error').notNull(),
    /** For an account deleted in steps: chats per step, halved after a step that timed out (unset: 64). */
    chatStep: integer('chat_step'),
  },
  (t) => [
    index('slow_accounts_batch_size_idx')
      .on(t.batchSize)
      .where(sql`${t.setAsideAt} IS NULL`),
  ],
);

/**
 * Legal holds (src/db/holds.ts): an account under one is never erased and nothing it owns is
 * deleted by any job, whatever its deactivation date. Active while `until` is unset or later than
 * the run's time; an ended hold (expired, or lifted: `until` set to the time it was lifted) stays
 * as the record that the account was held, so that with account events on it is erased only once
 * its deletion notice has been out DELETION_NOTICE_DAYS. The row goes in the statement that
 * erases its user. Every job reads it by primary key, inside the statement that selects what to
 * delete.
 */
export const legalHolds = pgTable('legal_holds', {
  /** The app user's id, as text (whatever its type in the app). */
  userId: text('user_id').primaryKey(),
  reason: text('reason').notNull(),
  placedBy: text('placed_by'),
  since: timestamp('since', { withTimezone: true }).notNull(),
  until: timestamp('until', { withTimezone: true }),
});
