/**
 * The jobs the bench measures on a layout, each with the two statements it is compared against,
 * written through the layout's map (bench/layout.ts):
 * - `limit`: the same deletion as one hand-written statement on the indexed schema, sent straight
 *   to Postgres — no HTTP, no batching, no locking discipline. The fastest it can go.
 * - `naive`: what the seed's `deleteMany` calls amount to — one unbatched statement per job, with
 *   no empty_chats list (a NOT EXISTS anti-join over every old chat), on a schema without the
 *   supporting partial indexes.
 * Cutoffs match wrangler.toml's defaults (30 days, 15 minutes), in each column's own type.
 * Only the jobs the layout turns on: Spacerr's message_source is the file of a message, not a
 * pointer to an attachment, so the orphaned-sources job is off there (src/jobs/).
 */
import { BLOB_DELETIONS, type BenchLayout } from './layout.ts';

export interface BenchJob {
  name: string;
  /** Tables (physical names, bench/layout.ts `tables`) whose shrinking counts as this job's deleted rows. */
  tables: readonly string[];
  limit: string;
  naive: string;
  /** Also bound by R2 calls (up to 1000 keys each), which neither SQL statement makes. */
  r2?: boolean;
}

/** In the order the bench runs them (the account job first: it leaves work for the others). */
export function benchJobs(L: BenchLayout): BenchJob[] {
  const user = L.t('user');
  const chat = L.t('chat');
  const message = L.t('message');
  const stale = `${user.c('deactivatedAt')} < ${L.ago('user', 'deactivatedAt', `interval '30 days'`)}`;
  const noMessages = `NOT EXISTS (SELECT 1 FROM ${message.q} m WHERE m.${message.c('chatId')} = c.${chat.c('id')})`;
  const appTables = L.tables.filter((t) => t !== BLOB_DELETIONS);
  const jobs: BenchJob[] = [
    {
      name: 'delete-stale-deactivated-accounts',
      tables: appTables,
      // Foreign-key cascades take the user's projects, chats, messages, attachments and sources.
      limit: `DELETE FROM ${user.q} WHERE ${stale}`,
      naive: `DELETE FROM ${user.q} WHERE ${stale}`,
    },
    {
      name: 'delete-stale-empty-chats',
      tables: [chat.name, ...(L.has('attachment') ? [L.t('attachment').name] : [])],
      limit: `DELETE FROM ${chat.q} c WHERE c.${chat.c('id')} IN (SELECT chat_id FROM spacerr_jobs.empty_chats WHERE created_at < now() - interval '15 minutes') AND ${noMessages}`,
      naive: `DELETE FROM ${chat.q} c WHERE c.${chat.c('createdAt')} < ${L.ago('chat', 'createdAt', `interval '15 minutes'`)} AND ${noMessages}`,
    },
  ];
  if (L.has('attachment') && L.has('messageSource', 'attachmentId')) {
    const source = L.t('messageSource');
    const attachment = L.t('attachment');
    jobs.push({
      name: 'delete-orphaned-message-sources',
      tables: [source.name],
      limit: `DELETE FROM ${source.q} WHERE ${source.c('attachmentId')} IS NULL`,
      naive: `DELETE FROM ${source.q} s WHERE s.${source.c('attachmentId')} IS NULL
              OR NOT EXISTS (SELECT 1 FROM ${attachment.q} a WHERE a.${attachment.c('id')} = s.${source.c('attachmentId')}
                             AND a.${attachment.c('messageId')} = s.${source.c('messageId')})`,
    });
  }
  jobs.push({
    name: 'purge-deleted-blobs',
    tables: [BLOB_DELETIONS],
    limit: `DELETE FROM spacerr_jobs.${BLOB_DELETIONS} WHERE parked_at IS NULL AND next_attempt_at <= now()`,
    naive: `DELETE FROM spacerr_jobs.${BLOB_DELETIONS}`,
    r2: true,
  });
  return jobs;
}
