/**
 * Writing the app's rows the way the app does, on whatever layout the Worker under test bundles
 * the map of (the `layout:*` projects of vitest.config.ts): every name comes from the map, and
 * the columns the map does not know (a Prisma `@updatedAt`, a `role`, a `name`) get a value of
 * their type read from the catalog, so a row is valid on every layout. Times are written as
 * Prisma Client writes them: the ISO instant, which a `timestamp` column keeps as UTC wall time
 * (Postgres ignores the zone of the text for that type) and a `timestamptz` column as the instant.
 */
import { sql } from 'drizzle-orm';
import { APP } from '../../src/app-map/app';
import type { Role } from '../../src/app-map/types';
import type { Db } from '../../src/db/client';
import { PgDialect } from 'drizzle-orm/pg-core';
import { q, type Session } from '../worker/support';

interface Column {
  name: string;
  type: string;
  enumLabel: string | null;
}

const required = new Map<string, Column[]>();

/** The NOT NULL columns without a default of an app table (read once per table). */
async function requiredColumns(db: Db, table: string): Promise<Column[]> {
  const hit = required.get(table);
  if (hit) return hit;
  const rows = await q<Column>(
    db,
    sql`SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
               (SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = a.atttypid ORDER BY e.enumsortorder LIMIT 1) AS "enumLabel"
        FROM pg_attribute a
        WHERE a.attrelid = ${`"${APP.schema}"."${table}"`}::regclass AND a.attnum > 0 AND NOT a.attisdropped
          AND a.attnotnull AND NOT a.atthasdef`,
  );
  required.set(table, rows);
  return rows;
}

function filler(column: Column, now: Date): unknown {
  if (column.enumLabel !== null) return column.enumLabel;
  if (column.type.startsWith('timestamp')) return now.toISOString();
  if (column.type === 'boolean') return false;
  if (column.type === 'integer' || column.type === 'bigint') return 0;
  if (column.type === 'jsonb' || column.type === 'json') return '[]';
  return `${column.name}-value`;
}

/** Inserts one row of `role`, with `values` by logical column (`id` included); Dates as Prisma writes them. */
export async function insertRow(db: Db, role: Role, values: Record<string, unknown>, now = new Date()): Promise<void> {
  const t = APP.role(role);
  const physical = Object.entries(values).map(([logical, value]) => [t.colName(logical), value] as const);
  await insertInto(db, t.name, Object.fromEntries(physical), now);
}

/** Inserts one row into any app table, by physical column names, filling the other required ones. */
export async function insertInto(db: Db, table: string, values: Record<string, unknown>, now = new Date()): Promise<void> {
  const byName = new Map<string, unknown>();
  for (const column of await requiredColumns(db, table)) byName.set(column.name, filler(column, now));
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined) continue;
    byName.set(name, value instanceof Date ? value.toISOString() : value);
  }
  const names = [...byName.keys()];
  await db.execute(
    sql`INSERT INTO ${sql.raw(`"${APP.schema}"."${table}"`)} (${sql.raw(names.map((n) => `"${n}"`).join(', '))})
        VALUES (${sql.join(
          names.map((n) => sql`${byName.get(n)}`),
          sql`, `,
        )})`,
  );
}

/** A user of the app, deactivated at `deactivatedAt` (null: active), with an email where the map has one. */
export function insertUser(db: Db, id: string, deactivatedAt: Date | null = null): Promise<void> {
  return insertRow(db, 'user', { id, deactivatedAt, ...(APP.role('user').has('email') ? { email: `${id}@example.com` } : {}) });
}

/** The ids of a role's rows still there, sorted. */
export async function idsOf(db: Db, role: Role): Promise<string[]> {
  const t = APP.role(role);
  return (await q<{ id: string }>(db, sql`SELECT ${t.id} AS id FROM ${t.table} ORDER BY 1`)).map((r) => r.id);
}

/**
 * One stored file of a message, the way this layout records it: an attachments row (the older
 * layout), a file part in the message's `parts` and a message_source row (Spacerr). Returns the
 * message's parts to write with it (undefined where the layout has none) and the file's key.
 */
export function fileOf(userId: string, name: string): { key: string; part: Record<string, unknown> } {
  const key = `chat-attachments/${userId}/1767225600000-${name}`;
  return {
    key,
    part: {
      type: 'file',
      mediaType: 'application/pdf',
      url: `https://store.example/${key}`,
      providerMetadata: { storage: { pathname: key } },
    },
  };
}

/**
 * Seeds a user with one chat holding one message that carries `files` stored files, recorded as
 * this layout records them. Returns the chat and message ids and the files' keys.
 */
export async function seedChatWithFiles(
  db: Db,
  opts: { userId: string; chatId: string; createdAt: Date; files: string[]; messageId?: string },
): Promise<{ messageId: string; keys: string[] }> {
  const messageId = opts.messageId ?? `${opts.chatId}-m`;
  await insertRow(db, 'chat', { id: opts.chatId, userId: opts.userId, createdAt: opts.createdAt });
  const files = opts.files.map((f) => fileOf(opts.userId, f));
  const message: Record<string, unknown> = { id: messageId, chatId: opts.chatId };
  if (APP.role('message').has('parts'))
    message.parts = JSON.stringify([{ type: 'text', text: 'see attached' }, ...files.map((f) => f.part)]);
  await insertRow(db, 'message', message);
  for (const [i, f] of files.entries()) {
    if (APP.has('attachment')) {
      await insertRow(db, 'attachment', { id: `${messageId}-a${i}`, userId: opts.userId, chatId: opts.chatId, messageId, blobKey: f.key });
    }
    if (APP.has('messageSource') && APP.role('messageSource').has('pathname')) {
      await insertRow(db, 'messageSource', { id: `${messageId}-s${i}`, chatId: opts.chatId, messageId, pathname: f.key });
    }
  }
  return { messageId, keys: files.map((f) => f.key) };
}

/** The keys waiting in the blob outbox, sorted. */
export async function queuedKeys(db: Db): Promise<string[]> {
  return (await q<{ k: string }>(db, sql`SELECT blob_key AS k FROM spacerr_jobs.blob_deletions ORDER BY 1`)).map((r) => r.k);
}

/** Runs a drizzle SQL fragment on a Node-side session (the app's own connection, which can hold a transaction). */
export function runOn<T = Record<string, unknown>>(session: Session, query: ReturnType<typeof sql>): Promise<T[]> {
  const built = new PgDialect().sqlToQuery(query);
  return session.query<T>(built.sql, built.params);
}

/** A session seen as the Db the seeding helpers take: its statements run inside its open transaction. */
export function sessionDb(session: Session): Db {
  return { execute: async (query: ReturnType<typeof sql>) => ({ rows: await runOn(session, query) }) } as unknown as Db;
}
