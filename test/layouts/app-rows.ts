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
import { expect } from 'vitest';

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
export function insertInto(db: Db, table: string, values: Record<string, unknown>, now = new Date()): Promise<void> {
  return insertManyInto(db, table, [values], now);
}

/** Inserts rows of `role` (each by logical column, the same columns in every row), a few statements in all. */
export async function insertRows(db: Db, role: Role, rows: Record<string, unknown>[], now = new Date()): Promise<void> {
  const t = APP.role(role);
  const physical = rows.map((values) => Object.fromEntries(Object.entries(values).map(([logical, v]) => [t.colName(logical), v])));
  await insertManyInto(db, t.name, physical, now);
}

/** Multi-row INSERTs into an app table (1000 rows a statement), filling the other required columns. */
async function insertManyInto(db: Db, table: string, rows: Record<string, unknown>[], now: Date): Promise<void> {
  if (rows.length === 0) return;
  const fill = new Map<string, unknown>();
  for (const column of await requiredColumns(db, table)) fill.set(column.name, filler(column, now));
  const names = [...new Set([...fill.keys(), ...rows.flatMap((r) => Object.keys(r).filter((k) => r[k] !== undefined))])];
  const value = (row: Record<string, unknown>, n: string) => {
    const v = row[n] === undefined ? (fill.get(n) ?? null) : row[n];
    return v instanceof Date ? v.toISOString() : v;
  };
  for (let i = 0; i < rows.length; i += 1000) {
    const chunk = rows.slice(i, i + 1000);
    await db.execute(
      sql`INSERT INTO ${sql.raw(`"${APP.schema}"."${table}"`)} (${sql.raw(names.map((n) => `"${n}"`).join(', '))})
          VALUES ${sql.join(
            chunk.map(
              (row) =>
                sql`(${sql.join(
                  names.map((n) => sql`${value(row, n)}`),
                  sql`, `,
                )})`,
            ),
            sql`, `,
          )}`,
    );
  }
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

const MIN = 60_000;
const DAY = 86_400_000;

export interface ChatSpec {
  ageMinutes: number;
  messages?: number;
  /**
   * Stored files of the chat, recorded as the layout records them: on its first message (a file
   * part and a message source where the layout has them, an attachments row and its source where
   * it has that table), and for a chat without messages an attachments row of the chat only where
   * the layout has one (elsewhere a file cannot belong to a chat with no message: none is seeded).
   */
  files?: number;
  inProject?: boolean;
}

export interface AccountSpec {
  id: string;
  /** Days since deactivation; null or absent: active. */
  deactivatedDaysAgo?: number | null;
  /** Exact deactivation time, overriding deactivatedDaysAgo. */
  deactivatedAt?: Date;
  chats?: ChatSpec[];
}

export interface Seeded {
  userId: string;
  /** The account's project, where the layout has projects. */
  projectId: string | null;
  chatIds: string[];
  messageIds: string[];
  /** The keys of the files seeded (recorded), in chat order; `blobs/<chatId>-a<i>`. */
  keys: string[];
  /** Rows seeded per count key (the run's counts: users, projects, chats, messages, attachments, message_sources). */
  rows: Record<string, number>;
}

/** A file part of a message's `parts`, naming stored file `key` as Spacerr records it. */
export function filePart(key: string): Record<string, unknown> {
  return {
    type: 'file',
    mediaType: 'application/pdf',
    url: `https://store.example/${key}`,
    providerMetadata: { storage: { pathname: key } },
  };
}

/**
 * One account of the app and everything it owns, written through the map, at ages relative to
 * `now` (the map-driven twin of test/worker/seed.ts). Ids: `<id>`, `<id>-p`, `<id>-c<i>`,
 * `<id>-c<i>-m<j>`; file keys `blobs/<id>-c<i>-a<k>`.
 */
export async function seedAccount(db: Db, now: Date, spec: AccountSpec): Promise<Seeded> {
  const u = spec.id;
  const deactivatedAt =
    spec.deactivatedAt ?? (spec.deactivatedDaysAgo == null ? null : new Date(now.getTime() - spec.deactivatedDaysAgo * DAY));
  const withProject = APP.has('project');
  const out: Seeded = { userId: u, projectId: withProject ? `${u}-p` : null, chatIds: [], messageIds: [], keys: [], rows: {} };
  const chatRows: Record<string, unknown>[] = [];
  const messageRows: Record<string, unknown>[] = [];
  const attachmentRows: Record<string, unknown>[] = [];
  const sourceRows: Record<string, unknown>[] = [];
  const chat = APP.role('chat');
  const message = APP.role('message');
  const attachments = APP.has('attachment') ? APP.role('attachment') : undefined;
  const sources = APP.has('messageSource') ? APP.role('messageSource') : undefined;
  const parts = message.has('parts');
  (spec.chats ?? []).forEach((c, i) => {
    const chatId = `${u}-c${i}`;
    out.chatIds.push(chatId);
    const inProject = c.inProject && out.projectId !== null && chat.has('projectId');
    chatRows.push({
      id: chatId,
      userId: u,
      createdAt: new Date(now.getTime() - c.ageMinutes * MIN),
      projectId: inProject ? out.projectId : null,
    });
    const messages = c.messages ?? 0;
    const firstMessage = messages > 0 ? `${chatId}-m0` : null;
    const keys: string[] = [];
    for (let a = 0; a < (c.files ?? 0); a++) {
      const key = `blobs/${chatId}-a${a}`;
      const attachmentId = `${chatId}-a${a}`;
      let recorded = false;
      if (attachments?.has('chatId')) {
        attachmentRows.push({
          id: attachmentId,
          userId: u,
          chatId,
          blobKey: key,
          ...(attachments.has('messageId') ? { messageId: firstMessage } : {}),
          ...(attachments.has('projectId') ? { projectId: inProject ? out.projectId : null } : {}),
        });
        recorded = true;
        if (firstMessage && sources?.has('attachmentId'))
          sourceRows.push({ id: `${attachmentId}-s`, messageId: firstMessage, attachmentId });
      }
      if (firstMessage && parts) recorded = true;
      if (firstMessage && sources?.has('pathname')) {
        sourceRows.push({ id: `${attachmentId}-s`, messageId: firstMessage, pathname: key, ...(sources.has('chatId') ? { chatId } : {}) });
        recorded = true;
      }
      if (recorded) keys.push(key);
    }
    out.keys.push(...keys);
    for (let m = 0; m < messages; m++) {
      const id = `${chatId}-m${m}`;
      out.messageIds.push(id);
      const row: Record<string, unknown> = { id, chatId };
      if (parts) row.parts = JSON.stringify([{ type: 'text', text: `hello ${m}` }, ...(m === 0 ? keys.map(filePart) : [])]);
      messageRows.push(row);
    }
  });
  await insertRow(db, 'user', { id: u, deactivatedAt, ...(APP.role('user').has('email') ? { email: `${u}@example.com` } : {}) }, now);
  if (withProject) await insertRow(db, 'project', { id: out.projectId, userId: u }, now);
  await insertRows(db, 'chat', chatRows, now);
  await insertRows(db, 'message', messageRows, now);
  if (attachments) await insertRows(db, 'attachment', attachmentRows, now);
  if (sources) await insertRows(db, 'messageSource', sourceRows, now);
  out.rows = {
    users: 1,
    ...(withProject ? { projects: 1 } : {}),
    chats: chatRows.length,
    messages: messageRows.length,
    ...(attachments ? { attachments: attachmentRows.length } : {}),
    ...(sources ? { message_sources: sourceRows.length } : {}),
  };
  return out;
}

/** Row count of a role's table. */
export async function countOf(db: Db, role: Role): Promise<number> {
  const [row] = await q<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM ${APP.role(role).table}`);
  return row?.n ?? 0;
}

/** The chats listed as empty (spacerr_jobs.empty_chats), sorted. */
export async function listedEmpty(db: Db): Promise<string[]> {
  return (await q<{ id: string }>(db, sql`SELECT chat_id AS id FROM spacerr_jobs.empty_chats ORDER BY 1`)).map((r) => r.id);
}

/** `UPDATE` of the user's deactivation time (null: reactivated), as the app writes it. */
export function setDeactivatedAt(userId: string, at: Date | null): ReturnType<typeof sql> {
  const user = APP.role('user');
  return sql`UPDATE ${user.table} SET ${user.col('deactivatedAt')} = ${at === null ? null : at.toISOString()} WHERE ${user.id} = ${userId} RETURNING ${user.id} AS id`;
}

/** `UPDATE` moving messages to another chat (the app's move). */
export function moveMessages(ids: string[], toChat: string): ReturnType<typeof sql> {
  const message = APP.role('message');
  return sql`UPDATE ${message.table} SET ${message.col('chatId')} = ${toChat} WHERE ${message.id} = ANY(${`{${ids.join(',')}}`}::text[]) RETURNING ${message.id} AS id`;
}

/** The messages still there, as [id, chatId], sorted by id. */
export async function messagesByChat(db: Db): Promise<Array<{ id: string; chatId: string }>> {
  const message = APP.role('message');
  return q(db, sql`SELECT ${message.id} AS id, ${message.col('chatId')} AS "chatId" FROM ${message.table} ORDER BY 1`);
}

/**
 * Per seeded chat `<id>-c<g>` (g < n) whose files are `blobs/<id>-c<g>-a0`: whether the chat, the
 * rows naming its file and its outbox entry are there. Whole is (chat, file rows, not queued),
 * gone is (no chat, no file row, queued once); anything else is a half-done delete.
 */
export async function wholeOrGone(db: Db, id: string, n: number, withFiles: boolean): Promise<number> {
  const chat = APP.role('chat');
  const fileRows = APP.has('attachment')
    ? sql`(SELECT count(*)::int FROM ${APP.role('attachment').table} a WHERE a.${APP.role('attachment').col('blobKey')} = k.key)`
    : sql`0`;
  const rows = await q<{ chat: boolean; files: number; queued: number }>(
    db,
    sql`SELECT EXISTS (SELECT 1 FROM ${chat.table} c WHERE c.${chat.id} = k.chat) AS chat, ${fileRows} AS files,
               (SELECT count(*)::int FROM spacerr_jobs.blob_deletions b WHERE b.blob_key = k.key) AS queued
        FROM (SELECT ${id} || '-c' || g AS chat, 'blobs/' || ${id} || '-c' || g || '-a0' AS key FROM generate_series(0, ${n - 1}::int) g) k`,
  );
  const file = withFiles && APP.has('attachment');
  for (const r of rows) expect([r.chat, r.files, r.queued]).toEqual([r.chat, r.chat && file ? 1 : 0, !r.chat && file ? 1 : 0]);
  return rows.filter((r) => !r.chat).length;
}
