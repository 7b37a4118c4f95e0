/**
 * The tables this Worker maintains (docs/contract.md, §2). Column names are the contract with the app; the
 * extra columns and the indexes exist so every job finds its work by index, in time proportional
 * to the stale rows rather than the table. Triggers live in the custom migration
 * `drizzle/0001_triggers.sql`, since Drizzle cannot express them.
 */
import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    email: text('email').notNull().unique(),
    name: text('name'),
    createdAt: createdAt(),
    deactivatedAt: timestamp('deactivated_at', { withTimezone: true }),
  },
  // Only deactivated users are ever looked up by deactivated_at: a partial index stays tiny.
  (t) => [
    index('users_deactivated_at_idx')
      .on(t.deactivatedAt)
      .where(sql`${t.deactivatedAt} IS NOT NULL`),
  ],
);

export const projects = pgTable(
  'projects',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    name: text('name'),
    createdAt: createdAt(),
  },
  (t) => [index('projects_user_id_idx').on(t.userId)],
);

export const chats = pgTable(
  'chats',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    projectId: text('project_id').references(() => projects.id, { onDelete: 'cascade' }),
    title: text('title'),
    createdAt: createdAt(),
    /**
     * Kept true by a trigger on `messages` once the chat has a message (and reset when its last
     * message is deleted). It makes "has no messages" indexable, and because the trigger updates
     * the chat row, a concurrent first message conflicts with the empty-chat job's row lock.
     */
    hasMessages: boolean('has_messages').notNull().default(false),
  },
  (t) => [
    index('chats_user_id_idx').on(t.userId),
    index('chats_project_id_idx').on(t.projectId),
    // The empty-chat job's only access path: old chats that never got a message.
    index('chats_empty_created_at_idx')
      .on(t.createdAt)
      .where(sql`NOT ${t.hasMessages}`),
  ],
);

export const messages = pgTable(
  'messages',
  {
    id: text('id').primaryKey(),
    chatId: text('chat_id')
      .notNull()
      .references(() => chats.id, { onDelete: 'cascade' }),
    role: text('role').notNull(),
    content: jsonb('content'),
    createdAt: createdAt(),
  },
  (t) => [index('messages_chat_id_idx').on(t.chatId)],
);

export const attachments = pgTable(
  'attachments',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    // The app deletes projects and chats with a plain DELETE; their attachments go with them,
    // and the outbox trigger queues their blobs.
    projectId: text('project_id').references(() => projects.id, { onDelete: 'cascade' }),
    chatId: text('chat_id').references(() => chats.id, { onDelete: 'cascade' }),
    // A deleted message detaches its attachments; they still belong to the chat.
    messageId: text('message_id').references(() => messages.id, { onDelete: 'set null' }),
    blobKey: text('blob_key').notNull().unique(),
    contentType: text('content_type'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    createdAt: createdAt(),
  },
  (t) => [
    index('attachments_user_id_idx').on(t.userId),
    index('attachments_project_id_idx').on(t.projectId),
    index('attachments_chat_id_idx').on(t.chatId),
    index('attachments_message_id_idx').on(t.messageId),
  ],
);

export const messageSources = pgTable(
  'message_sources',
  {
    id: text('id').primaryKey(),
    messageId: text('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    // SET NULL, not CASCADE: a source whose attachment is gone becomes visible as an orphan
    // for the orphaned-sources job instead of vanishing inside the app's transaction.
    attachmentId: text('attachment_id').references(() => attachments.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    index('message_sources_message_id_idx').on(t.messageId),
    index('message_sources_attachment_id_idx').on(t.attachmentId),
    index('message_sources_orphaned_idx')
      .on(t.id)
      .where(sql`${t.attachmentId} IS NULL`),
  ],
);

/**
 * Hint queue for sources that may have become orphans because their attachment was re-pointed
 * to another message. Filled by a trigger; the job re-checks every row before deleting.
 */
export const messageSourceChecks = pgTable('message_source_checks', {
  attachmentId: text('attachment_id').primaryKey(),
  enqueuedAt: timestamp('enqueued_at', { withTimezone: true }).notNull().defaultNow(),
});

/** The blob outbox: filled by a trigger whenever an attachments row is deleted. */
export const blobDeletions = pgTable(
  'blob_deletions',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    blobKey: text('blob_key').notNull().unique(),
    enqueuedAt: timestamp('enqueued_at', { withTimezone: true }).notNull().defaultNow(),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
    /** Set once `attempts` reaches the maximum: no longer retried, shown as needing attention. */
    parkedAt: timestamp('parked_at', { withTimezone: true }),
  },
  (t) => [
    index('blob_deletions_due_idx')
      .on(t.nextAttemptAt, t.id)
      .where(sql`${t.parkedAt} IS NULL`),
    index('blob_deletions_parked_idx')
      .on(t.parkedAt)
      .where(sql`${t.parkedAt} IS NOT NULL`),
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
  },
  (t) => [
    // The lock: at most one running run per job, enforced by Postgres itself.
    uniqueIndex('job_runs_one_running_idx')
      .on(t.job)
      .where(sql`${t.status} = 'running'`),
    index('job_runs_job_started_idx').on(t.job, t.startedAt.desc()),
  ],
);
