/**
 * The bench's data, built inside Postgres with generate_series (no rows cross the wire), once per
 * scale into a template database that every contender then clones (`CREATE DATABASE … TEMPLATE`),
 * so all of them start from byte-identical tables. Every app name comes from the layout's map
 * (bench/layout.ts); the required columns the map does not know get a value from the catalog.
 *
 * For `chats` = N:
 * - users: N/10; every 10th is deactivated 40 days ago (past the 30-day retention), every 50th
 *   (offset 1) 5 days ago (kept). Each user owns one project (where the layout has projects) and
 *   chats in pairs.
 * - chats: odd ids are stale and empty (1 day old, no messages); even ids have 5 messages.
 * - files, as the layout records them:
 *   - Spacerr-like layouts (a `parts` JSONB and/or a message_source `pathname`, no attachments
 *     table): the first message of each busy chat carries one file part
 *     (`{type:'file', mediaType, url, providerMetadata:{storage:{pathname}}}`) and one
 *     message_source row with the same pathname, `chat-attachments/<userId>/<ms>-<name>`.
 *   - snake-plural: every 10th empty chat carries an uploaded-but-never-sent attachment; each busy
 *     chat has one attachment on its first message and a message_sources row on that message
 *     citing it (every 10th source already orphaned).
 */
import pg from 'pg';
import { createAppDatabase, createDatabase } from '../scripts/stack/migrate.ts';
import { installSteps } from '../src/app-map/triggers.ts';
import { type BenchLayout, insertSelect } from './layout.ts';

export const SCALES = { '10k': 10_000, '100k': 100_000, '1m': 1_000_000 } as const;
export type Scale = keyof typeof SCALES;

/** The Worker's own indexes that exist only to find stale rows (drizzle/, the spacerr_jobs schema). */
const WORKER_SCHEMA_INDEXES = ['spacerr_jobs.empty_chats_created_at_idx', 'spacerr_jobs.blob_deletions_due_idx'];

/**
 * The indexes that exist only to find stale rows, which the naive schema goes without: the
 * partial indexes the installer puts on the app's tables (src/app-map/triggers.ts: the
 * deactivation time's, the orphaned sources'), and the Worker's own. Only those actually there:
 * the installer builds one only where no app index leads with that column, so on Spacerr's
 * layout the app's own `user_deactivatedAt_idx` serves the account job, and the naive schema
 * keeps it (the app has it with or without the Worker).
 */
export async function supportingIndexes(client: pg.Client, L: BenchLayout): Promise<string[]> {
  const schema = pg.escapeIdentifier(L.map.schema);
  const partial = installSteps(L.map)
    .filter((s) => s.concurrently && /\bWHERE\b/.test(s.sql))
    .map((s) => `${schema}.${pg.escapeIdentifier(s.what.replace(/^index /, ''))}`);
  const present: string[] = [];
  for (const index of [...partial, ...WORKER_SCHEMA_INDEXES]) {
    const { rows } = await client.query<{ present: boolean }>('SELECT to_regclass($1) IS NOT NULL AS present', [index]);
    if (rows[0]?.present) present.push(index);
  }
  return present;
}

/**
 * Creates `name` (the layout's app tables from its Prisma migrations, then the Worker's
 * migrations and the map's triggers) on the server of `adminUrl` and fills it for `chats` chats.
 */
export async function buildTemplate(adminUrl: string, name: string, chats: number, L: BenchLayout): Promise<string> {
  const url = await createAppDatabase(adminUrl, name, L.layout);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of await datasetSql(client, L, chats)) await client.query(statement);
  } finally {
    await client.end();
  }
  return url;
}

/** Clones `template` into `name`. */
export async function cloneDatabase(adminUrl: string, template: string, name: string): Promise<string> {
  return createDatabase(adminUrl, name, template);
}

/** Clones `template` into `name` without the supporting indexes (the naive schema); returns which it dropped. */
export async function cloneNaive(
  adminUrl: string,
  template: string,
  name: string,
  naive: BenchLayout,
): Promise<{ url: string; dropped: string[] }> {
  const url = await createDatabase(adminUrl, name, template);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const dropped = await supportingIndexes(client, naive);
    for (const index of dropped) await client.query(`DROP INDEX ${index}`);
    return { url, dropped };
  } finally {
    await client.end();
  }
}

async function datasetSql(client: pg.Client, L: BenchLayout, n: number): Promise<string[]> {
  if (!Number.isSafeInteger(n) || n < 20 || n % 20 !== 0) throw new Error(`chats must be a multiple of 20, got ${n}`);
  for (const role of ['user', 'chat', 'message'] as const) {
    if (!/^(text|character)/.test(L.t(role).col('id').type))
      throw new Error(`the bench writes text ids; ${role}.id is ${L.t(role).col('id').type}`);
  }
  const u = n / 10;
  // Chat i belongs to user 1 + ((i-1)/2) % u: chats come in pairs (one empty, one with messages),
  // so stale users own both kinds.
  const owner = `'u' || (1 + ((i - 1) / 2) % ${u})`;
  const chat = L.t('chat');
  // A file's stored pathname, as Spacerr's upload route names it (ms: a fixed instant plus the chat).
  const pathname = `'chat-attachments/' || ${owner} || '/' || (1767225600000 + i) || '-file' || i || '.pdf'`;
  const text = `jsonb_build_object('type', 'text', 'text', 'message ' || k || ' of chat ' || i)`;
  const filePart = `jsonb_build_object('type', 'file', 'mediaType', 'application/pdf', 'url', 'https://store.example/' || ${pathname},
      'providerMetadata', jsonb_build_object('storage', jsonb_build_object('pathname', ${pathname})))`;
  const parts = L.spacerrFiles
    ? `CASE WHEN k = 1 THEN jsonb_build_array(${text}, ${filePart}) ELSE jsonb_build_array(${text}) END`
    : `jsonb_build_array(${text})`;
  const out = [
    // Bulk load: replica role skips the triggers and foreign-key checks (the data is consistent by
    // construction); spacerr_jobs.empty_chats is filled directly below instead of by the triggers.
    'SET session_replication_role = replica',
    await insertSelect(
      client,
      L,
      'user',
      {
        id: `'u' || i`,
        email: `'u' || i || '@bench.test'`,
        deactivatedAt: `CASE WHEN i % 10 = 0 THEN ${L.ago('user', 'deactivatedAt', `interval '40 days'`)}
                              WHEN i % 50 = 1 THEN ${L.ago('user', 'deactivatedAt', `interval '5 days'`)} END`,
      },
      `FROM generate_series(1, ${u}) i`,
    ),
  ];
  if (L.has('project')) {
    out.push(await insertSelect(client, L, 'project', { id: `'p' || i`, userId: `'u' || i` }, `FROM generate_series(1, ${u}) i`));
  }
  out.push(
    await insertSelect(
      client,
      L,
      'chat',
      {
        id: `'c' || i`,
        userId: owner,
        projectId: L.has('project') ? `CASE WHEN i % 4 = 0 THEN 'p' || (1 + ((i - 1) / 2) % ${u}) END` : undefined,
        createdAt: L.ago('chat', 'createdAt', `interval '1 day' + make_interval(secs => i)`),
      },
      `FROM generate_series(1, ${n}) i`,
    ),
    // The odd chats get no message: what the chat and message triggers would leave.
    `INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at)
     SELECT c.${chat.c('id')}, ${L.instant('chat', 'createdAt', 'c')} FROM ${chat.q} c WHERE substr(c.${chat.c('id')}, 2)::int % 2 = 1`,
    await insertSelect(
      client,
      L,
      'message',
      {
        id: `'m' || i || '_' || k`,
        chatId: `'c' || i`,
        parts: L.has('message', 'parts') ? parts : undefined,
        createdAt: L.has('message', 'createdAt') ? L.ago('message', 'createdAt', `interval '1 day'`) : undefined,
      },
      `FROM generate_series(2, ${n}, 2) i, generate_series(1, 5) k`,
    ),
  );
  if (L.has('attachment')) {
    out.push(
      await insertSelect(
        client,
        L,
        'attachment',
        {
          id: `'a' || i`,
          userId: owner,
          chatId: `'c' || i`,
          messageId: `CASE WHEN i % 2 = 0 THEN 'm' || i || '_1' END`,
          blobKey: `'blobs/a' || i`,
        },
        `FROM generate_series(1, ${n}) i WHERE i % 2 = 0 OR i % 20 = 1`,
      ),
    );
  }
  if (L.has('messageSource')) {
    out.push(
      await insertSelect(
        client,
        L,
        'messageSource',
        {
          id: `'s' || i`,
          messageId: `'m' || i || '_1'`,
          chatId: `'c' || i`,
          attachmentId: L.has('attachment') ? `CASE WHEN i % 20 <> 6 THEN 'a' || i END` : undefined,
          pathname: L.spacerrFiles ? pathname : undefined,
        },
        `FROM generate_series(2, ${n}, 2) i`,
      ),
    );
  }
  out.push(
    'SET session_replication_role = origin',
    // Fresh statistics and a visibility map, as a live database under autovacuum would have.
    'VACUUM ANALYZE',
  );
  return out;
}
