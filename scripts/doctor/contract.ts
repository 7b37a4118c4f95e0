/**
 * What the jobs rely on in the app's database (docs/contract.md, §2–3), as data the doctor checks:
 * the app's tables and columns, the foreign keys' ON DELETE rules, the indexes on the app's tables,
 * and the Worker's triggers. Each entry carries its fix: SQL, and the Prisma schema line where one
 * exists.
 */

export const APP_SCHEMA = 'public';

export type PgType = 'text' | 'timestamp with time zone' | 'jsonb' | 'bigint';

/** The columns the Worker reads or deletes by, with the type it expects. */
export const TABLES: Record<string, Record<string, PgType>> = {
  users: { id: 'text', email: 'text', created_at: 'timestamp with time zone', deactivated_at: 'timestamp with time zone' },
  projects: { id: 'text', user_id: 'text', created_at: 'timestamp with time zone' },
  chats: { id: 'text', user_id: 'text', project_id: 'text', created_at: 'timestamp with time zone' },
  messages: { id: 'text', chat_id: 'text', created_at: 'timestamp with time zone' },
  attachments: {
    id: 'text',
    user_id: 'text',
    project_id: 'text',
    chat_id: 'text',
    message_id: 'text',
    blob_key: 'text',
    created_at: 'timestamp with time zone',
  },
  message_sources: { id: 'text', message_id: 'text', attachment_id: 'text', created_at: 'timestamp with time zone' },
};

const PRISMA_TYPES: Record<PgType, string> = {
  text: 'String',
  'timestamp with time zone': 'DateTime @db.Timestamptz(6)',
  jsonb: 'Json',
  bigint: 'BigInt',
};

export function prismaField(column: string, type: PgType): string {
  const field = column.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  return `${field} ${PRISMA_TYPES[type]}${field === column ? '' : ` @map("${column}")`}`;
}

export interface ForeignKey {
  table: string;
  column: string;
  references: string;
  onDelete: 'CASCADE' | 'SET NULL';
  /** The Prisma relation field, on the model of `table`. */
  prisma: string;
}

/**
 * The cascades do the deleting: a batch deletes users (or chats) and these take everything they
 * own in the same transaction. SET NULL where the jobs expect to find an orphan afterwards.
 */
export const FOREIGN_KEYS: ForeignKey[] = [
  fk('projects', 'user_id', 'users', 'CASCADE', 'user User @relation(fields: [userId], references: [id], onDelete: Cascade)'),
  fk('chats', 'user_id', 'users', 'CASCADE', 'user User @relation(fields: [userId], references: [id], onDelete: Cascade)'),
  fk('chats', 'project_id', 'projects', 'CASCADE', 'project Project? @relation(fields: [projectId], references: [id], onDelete: Cascade)'),
  fk('messages', 'chat_id', 'chats', 'CASCADE', 'chat Chat @relation(fields: [chatId], references: [id], onDelete: Cascade)'),
  fk('attachments', 'user_id', 'users', 'CASCADE', 'user User @relation(fields: [userId], references: [id], onDelete: Cascade)'),
  fk(
    'attachments',
    'project_id',
    'projects',
    'CASCADE',
    'project Project? @relation(fields: [projectId], references: [id], onDelete: Cascade)',
  ),
  fk('attachments', 'chat_id', 'chats', 'CASCADE', 'chat Chat? @relation(fields: [chatId], references: [id], onDelete: Cascade)'),
  fk(
    'attachments',
    'message_id',
    'messages',
    'SET NULL',
    'message Message? @relation(fields: [messageId], references: [id], onDelete: SetNull)',
  ),
  fk(
    'message_sources',
    'message_id',
    'messages',
    'CASCADE',
    'message Message @relation(fields: [messageId], references: [id], onDelete: Cascade)',
  ),
  fk(
    'message_sources',
    'attachment_id',
    'attachments',
    'SET NULL',
    'attachment Attachment? @relation(fields: [attachmentId], references: [id], onDelete: SetNull)',
  ),
];

function fk(table: string, column: string, references: string, onDelete: ForeignKey['onDelete'], prisma: string): ForeignKey {
  return { table, column, references, onDelete, prisma };
}

export interface IndexNeed {
  name: string;
  table: string;
  column: string;
  /** Partial indexes: the predicate. Any btree index led by `column` serves the job as well. */
  where?: string;
  /** The @@index line, where Prisma's schema can declare it. */
  prisma?: string;
  why: string;
}

export const INDEXES: IndexNeed[] = [
  {
    name: 'users_deactivated_at_idx',
    table: 'users',
    column: 'deactivated_at',
    where: 'deactivated_at IS NOT NULL',
    why: 'accounts past retention',
  },
  idx('projects', 'user_id', 'userId'),
  idx('chats', 'user_id', 'userId'),
  idx('chats', 'project_id', 'projectId'),
  idx('messages', 'chat_id', 'chatId'),
  idx('attachments', 'user_id', 'userId'),
  idx('attachments', 'project_id', 'projectId'),
  idx('attachments', 'chat_id', 'chatId'),
  idx('attachments', 'message_id', 'messageId'),
  idx('message_sources', 'message_id', 'messageId'),
  idx('message_sources', 'attachment_id', 'attachmentId'),
  {
    name: 'message_sources_orphaned_idx',
    table: 'message_sources',
    column: 'id',
    where: 'attachment_id IS NULL',
    why: 'orphaned sources',
  },
];

function idx(table: string, column: string, field: string): IndexNeed {
  return { name: `${table}_${column}_idx`, table, column, prisma: `@@index([${field}])`, why: 'the cascades of a batch delete' };
}

export function createIndexSql(need: IndexNeed): string {
  const where = need.where ? ` WHERE ${need.where}` : '';
  return `CREATE INDEX CONCURRENTLY IF NOT EXISTS ${need.name} ON ${APP_SCHEMA}.${need.table} (${need.column})${where};`;
}

export interface TriggerNeed {
  table: string;
  name: string;
  /** As in the migration of drizzle/ that creates it (0001_app_triggers.sql, 0003_messages_moved.sql). */
  create: string;
}

const T = (table: string, name: string, create: string): TriggerNeed => ({ table, name, create });

export const TRIGGERS: TriggerNeed[] = [
  T(
    'attachments',
    'attachments_enqueue_blob_deletions',
    'CREATE TRIGGER attachments_enqueue_blob_deletions AFTER DELETE ON public.attachments REFERENCING OLD TABLE AS deleted_attachments FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.enqueue_blob_deletions();',
  ),
  T(
    'attachments',
    'attachments_enqueue_source_checks',
    'CREATE TRIGGER attachments_enqueue_source_checks AFTER UPDATE OF message_id ON public.attachments FOR EACH ROW WHEN (OLD.message_id IS NOT NULL AND OLD.message_id IS DISTINCT FROM NEW.message_id) EXECUTE FUNCTION spacerr_jobs.enqueue_message_source_checks();',
  ),
  T(
    'chats',
    'chats_add_empty_chats',
    'CREATE TRIGGER chats_add_empty_chats AFTER INSERT ON public.chats REFERENCING NEW TABLE AS inserted_chats FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.add_new_empty_chats();',
  ),
  T(
    'chats',
    'chats_move_empty_chats',
    'CREATE TRIGGER chats_move_empty_chats AFTER UPDATE OF created_at ON public.chats FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at) EXECUTE FUNCTION spacerr_jobs.move_empty_chat();',
  ),
  T(
    'chats',
    'chats_forget_deleted_chats',
    'CREATE TRIGGER chats_forget_deleted_chats AFTER DELETE ON public.chats REFERENCING OLD TABLE AS deleted_chats FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.forget_deleted_chats();',
  ),
  T(
    'chats',
    'chats_truncate_empty_chats',
    'CREATE TRIGGER chats_truncate_empty_chats AFTER TRUNCATE ON public.chats FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.truncate_empty_chats();',
  ),
  T(
    'messages',
    'messages_remove_empty_chats',
    'CREATE TRIGGER messages_remove_empty_chats AFTER INSERT ON public.messages REFERENCING NEW TABLE AS inserted_messages FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.remove_chats_with_messages();',
  ),
  T(
    'messages',
    'messages_add_emptied_chats',
    'CREATE TRIGGER messages_add_emptied_chats AFTER DELETE ON public.messages REFERENCING OLD TABLE AS deleted_messages FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.add_emptied_chats();',
  ),
  T(
    'messages',
    'messages_moved_update_empty_chats',
    'CREATE TRIGGER messages_moved_update_empty_chats AFTER UPDATE OF chat_id ON public.messages FOR EACH ROW WHEN (OLD.chat_id IS DISTINCT FROM NEW.chat_id) EXECUTE FUNCTION spacerr_jobs.update_empty_chats_for_moved_message();',
  ),
  T(
    'messages',
    'messages_truncate_add_all_chats',
    'CREATE TRIGGER messages_truncate_add_all_chats AFTER TRUNCATE ON public.messages FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.add_all_chats();',
  ),
];
