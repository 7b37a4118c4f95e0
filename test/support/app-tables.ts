/**
 * The app's tables as the tests seed them, for typed inserts. They are not the Worker's: the app
 * (its Prisma migrations) creates them, and the tests create them from
 * the snake-plural fixture's Prisma migrations (fixtures/snake-plural/prisma/migrations). Keys, foreign keys and
 * indexes live there; only the columns are described here.
 */
import { bigint, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();

export const users = pgTable('users', {
  id: text('id').primaryKey(),
  email: text('email').notNull(),
  name: text('name'),
  createdAt: createdAt(),
  deactivatedAt: timestamp('deactivated_at', { withTimezone: true }),
});

export const projects = pgTable('projects', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull(),
  name: text('name'),
  createdAt: createdAt(),
});

export const chats = pgTable('chats', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull(),
  projectId: text('project_id'),
  title: text('title'),
  createdAt: createdAt(),
});

export const messages = pgTable('messages', {
  id: text('id').primaryKey(),
  chatId: text('chat_id').notNull(),
  role: text('role').notNull(),
  content: jsonb('content'),
  createdAt: createdAt(),
});

export const attachments = pgTable('attachments', {
  id: text('id').primaryKey(),
  userId: text('user_id').notNull(),
  projectId: text('project_id'),
  chatId: text('chat_id'),
  messageId: text('message_id'),
  blobKey: text('blob_key').notNull(),
  contentType: text('content_type'),
  sizeBytes: bigint('size_bytes', { mode: 'number' }),
  createdAt: createdAt(),
});

export const messageSources = pgTable('message_sources', {
  id: text('id').primaryKey(),
  messageId: text('message_id').notNull(),
  attachmentId: text('attachment_id'),
  createdAt: createdAt(),
});
