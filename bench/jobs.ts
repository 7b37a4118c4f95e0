/**
 * The jobs the bench measures, each with the two statements it is compared against:
 * - `limit`: the same deletion as one hand-written statement on the indexed schema, sent straight
 *   to Postgres — no HTTP, no batching, no locking discipline. The fastest it can go.
 * - `naive`: what the seed's `deleteMany` calls amount to — one unbatched statement per job, with
 *   no empty_chats list (a NOT EXISTS anti-join over every old chat), on a schema without the
 *   supporting partial indexes.
 * Cutoffs match wrangler.toml's defaults (30 days, 15 minutes).
 */
import type { Table } from './measure.ts';

export interface BenchJob {
  name: string;
  /** Tables whose shrinking counts as this job's deleted rows. */
  tables: readonly Table[];
  limit: string;
  naive: string;
  /** Also bound by R2 calls (up to 1000 keys each), which neither SQL statement makes. */
  r2?: boolean;
}

const ACCOUNT_CUTOFF = `now() - interval '30 days'`;
const CHAT_CUTOFF = `now() - interval '15 minutes'`;
const NO_MESSAGES = 'NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id)';

/** In the order the bench runs them (the account job first: it leaves work for the others). */
export const BENCH_JOBS: BenchJob[] = [
  {
    name: 'delete-stale-deactivated-accounts',
    tables: ['users', 'projects', 'chats', 'messages', 'attachments', 'message_sources'],
    // Foreign-key cascades take the user's projects, chats, messages, attachments and sources.
    limit: `DELETE FROM users WHERE deactivated_at < ${ACCOUNT_CUTOFF}`,
    naive: `DELETE FROM users WHERE deactivated_at < ${ACCOUNT_CUTOFF}`,
  },
  {
    name: 'delete-stale-empty-chats',
    tables: ['chats', 'attachments'],
    limit: `DELETE FROM chats c WHERE c.id IN (SELECT chat_id FROM spacerr_jobs.empty_chats WHERE created_at < ${CHAT_CUTOFF}) AND ${NO_MESSAGES}`,
    naive: `DELETE FROM chats c WHERE c.created_at < ${CHAT_CUTOFF} AND ${NO_MESSAGES}`,
  },
  {
    name: 'delete-orphaned-message-sources',
    tables: ['message_sources'],
    limit: 'DELETE FROM message_sources WHERE attachment_id IS NULL',
    naive: `DELETE FROM message_sources s WHERE s.attachment_id IS NULL
            OR NOT EXISTS (SELECT 1 FROM attachments a WHERE a.id = s.attachment_id AND a.message_id = s.message_id)`,
  },
  {
    name: 'purge-deleted-blobs',
    tables: ['blob_deletions'],
    limit: 'DELETE FROM spacerr_jobs.blob_deletions WHERE parked_at IS NULL AND next_attempt_at <= now()',
    naive: 'DELETE FROM spacerr_jobs.blob_deletions',
    r2: true,
  },
];
