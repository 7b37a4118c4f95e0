/**
 * The bench's data, built inside Postgres with generate_series (no rows cross the wire), once per
 * scale into a template database that every contender then clones (`CREATE DATABASE … TEMPLATE`),
 * so all of them start from byte-identical tables.
 *
 * For `chats` = N:
 * - users: N/10; every 10th is deactivated 40 days ago (past the 30-day retention), every 50th
 *   (offset 1) 5 days ago (kept). Each user owns one project and chats in pairs.
 * - chats: odd ids are stale and empty (1 day old, no messages; every 10th of them carries an
 *   uploaded-but-never-sent attachment); even ids have 5 messages, one attachment on the first
 *   and one message_sources row on that message citing it (every 10th source already orphaned).
 */
import pg from 'pg';
import { createAppDatabase, createDatabase } from '../scripts/stack/migrate.ts';

export const SCALES = { '10k': 10_000, '100k': 100_000, '1m': 1_000_000 } as const;
export type Scale = keyof typeof SCALES;

/** Indexes that exist only to find stale rows; the naive schema has none of them. */
export const SUPPORTING_INDEXES = [
  'public.spacerr_jobs_users_deactivated_at_idx',
  'spacerr_jobs.empty_chats_created_at_idx',
  'public.spacerr_jobs_message_sources_orphaned_idx',
  'spacerr_jobs.blob_deletions_due_idx',
];

/**
 * Creates `name` (the app's tables from the fixture, then the Worker's migrations) on the server
 * of `adminUrl` and fills it for `chats` chats.
 */
export async function buildTemplate(adminUrl: string, name: string, chats: number): Promise<string> {
  const url = await createAppDatabase(adminUrl, name);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const statement of datasetSql(chats)) await client.query(statement);
  } finally {
    await client.end();
  }
  return url;
}

/** Clones `template` into `name`; with `naive`, drops the supporting indexes. */
export async function cloneDatabase(adminUrl: string, template: string, name: string, naive = false): Promise<string> {
  const url = await createDatabase(adminUrl, name, template);
  if (naive) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (const index of SUPPORTING_INDEXES) {
        await client.query(`DROP INDEX ${index.split('.').map(pg.escapeIdentifier).join('.')}`);
      }
    } finally {
      await client.end();
    }
  }
  return url;
}

function datasetSql(n: number): string[] {
  if (!Number.isSafeInteger(n) || n < 20 || n % 20 !== 0) throw new Error(`chats must be a multiple of 20, got ${n}`);
  const u = n / 10;
  // Chat i belongs to user 1 + ((i-1)/2) % u: chats come in pairs (one empty, one with messages),
  // so stale users own both kinds.
  const owner = `'u' || (1 + ((i - 1) / 2) % ${u})`;
  return [
    // Bulk load: replica role skips the triggers and foreign-key checks (the data is consistent by
    // construction); spacerr_jobs.empty_chats is filled directly below instead of by the triggers.
    'SET session_replication_role = replica',
    `INSERT INTO users (id, email, name, created_at, deactivated_at)
     SELECT 'u' || i, 'u' || i || '@bench.test', 'User ' || i, now() - interval '400 days',
            CASE WHEN i % 10 = 0 THEN now() - interval '40 days'
                 WHEN i % 50 = 1 THEN now() - interval '5 days' END
     FROM generate_series(1, ${u}) i`,
    `INSERT INTO projects (id, user_id, name, created_at)
     SELECT 'p' || i, 'u' || i, 'Project ' || i, now() - interval '300 days' FROM generate_series(1, ${u}) i`,
    `INSERT INTO chats (id, user_id, project_id, title, created_at)
     SELECT 'c' || i, ${owner}, CASE WHEN i % 4 = 0 THEN 'p' || (1 + ((i - 1) / 2) % ${u}) END, 'Chat ' || i,
            now() - interval '1 day' - make_interval(secs => i)
     FROM generate_series(1, ${n}) i`,
    // The odd chats get no message: what the chats and messages triggers would leave.
    `INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at)
     SELECT id, created_at FROM chats WHERE substr(id, 2)::int % 2 = 1`,
    `INSERT INTO messages (id, chat_id, role, content, created_at)
     SELECT 'm' || i || '_' || k, 'c' || i, CASE WHEN k % 2 = 1 THEN 'user' ELSE 'assistant' END,
            jsonb_build_object('text', 'message ' || k || ' of chat ' || i), now() - interval '1 day'
     FROM generate_series(2, ${n}, 2) i, generate_series(1, 5) k`,
    `INSERT INTO attachments (id, user_id, project_id, chat_id, message_id, blob_key, content_type, size_bytes, created_at)
     SELECT 'a' || i, ${owner}, NULL, 'c' || i, CASE WHEN i % 2 = 0 THEN 'm' || i || '_1' END,
            'blobs/a' || i, 'image/png', 1024, now() - interval '1 day'
     FROM generate_series(1, ${n}) i WHERE i % 2 = 0 OR i % 20 = 1`,
    `INSERT INTO message_sources (id, message_id, attachment_id, created_at)
     SELECT 's' || i, 'm' || i || '_1', CASE WHEN i % 20 <> 6 THEN 'a' || i END, now() - interval '1 day'
     FROM generate_series(2, ${n}, 2) i`,
    'SET session_replication_role = origin',
    // Fresh statistics and a visibility map, as a live database under autovacuum would have.
    'VACUUM ANALYZE',
  ];
}
