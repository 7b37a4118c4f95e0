/**
 * What the Worker installs on the app's tables, generated from the app map (docs/contract.md, §3):
 * trigger functions in spacerr_jobs, the triggers that call them, and the indexes the jobs need.
 * `npm run db:migrate` applies these after drizzle's migrations (which own spacerr_jobs' tables),
 * each statement on its own under a short lock_timeout, indexes CONCURRENTLY
 * (scripts/db/install.ts), so an app write never waits long behind it.
 *
 * Rules every statement here keeps, so the app's own writes and migrations never fail:
 * - Functions are SECURITY DEFINER with a fixed search_path: they run with the Worker's rights,
 *   and an app role with DML rights on its own tables only can still write everything.
 * - A row-level update trigger names the columns it watches (`UPDATE OF …` and a `WHEN` comparing
 *   OLD and NEW), so Postgres calls no function and queues no event for any other update: a
 *   streamed `parts` update of a text message or an `updatedAt` bump costs the app nothing. That
 *   pins those columns' types (Postgres refuses `ALTER TABLE … ALTER COLUMN … TYPE` on them), so
 *   `npm run db:migrate -- --around "<the app's migrate command>"` swaps each such trigger for its
 *   unpinned form while the app's command runs (`unpinSteps`), then installs them again. Their
 *   functions compare OLD and NEW in their body too, so both forms do the same.
 * - App times are copied as instants with the map's rule (src/app-map/sql.ts): exact whatever
 *   the session's TimeZone.
 * Statement-level triggers with transition tables: one set-based statement per DELETE (and per
 * message INSERT, whose chats' locks must be taken in order), so a bulk delete of 100k rows costs
 * one INSERT … SELECT, not 100k trigger calls. A chat INSERT is row-level (see add_new_empty_chats).
 */
// `.ts`: the Node scripts (db:migrate, the doctor) import this file under Node's own resolution.
import { BLOB_PREFIXES_SETTING, USER_ID } from '../blobs/prefix-rules.ts';
import { ident, instantOf } from './sql.ts';
import type { AppMap, MappedTable, Role } from './types.ts';

/** Prefix of every trigger and index the Worker creates in the app's schema (uninstall finds them by it). */
export const OBJECT_PREFIX = 'spacerr_jobs_';

export interface InstallStep {
  /** What the step does, for the installer's log. */
  what: string;
  sql: string;
  /** Takes a lock on an app table: run under lock_timeout, retried. */
  locksAppTable?: string;
  /** `CREATE INDEX CONCURRENTLY`: outside any transaction, one statement at a time (split on `;\n`). */
  concurrently?: boolean;
  /** A query answering one row `{ present: boolean }`: the step is skipped when it is true. */
  unless?: string;
  /**
   * A backfill in keyset batches, each its own transaction: `lock` ($1: the last id so far, '' at
   * first) selects and locks the next batch's ids, `fill` ($1: those ids) writes on a fresh snapshot.
   */
  backfill?: { lock: string; fill: string };
  /** What the step leaves in the database, for `npm run doctor` to check (scripts/doctor/). */
  creates?: InstalledObject;
}

/** A function in spacerr_jobs, a trigger on an app table, or the need for an index led by a column. */
export type InstalledObject =
  | { kind: 'function'; name: string }
  | { kind: 'trigger'; name: string; table: string; function: string }
  | { kind: 'index'; name: string; table: string; column: string; partial?: string };

const W = 'spacerr_jobs';
/**
 * Chats per batch of the initial list of empty chats. A batch holds its chats FOR NO KEY UPDATE
 * until it commits, and an app insert of a message into one of them waits that long: a few ms.
 */
export const BACKFILL_BATCH = 250;

/** The triggers and functions of the layouts before the app map (drizzle/0001, 0003; drizzle/legacy). */
const OLD_TRIGGERS: Array<[trigger: string, table: string]> = [
  ['attachments_enqueue_blob_deletions', 'attachments'],
  ['attachments_enqueue_source_checks', 'attachments'],
  ['messages_mark_chats', 'messages'],
  ['messages_unmark_chats', 'messages'],
  ['chats_enqueue_stream_deletions', 'chats'],
  ['chats_add_empty_chats', 'chats'],
  ['messages_remove_empty_chats', 'messages'],
  ['messages_add_emptied_chats', 'messages'],
  ['chats_move_empty_chats', 'chats'],
  ['chats_truncate_empty_chats', 'chats'],
  ['messages_truncate_add_all_chats', 'messages'],
  ['chats_forget_deleted_chats', 'chats'],
  ['messages_moved_update_empty_chats', 'messages'],
];
const OLD_FUNCTIONS = [
  'public.enqueue_blob_deletions',
  'public.enqueue_message_source_checks',
  'public.mark_chats_with_messages',
  'public.unmark_emptied_chats',
  'public.enqueue_stream_deletions',
  `${W}.enqueue_blob_deletions`,
  `${W}.enqueue_message_source_checks`,
  `${W}.move_empty_chat`,
  `${W}.truncate_empty_chats`,
  `${W}.add_all_chats`,
  `${W}.update_empty_chats_for_moved_message`,
  `${W}.queue_message_source_checks`,
];

/** Every step, in order: old triggers out, functions, triggers, indexes, the initial list of empty chats. */
export function installSteps(map: AppMap): InstallStep[] {
  const n = names(map);
  const steps: InstallStep[] = [];
  const fns = functions(map, n);
  const list = emptyChatsComplete(n, fns);
  // Before any trigger is replaced: whether the triggers that keep the list stood all along.
  if (list) steps.push(list.forgetUnlessKept);
  for (const [trigger, table] of OLD_TRIGGERS) {
    steps.push({
      what: `drop the old trigger ${trigger}`,
      sql: `DO $$ BEGIN
  IF to_regclass('${map.schema}.${table}') IS NOT NULL THEN
    EXECUTE 'DROP TRIGGER IF EXISTS ${trigger} ON ${ident(map.schema)}.${ident(table)}';
  END IF;
END $$`,
      locksAppTable: table,
    });
  }
  for (const fn of OLD_FUNCTIONS) steps.push({ what: `drop the old function ${fn}`, sql: `DROP FUNCTION IF EXISTS ${fn}()` });

  for (const f of fns) {
    steps.push({ what: `function ${f.name}`, sql: f.sql, creates: { kind: 'function', name: f.name } });
    for (const t of f.triggers) {
      steps.push({
        what: `trigger ${t.name} on ${t.table}`,
        sql: createTrigger(n, t, f.name, { pinned: true }),
        locksAppTable: t.table,
        creates: { kind: 'trigger', name: t.name, table: t.table, function: f.name },
      });
    }
  }
  for (const index of indexes(map, n)) steps.push(index);
  if (list) {
    // After the triggers: from here on they keep the list; this lists the chats that are empty
    // now, in batches of BACKFILL_BATCH chats by id. Each batch takes its chats FOR NO KEY UPDATE
    // (as the triggers do: a first message in flight finishes first), then decides on a fresh
    // snapshot in a second statement, so no chat is listed with a committed message.
    const id = n.c('chat', 'id');
    steps.push({
      what: 'list the chats that are empty now',
      sql: '',
      locksAppTable: n.table('chat'),
      unless: list.isComplete,
      backfill: {
        lock: `SELECT c.${id} AS id FROM ${n.q('chat')} c WHERE c.${id} > $1 ORDER BY c.${id} LIMIT ${BACKFILL_BATCH} FOR NO KEY UPDATE`,
        fill: `INSERT INTO ${W}.empty_chats (chat_id, created_at)
SELECT c.${id}, ${n.instant('chat', 'createdAt', 'c')} FROM ${n.q('chat')} c
WHERE c.${id} = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM ${n.q('message')} m WHERE m.${n.c('message', 'chatId')} = c.${id})
ON CONFLICT (chat_id) DO NOTHING`,
      },
    });
    steps.push(list.record);
  }
  return steps;
}

/**
 * The list of empty chats is filled once. A backfill scans every chat (at 1M chats, 4000 batches
 * and about 20 s), and once it has committed with the triggers in place, those triggers keep the
 * list: a second `db:migrate`, and each `--around`, need not scan again. The fact is kept as the
 * comment of spacerr_jobs.empty_chats (gone with the schema on uninstall), naming the oids of the
 * chat and message tables, so a table the app dropped and created again is scanned again; and
 * the first step of an install forgets it unless every trigger that keeps the list is there and
 * enabled (a trigger dropped or disabled meanwhile may have missed chats).
 */
function emptyChatsComplete(n: Names, fns: FunctionSpec[]) {
  if (!n.has('chat') || !n.has('message')) return undefined;
  const table = `${W}.empty_chats`;
  // The triggers whose functions touch the list (a new one is counted without being named here).
  const touches = new RegExp(`${table.replace('.', '\\.')}\\b`);
  const keepers = fns.filter((f) => touches.test(f.sql)).flatMap((f) => f.triggers);
  const marker = `format('complete: chat %s, message %s', to_regclass(${literal(n.q('chat'))})::oid, to_regclass(${literal(n.q('message'))})::oid)`;
  const current = `obj_description(${literal(table)}::regclass, 'pg_class')`;
  const kept = keepers
    .map(
      (t) =>
        `EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = ${literal(t.name)} AND tgrelid = to_regclass(${literal(n.q(t.role))}) AND tgenabled <> 'D')`,
    )
    .join('\n      AND ');
  const isComplete = `SELECT ${current} IS NOT DISTINCT FROM ${marker} AS present`;
  return {
    forgetUnlessKept: {
      what: 'forget that the list of empty chats is complete, unless its triggers stood all along',
      sql: `DO $$ BEGIN
  IF ${current} IS NOT NULL AND NOT (${kept}) THEN
    COMMENT ON TABLE ${table} IS NULL;
  END IF;
END $$`,
    } satisfies InstallStep,
    isComplete,
    record: {
      what: 'record that the list of empty chats is complete',
      unless: isComplete,
      sql: `DO $$ BEGIN
  EXECUTE format('COMMENT ON TABLE ${table} IS %L', ${marker});
END $$`,
    } satisfies InstallStep,
  };
}

/**
 * For `npm run db:migrate -- --around`: each installed trigger that names columns, replaced in
 * place by its unpinned form (every UPDATE calls its function, whose body compares OLD and NEW),
 * so the app's migration may change those columns' types and no update goes unwatched meanwhile.
 * A trigger not installed (a first install) is left alone. `installSteps` pins them again.
 */
export function unpinSteps(map: AppMap): InstallStep[] {
  const n = names(map);
  return functions(map, n).flatMap((f) =>
    f.triggers
      .filter((t) => t.watches)
      .map((t) => ({
        what: `unpin the trigger ${t.name} on ${t.table}`,
        sql: `DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '${t.name}' AND tgrelid = to_regclass(${literal(t.on ?? n.q(t.role))})) THEN
    EXECUTE ${literal(createTrigger(n, t, f.name, { pinned: false }))};
  END IF;
END $$`,
        locksAppTable: t.table,
      })),
  );
}

/**
 * The `CREATE OR REPLACE TRIGGER` of `t`, calling `${W}.${fn}()`. Pinned, a trigger that watches
 * columns names them (`UPDATE OF … WHEN (…)`); unpinned, it fires on every event of its kind.
 */
function createTrigger(n: Names, t: TriggerSpec, fn: string, { pinned }: { pinned: boolean }): string {
  const watches = pinned ? t.watches : undefined;
  const event = watches ? `${t.when} OF ${watches.columns.join(', ')}` : t.when;
  const when = watches ? ` WHEN (${watches.condition})` : '';
  const referencing = t.referencing ? ` ${t.referencing}` : '';
  return `CREATE OR REPLACE TRIGGER ${t.name} ${event} ON ${t.on ?? n.q(t.role)}${referencing} FOR EACH ${t.level}${when} EXECUTE FUNCTION ${W}.${fn}()`;
}

/** `text` as an SQL string literal. */
const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** Everything `installSteps` created in the app's schema, and the Worker's schema itself. */
export function uninstallSteps(map: AppMap): InstallStep[] {
  const drop = `DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
           JOIN pg_namespace s ON s.oid = c.relnamespace
           WHERE s.nspname = '${map.schema}' AND t.tgname LIKE '${OBJECT_PREFIX}%' AND NOT t.tgisinternal LOOP
    EXECUTE format('DROP TRIGGER %I ON %I.%I', r.tgname, '${map.schema}', r.relname);
  END LOOP;
  FOR r IN SELECT c.relname FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
           WHERE s.nspname = '${map.schema}' AND c.relkind = 'i' AND c.relname LIKE '${OBJECT_PREFIX}%' LOOP
    EXECUTE format('DROP INDEX %I.%I', '${map.schema}', r.relname);
  END LOOP;
END $$`;
  return [
    { what: "drop the Worker's triggers and indexes on the app's tables", sql: drop },
    { what: `drop schema ${W} (its tables, functions and migration journal)`, sql: `DROP SCHEMA IF EXISTS ${W} CASCADE` },
  ];
}

interface Names {
  q(role: Role): string;
  c(role: Role, logical: string): string;
  has(role: Role, logical?: string): boolean;
  instant(role: Role, logical: string, alias: string): string;
  table(role: Role): string;
}

function names(map: AppMap): Names {
  const t = (role: Role): MappedTable => {
    const table = map.roles[role];
    if (!table) throw new Error(`the app map has no ${role}`);
    return table;
  };
  const col = (role: Role, logical: string) => (logical === 'id' ? t(role).id : t(role).columns[logical]);
  return {
    q: (role) => `${ident(map.schema)}.${ident(t(role).table)}`,
    c: (role, logical) => {
      const c = col(role, logical);
      if (!c) throw new Error(`the app map's ${role} has no ${logical}`);
      return ident(c.name);
    },
    has: (role, logical) => map.roles[role] !== undefined && (logical === undefined || col(role, logical) !== undefined),
    instant: (role, logical, alias) => instantOf(`${alias}.${ident(col(role, logical)!.name)}`, col(role, logical)!),
    table: (role) => t(role).table,
  };
}

interface TriggerSpec {
  name: string;
  role: Role;
  table: string;
  /** The qualified table, for a trigger on a table the map names outside the roles. */
  on?: string;
  when: string;
  level: 'ROW' | 'STATEMENT';
  referencing?: string;
  /**
   * A row-level UPDATE trigger fired only when one of these columns (quoted) is set and
   * `condition` holds for OLD and NEW: Postgres evaluates it before calling or queueing anything.
   */
  watches?: { columns: string[]; condition: string };
}

interface FunctionSpec {
  name: string;
  sql: string;
  triggers: TriggerSpec[];
}

function fn(name: string, body: string): string {
  return `CREATE OR REPLACE FUNCTION ${W}.${name}() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
${body}
  RETURN NULL;
END $fn$`;
}

function trigger(n: Names, role: Role, what: string, when: string, level: 'ROW' | 'STATEMENT', referencing?: string): TriggerSpec {
  return { name: `${OBJECT_PREFIX}${what}`, role, table: n.table(role), when, level, referencing };
}

/** A row-level AFTER UPDATE trigger fired only when `condition` holds after one of `columns` was set. */
function updateTrigger(n: Names, role: Role, what: string, columns: string[], condition: string): TriggerSpec {
  return { ...trigger(n, role, what, 'AFTER UPDATE', 'ROW'), watches: { columns, condition } };
}

/** OLD and NEW differ in `column` (quoted). */
const changed = (column: string) => `OLD.${column} IS DISTINCT FROM NEW.${column}`;

/**
 * The re-arming upsert into the blob outbox: `select` gives (key, owner). A key queued again is a
 * new object: due now, fresh count, its store set again by its first claim.
 */
function queueBlobs(select: string): string {
  return `  INSERT INTO ${W}.blob_deletions (blob_key, owner_id)
  ${select}
  ON CONFLICT (blob_key) DO UPDATE
    SET enqueued_at = now(), attempts = 0, next_attempt_at = now(), last_error = NULL, parked_at = NULL,
        store = NULL, owner_id = EXCLUDED.owner_id;`;
}

/**
 * The owner of a chat, as text, while the chat exists (NULL in a cascade that deletes the chat
 * too: its row is gone by the time the statement's triggers run). One primary-key probe.
 */
function chatOwner(n: Names, chatIdRef: string): string {
  return `(SELECT c.${n.c('chat', 'userId')}::text FROM ${n.q('chat')} c WHERE c.${n.c('chat', 'id')} = ${chatIdRef})`;
}

/** File parts' stored pathnames in a `parts` JSONB (the AI SDK's UI message parts, Spacerr's storage metadata). */
function filePathnames(partsRef: string): string {
  return `jsonb_path_query(CASE jsonb_typeof(${partsRef}) WHEN 'array' THEN ${partsRef} ELSE '[]'::jsonb END,
    '$[*] ? (@.type == "file").providerMetadata.storage.pathname ? (@.type() == "string")') #>> '{}'`;
}

function functions(map: AppMap, n: Names): FunctionSpec[] {
  const out: FunctionSpec[] = [];
  const hasChat = n.has('chat') && n.has('message');

  // 1. The blob outbox: whenever rows naming a stored file disappear, their keys are queued in the
  // same transaction: never orphaned (committed with the delete), never deleted early.
  if (n.has('attachment')) {
    out.push({
      name: 'queue_attachment_blobs',
      sql: fn(
        'queue_attachment_blobs',
        queueBlobs(
          `SELECT DISTINCT ON (${n.c('attachment', 'blobKey')}) ${n.c('attachment', 'blobKey')}, ${n.c('attachment', 'userId')}::text FROM deleted_rows WHERE ${n.c('attachment', 'blobKey')} IS NOT NULL`,
        ),
      ),
      triggers: [trigger(n, 'attachment', 'attachment_blobs', 'AFTER DELETE', 'STATEMENT', 'REFERENCING OLD TABLE AS deleted_rows')],
    });
    // TRUNCATE fires no DELETE trigger, and after it the rows are gone: BEFORE, every key goes to
    // the outbox (a full scan, as rare as the TRUNCATE; a TRUNCATE … CASCADE fires it too).
    out.push({
      name: 'attachments_truncating',
      sql: fn(
        'attachments_truncating',
        queueBlobs(
          `SELECT DISTINCT ON (${n.c('attachment', 'blobKey')}) ${n.c('attachment', 'blobKey')}, ${n.c('attachment', 'userId')}::text FROM ${n.q('attachment')} WHERE ${n.c('attachment', 'blobKey')} IS NOT NULL`,
        ),
      ),
      triggers: [trigger(n, 'attachment', 'attachment_truncating', 'BEFORE TRUNCATE', 'STATEMENT')],
    });
  }
  if (n.has('message', 'parts')) {
    out.push({
      name: 'queue_message_part_blobs',
      sql: fn(
        'queue_message_part_blobs',
        queueBlobs(
          `SELECT DISTINCT ON (p) p, ${n.has('chat') ? chatOwner(n, `d.${n.c('message', 'chatId')}`) : 'NULL'} FROM deleted_rows d, LATERAL (SELECT ${filePathnames(`d.${n.c('message', 'parts')}`)} AS p) f WHERE p IS NOT NULL`,
        ),
      ),
      triggers: [trigger(n, 'message', 'message_part_blobs', 'AFTER DELETE', 'STATEMENT', 'REFERENCING OLD TABLE AS deleted_rows')],
    });
    out.push({
      name: 'messages_truncating',
      sql: fn(
        'messages_truncating',
        queueBlobs(
          `SELECT DISTINCT ON (p) p, ${n.has('chat') ? chatOwner(n, `d.${n.c('message', 'chatId')}`) : 'NULL'} FROM ${n.q('message')} d, LATERAL (SELECT ${filePathnames(`d.${n.c('message', 'parts')}`)} AS p) f WHERE p IS NOT NULL`,
        ),
      ),
      triggers: [trigger(n, 'message', 'message_truncating', 'BEFORE TRUNCATE', 'STATEMENT')],
    });
  }
  if (n.has('messageSource', 'pathname')) {
    const p = n.c('messageSource', 'pathname');
    const owner = (row: string) =>
      n.has('messageSource', 'chatId') && n.has('chat') ? chatOwner(n, `${row}.${n.c('messageSource', 'chatId')}`) : 'NULL';
    out.push({
      name: 'queue_message_source_blobs',
      sql: fn(
        'queue_message_source_blobs',
        queueBlobs(`SELECT DISTINCT ON (${p}) ${p}, ${owner('d')} FROM deleted_rows d WHERE ${p} IS NOT NULL`),
      ),
      triggers: [trigger(n, 'messageSource', 'message_source_blobs', 'AFTER DELETE', 'STATEMENT', 'REFERENCING OLD TABLE AS deleted_rows')],
    });
    out.push({
      name: 'message_sources_truncating',
      sql: fn(
        'message_sources_truncating',
        queueBlobs(`SELECT DISTINCT ON (${p}) ${p}, ${owner('d')} FROM ${n.q('messageSource')} d WHERE ${p} IS NOT NULL`),
      ),
      triggers: [trigger(n, 'messageSource', 'message_source_truncating', 'BEFORE TRUNCATE', 'STATEMENT')],
    });
    // A source whose pathname the app changes no longer names the old file.
    out.push({
      name: 'message_source_updated',
      sql: fn(
        'message_source_updated',
        `  IF ${changed(p)} AND OLD.${p} IS NOT NULL THEN
  ${queueBlobs(`VALUES (OLD.${p}, ${owner('OLD')})`)}
  END IF;`,
      ),
      triggers: [updateTrigger(n, 'messageSource', 'message_source_updated', [p], `${changed(p)} AND OLD.${p} IS NOT NULL`)],
    });
  }

  if (hasChat) {
    const chatId = n.c('chat', 'id');
    const msgChat = n.c('message', 'chatId');
    const chatCreated = n.c('chat', 'createdAt');
    // 2. spacerr_jobs.empty_chats, the indexable form of "this chat has no message", kept without
    // a column on the app's table. A chat is empty when created; its first message deletes its row
    // inside the inserting transaction, and that row delete is what the empty-chat job's lock
    // conflicts with (the argument is next to that job's SQL in src/jobs/). Row-level: the app
    // creates one chat at a time, and a row trigger fills no transition table (cheaper per chat
    // than the statement-level form); it takes no lock, so rows in any order are safe.
    out.push({
      name: 'add_new_empty_chats',
      sql: fn(
        'add_new_empty_chats',
        `  INSERT INTO ${W}.empty_chats (chat_id, created_at)
  VALUES (NEW.${chatId}, ${n.instant('chat', 'createdAt', 'NEW')})
  ON CONFLICT (chat_id) DO UPDATE SET created_at = EXCLUDED.created_at;`,
      ),
      triggers: [trigger(n, 'chat', 'chat_inserted', 'AFTER INSERT', 'ROW')],
    });
    // Every trigger that decides whether a chat is empty first takes the chat row FOR NO KEY
    // UPDATE, so two transactions deciding about the same chat take turns, and the one that waited
    // decides on a fresh snapshot (each statement of a volatile function takes its own under READ
    // COMMITTED). Without it, a transaction deleting a chat's last message cannot see a first
    // message another is inserting, nor that one the empty_chats row the first is adding: both
    // commit, and the chat is listed as empty while it holds a message. With it, a listed chat
    // never holds a committed message, which is what the empty-chat job's locking argument rests
    // on. NO KEY UPDATE does not conflict with the KEY SHARE of the app's foreign-key checks, only
    // with another such decision (or an UPDATE of the chat row) in flight on the same chat. A row
    // lock, not an advisory one: it lives in the row, so a bulk delete of messages across 100k
    // chats takes 100k of them without filling Postgres' shared lock table (an advisory lock per
    // chat would: "out of shared memory"), and a chat deleted in the same transaction is not locked.
    const lockChats = (ids: string) =>
      `  PERFORM 1 FROM ${n.q('chat')} c WHERE c.${chatId} = ANY(ARRAY(${ids})) ORDER BY c.${chatId} FOR NO KEY UPDATE;`;
    // The chat ids as the rows carry them, one per message: a btree search on `= ANY(array)`
    // sorts and deduplicates the array itself (the lock's ORDER BY gives the order), so a DISTINCT
    // would only add a sort to every insert of the app's one message.
    out.push({
      name: 'remove_chats_with_messages',
      sql: fn(
        'remove_chats_with_messages',
        `${lockChats(`SELECT ${msgChat} FROM inserted_rows`)}
  DELETE FROM ${W}.empty_chats
  WHERE chat_id = ANY(ARRAY(SELECT ${msgChat} FROM inserted_rows));`,
      ),
      triggers: [trigger(n, 'message', 'message_inserted', 'AFTER INSERT', 'STATEMENT', 'REFERENCING NEW TABLE AS inserted_rows')],
    });
    out.push({
      name: 'add_emptied_chats',
      sql: fn(
        'add_emptied_chats',
        `${lockChats(`SELECT DISTINCT ${msgChat} FROM deleted_rows`)}
  -- A chat whose last message was deleted is empty again. During a chat's own cascade the chat
  -- row is already gone and this adds nothing.
  INSERT INTO ${W}.empty_chats (chat_id, created_at)
  SELECT c.${chatId}, ${n.instant('chat', 'createdAt', 'c')} FROM ${n.q('chat')} c
  WHERE c.${chatId} = ANY(ARRAY(SELECT DISTINCT ${msgChat} FROM deleted_rows))
    AND NOT EXISTS (SELECT 1 FROM ${n.q('message')} m WHERE m.${msgChat} = c.${chatId})
  ON CONFLICT (chat_id) DO NOTHING;`,
      ),
      triggers: [trigger(n, 'message', 'message_deleted', 'AFTER DELETE', 'STATEMENT', 'REFERENCING OLD TABLE AS deleted_rows')],
    });
    // A chat whose created_at or id the app changes keeps its row in step. Row-level (Postgres
    // allows no transition table with a column list); any other update of a chat (an `updatedAt`
    // bump, a title) fires nothing.
    out.push({
      name: 'chat_updated',
      sql: fn(
        'chat_updated',
        `  IF ${changed(chatId)} THEN
    UPDATE ${W}.empty_chats SET chat_id = NEW.${chatId} WHERE chat_id = OLD.${chatId};
  END IF;
  IF ${changed(chatCreated)} THEN
    UPDATE ${W}.empty_chats SET created_at = ${n.instant('chat', 'createdAt', 'NEW')} WHERE chat_id = NEW.${chatId};
  END IF;`,
      ),
      triggers: [updateTrigger(n, 'chat', 'chat_updated', [chatId, chatCreated], `${changed(chatId)} OR ${changed(chatCreated)}`)],
    });
    // A message moved to another chat is, for the list, a message inserted into the chat it moves
    // to and deleted from the chat it leaves. AFTER ROW triggers fire once the whole UPDATE is
    // done, so the NOT EXISTS sees every row it moved.
    out.push({
      name: 'message_updated',
      sql: fn(
        'message_updated',
        `  IF ${changed(msgChat)} THEN
  ${lockChats(`VALUES (NEW.${msgChat}), (OLD.${msgChat})`)}
    DELETE FROM ${W}.empty_chats WHERE chat_id = NEW.${msgChat};
    INSERT INTO ${W}.empty_chats (chat_id, created_at)
    SELECT c.${chatId}, ${n.instant('chat', 'createdAt', 'c')} FROM ${n.q('chat')} c
    WHERE c.${chatId} = OLD.${msgChat}
      AND NOT EXISTS (SELECT 1 FROM ${n.q('message')} m WHERE m.${msgChat} = c.${chatId})
    ON CONFLICT (chat_id) DO NOTHING;
  END IF;`,
      ),
      triggers: [updateTrigger(n, 'message', 'message_updated', [msgChat], changed(msgChat))],
    });
    // A message whose parts the app edits so that a file part goes (or names another file) no
    // longer names the old file: queued. A trigger of its own, whose WHEN is the one containment
    // test "did the old parts hold a file part": a streamed update of a text message costs that
    // test, evaluated by Postgres itself (no function called), and nothing else. Containment, not
    // the jsonpath `$[*] ? (@.type == "file")`: the same answer for an array of parts
    // (filePathnames reads nothing else), and cheaper; and nothing more in the WHEN, whose
    // expression Postgres prepares again for every UPDATE statement: one trigger for the chat id
    // and the parts, its WHEN comparing both, cost a parts update more (bench/README.md, "App
    // writes"). The body compares OLD and NEW (its unpinned form fires on every update).
    if (n.has('message', 'parts')) {
      const parts = n.c('message', 'parts');
      const heldFile = `OLD.${parts} @> '[{"type": "file"}]'`;
      out.push({
        name: 'message_parts_edited',
        sql: fn(
          'message_parts_edited',
          `  IF ${heldFile} AND ${changed(parts)} THEN
  ${queueBlobs(`SELECT p, ${chatOwner(n, `OLD.${msgChat}`)} FROM (SELECT ${filePathnames(`OLD.${parts}`)} AS p
    EXCEPT SELECT ${filePathnames(`NEW.${parts}`)}) o WHERE p IS NOT NULL`)}
  END IF;`,
        ),
        triggers: [updateTrigger(n, 'message', 'message_parts_edited', [parts], heldFile)],
      });
    }
    // TRUNCATE fires no DELETE trigger: a truncated chat table empties the list, and truncated
    // messages make every chat empty again (a full scan, as rare as the TRUNCATE).
    // Before a TRUNCATE of chats, the chats that had messages (not listed empty) go to the stream
    // queue, as their DELETE would have sent them.
    out.push({
      name: 'chats_truncating',
      sql: fn(
        'chats_truncating',
        `  INSERT INTO ${W}.stream_deletions (chat_id)
  SELECT c.${chatId} FROM ${n.q('chat')} c
  WHERE NOT EXISTS (SELECT 1 FROM ${W}.empty_chats e WHERE e.chat_id = c.${chatId})
  ON CONFLICT (chat_id) DO NOTHING;`,
      ),
      triggers: [trigger(n, 'chat', 'chat_truncating', 'BEFORE TRUNCATE', 'STATEMENT')],
    });
    out.push({
      name: 'chats_truncated',
      sql: fn('chats_truncated', `  TRUNCATE ${W}.empty_chats;`),
      triggers: [trigger(n, 'chat', 'chat_truncated', 'AFTER TRUNCATE', 'STATEMENT')],
    });
    out.push({
      name: 'messages_truncated',
      sql: fn(
        'messages_truncated',
        `  INSERT INTO ${W}.empty_chats (chat_id, created_at)
  SELECT c.${chatId}, ${n.instant('chat', 'createdAt', 'c')} FROM ${n.q('chat')} c
  ON CONFLICT (chat_id) DO NOTHING;`,
      ),
      triggers: [trigger(n, 'message', 'message_truncated', 'AFTER TRUNCATE', 'STATEMENT')],
    });
    // 3. Deleted chats: their empty_chats rows go, and only a chat that had messages can have had
    // a stream: those are queued in stream_deletions, so their stream state in Redis is removed
    // without scanning the keyspace. One function, because the order matters: queue, then forget.
    out.push({
      name: 'forget_deleted_chats',
      sql: fn(
        'forget_deleted_chats',
        `  WITH emptied AS (
    DELETE FROM ${W}.empty_chats
    WHERE chat_id = ANY(ARRAY(SELECT ${chatId} FROM deleted_rows))
    RETURNING chat_id
  )
  INSERT INTO ${W}.stream_deletions (chat_id)
  SELECT ${chatId} FROM deleted_rows WHERE ${chatId} NOT IN (SELECT chat_id FROM emptied)
  ON CONFLICT (chat_id) DO NOTHING;`,
      ),
      triggers: [trigger(n, 'chat', 'chat_deleted', 'AFTER DELETE', 'STATEMENT', 'REFERENCING OLD TABLE AS deleted_rows')],
    });
  }

  // 4. An attachments row updated: a changed blob key no longer names the old file (queued); and
  // one moved to another message may leave message sources pointing at it from the old message,
  // queued for the orphaned-sources job, which re-checks before deleting.
  if (n.has('attachment')) {
    const key = n.c('attachment', 'blobKey');
    const keyChanged = `${changed(key)} AND OLD.${key} IS NOT NULL`;
    const messageId =
      n.has('attachment', 'messageId') && n.has('messageSource', 'attachmentId') ? n.c('attachment', 'messageId') : undefined;
    const moved = messageId ? `OLD.${messageId} IS NOT NULL AND ${changed(messageId)}` : undefined;
    const checks = moved
      ? `  IF ${moved} THEN
    INSERT INTO ${W}.message_source_checks (attachment_id) VALUES (NEW.${n.c('attachment', 'id')})
    ON CONFLICT (attachment_id) DO NOTHING;
  END IF;
`
      : '';
    out.push({
      name: 'attachment_updated',
      sql: fn(
        'attachment_updated',
        `${checks}  IF ${keyChanged} THEN
  ${queueBlobs(`VALUES (OLD.${key}, OLD.${n.c('attachment', 'userId')}::text)`)}
  END IF;`,
      ),
      triggers: [
        updateTrigger(
          n,
          'attachment',
          'attachment_updated',
          messageId ? [key, messageId] : [key],
          moved ? `(${moved}) OR (${keyChanged})` : keyChanged,
        ),
      ],
    });
  }
  // 5. The Stripe outbox: a deleted row that names a Stripe customer (the user's own, or a billing
  // row that cascades with it) queues that customer in the same transaction, with its user as the
  // owner. ON CONFLICT DO NOTHING: a customer named by both the user and its billing row is queued
  // once, and one already deleted at Stripe stays done. TRUNCATE queues nothing: Stripe customers
  // are deleted for row deletions only (a TRUNCATE is a reset, not an erasure).
  for (const place of map.stripeCustomers ?? []) {
    const slug = place.table.toLowerCase().replace(/[^a-z0-9_]/g, '_');
    const name = `queue_stripe_customers_${slug}`.slice(0, 63);
    out.push({
      name,
      sql: fn(
        name,
        `  BEGIN
    INSERT INTO ${W}.stripe_customer_deletions (customer_id, owner_id)
    SELECT d.customer_id, d.owner_id
    FROM (SELECT ${ident(place.column.name)}::text AS customer_id, ${ident(place.owner.name)}::text AS owner_id FROM deleted_rows) d
    WHERE d.customer_id IS NOT NULL AND d.customer_id <> ''
    ON CONFLICT (customer_id) DO NOTHING;
  EXCEPTION WHEN undefined_column THEN
    -- The app dropped or renamed the column since the map: its DELETE goes on; the Worker's drift
    -- check (src/app-map/drift.ts) stops the jobs until the map is derived again.
    RAISE WARNING 'spacerr_jobs: %.% has no column the app map names for Stripe customers; run npm run map, then npm run db:migrate',
      TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END;`,
      ),
      triggers: [
        {
          name: `${OBJECT_PREFIX}stripe_customers`,
          role: 'user',
          table: place.table,
          on: `${ident(map.schema)}.${ident(place.table)}`,
          when: 'AFTER DELETE',
          level: 'STATEMENT',
          referencing: 'REFERENCING OLD TABLE AS deleted_rows',
        },
      ],
    });
  }
  // 6. The per-user sweeps (src/files/blob-sweeps.ts): a deleted user — by the Worker's account
  // batch or by the app's own DELETE — gets one sweep per prefix the map names, in the same
  // transaction, with no store (BLOB_STORE is the Worker's; the sweep's first claim sets it). An
  // id holding a `/` is left out: its prefix could lie inside another user's
  // (src/blobs/prefix-rules.ts). One sweep per user and prefix: a second deletion of the same id
  // (an id the app gave again) runs a finished sweep again, its counts adding up; one not finished
  // is left as it is.
  const templates = blobPrefixTemplates(map);
  if (templates.length > 0 && n.has('user')) {
    const list = templates.map(literal).join(', ');
    out.push({
      name: 'queue_blob_sweeps',
      sql: fn(
        'queue_blob_sweeps',
        `  BEGIN
    INSERT INTO ${W}.blob_sweeps (owner_id, prefix)
    SELECT d.id, replace(t.template, '${USER_ID}', d.id)
    FROM (SELECT ${n.c('user', 'id')}::text AS id FROM deleted_rows) d
    CROSS JOIN unnest(ARRAY[${list}]::text[]) AS t(template)
    WHERE strpos(d.id, '/') = 0
    ON CONFLICT (owner_id, prefix) DO UPDATE
      SET cursor = NULL, store = NULL, attempts = 0, next_attempt_at = now(), last_error = NULL, parked_at = NULL,
          finished_at = NULL
      WHERE ${W}.blob_sweeps.finished_at IS NOT NULL;
  EXCEPTION WHEN undefined_column THEN
    -- The app renamed its id column since the map: its DELETE goes on; the Worker's drift check
    -- (src/app-map/drift.ts) stops the jobs until the map is derived again.
    RAISE WARNING 'spacerr_jobs: %.% has no column the app map names as its id; run npm run map, then npm run db:migrate',
      TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END;`,
      ),
      triggers: [trigger(n, 'user', 'blob_sweeps', 'AFTER DELETE', 'STATEMENT', 'REFERENCING OLD TABLE AS deleted_rows')],
    });
  }
  return out;
}

/** The map's per-user prefix templates (`npm run map` checked them: src/blobs/prefix-rules.ts). */
function blobPrefixTemplates(map: AppMap): string[] {
  const raw = map.settings[BLOB_PREFIXES_SETTING];
  return Array.isArray(raw) ? raw.filter((t): t is string => typeof t === 'string') : [];
}

/**
 * The indexes the jobs need on the app's tables: the foreign keys the cascades follow probe by
 * probe, the deactivation time and the chats naming an active stream. Created only where no index of the app's already leads with
 * that column (Prisma's `@@index([userId, updatedAt])` serves `userId`), CONCURRENTLY.
 */
function indexes(map: AppMap, n: Names): InstallStep[] {
  const wanted: Array<[Role, string, string?]> = [
    ['user', 'deactivatedAt', 'IS NOT NULL'],
    ['project', 'userId'],
    ['chat', 'userId'],
    ['chat', 'projectId'],
    // The stream cleanup's candidates: the few chats naming an active stream (partial, so tiny).
    ['chat', 'activeStreamId', 'IS NOT NULL'],
    ['message', 'chatId'],
    ['messageSource', 'messageId'],
    ['messageSource', 'chatId'],
    ['messageSource', 'attachmentId'],
    ['messageSource', 'pathname'],
    ['attachment', 'blobKey'],
    ['attachment', 'userId'],
    ['attachment', 'projectId'],
    ['attachment', 'chatId'],
    ['attachment', 'messageId'],
  ];
  const steps: InstallStep[] = [];
  // The orphaned-sources job's only access path: sources whose attachment is gone (SET NULL). Tiny.
  if (n.has('messageSource', 'attachmentId') && n.has('attachment')) {
    const table = map.roles.messageSource!;
    const name = `${OBJECT_PREFIX}${table.table}_orphaned_idx`.slice(0, 63);
    steps.push({
      what: `index ${name}`,
      unless: `SELECT to_regclass('${ident(map.schema)}.${ident(name)}') IS NOT NULL AS present`,
      sql: `CREATE INDEX CONCURRENTLY ${ident(name)} ON ${ident(map.schema)}.${ident(table.table)} (${ident(table.id.name)}) WHERE ${ident(table.columns.attachmentId!.name)} IS NULL`,
      concurrently: true,
      creates: {
        kind: 'index',
        name,
        table: table.table,
        column: table.id.name,
        partial: `${ident(table.columns.attachmentId!.name)} IS NULL`,
      },
    });
  }
  // Physical (table, column): the roles' columns above, then every foreign key column the
  // cascades of a user's deletion follow (sessions, accounts, billing rows, …: each deleted user
  // probes them), and the blocking keys the account job checks. One index per column.
  const physical = new Map<string, [table: string, column: string, partial?: string]>();
  for (const [role, logical, partial] of wanted) {
    if (!n.has(role, logical)) continue;
    const table = map.roles[role]!;
    const column = logical === 'id' ? table.id.name : table.columns[logical]!.name;
    physical.set(`${table.table}.${column}`, [table.table, column, partial]);
  }
  for (const key of [...map.relations, ...map.userReferences]) {
    if (map.relationMode !== 'foreignKeys' || key.columns.length === 0) continue;
    const id = `${key.table}.${key.columns[0]}`;
    if (!physical.has(id)) physical.set(id, [key.table, key.columns[0]!]);
  }
  for (const [table, column, partial] of physical.values()) {
    const name = `${OBJECT_PREFIX}${table}_${column}_idx`.slice(0, 63);
    const where = partial ? ` WHERE ${ident(column)} ${partial}` : '';
    steps.push({
      what: `index ${name}`,
      // Skipped where a valid index of the table already leads with the column (the app's own, or ours).
      unless: `SELECT EXISTS (
  SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
  WHERE i.indrelid = '${ident(map.schema)}.${ident(table)}'::regclass AND a.attname = ${literal(column)} AND i.indisvalid
) AS present`,
      // An invalid one is what an interrupted CONCURRENTLY leaves behind: dropped, then built again.
      sql: `DROP INDEX CONCURRENTLY IF EXISTS ${ident(map.schema)}.${ident(name)};
CREATE INDEX CONCURRENTLY ${ident(name)} ON ${ident(map.schema)}.${ident(table)} (${ident(column)})${where}`,
      concurrently: true,
      creates: { kind: 'index', name, table, column, ...(partial && { partial: `${ident(column)} ${partial}` }) },
    });
  }
  return steps;
}
