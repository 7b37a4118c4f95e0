/**
 * What is waiting to be deleted, for the jobs listing, the health route and the deadline alarm.
 * One round trip; every count walks a partial index (users_deactivated_at_idx,
 * chats_empty_created_at_idx, blob_deletions_*_idx, message_sources_orphaned_idx) and stops at
 * BACKLOG_CAP, so the listing costs the same on a large table as on a small one.
 */
import { type SQL, sql } from 'drizzle-orm';
import { num } from './rows';
import type { Db } from './client';

export const BACKLOG_CAP = 10_000;

export interface Backlog {
  accountsEligible: number;
  accountsOverdue: number;
  oldestOverdueDeactivatedAt: string | null;
  emptyChatsEligible: number;
  blobsPending: number;
  blobsParked: number;
  streamDeletionsQueued: number;
  sourceChecksQueued: number;
  orphanedSources: number;
}

export interface BacklogCutoffs {
  /** deactivated_at before this: eligible for deletion now. */
  accountsEligible: Date;
  /** deactivated_at before this: overdue (null: nothing can be overdue yet). */
  accountsOverdue: Date | null;
  /** created_at before this, without messages: eligible empty chats. */
  emptyChats: Date;
}

export type BacklogFigure =
  | 'accounts_eligible'
  | 'accounts_overdue'
  | 'oldest_overdue'
  | 'empty_chats'
  | 'blobs_pending'
  | 'blobs_parked'
  | 'stream_deletions'
  | 'source_checks'
  | 'orphaned_sources';

/**
 * The backlog query, to send alone or inside a batch (the run's finishing request), for all
 * figures or only `only` (a run's alarm check reads just its own).
 */
export function backlogQuery(db: Db, cut: BacklogCutoffs, only?: readonly BacklogFigure[]) {
  const capped = (from: SQL) => sql`(SELECT count(*) FROM (SELECT 1 ${from} LIMIT ${BACKLOG_CAP}) s)`;
  const overdue = cut.accountsOverdue ?? new Date(0);
  const figures: Record<BacklogFigure, SQL> = {
    accounts_eligible: capped(sql`FROM users WHERE deactivated_at < ${cut.accountsEligible}`),
    accounts_overdue: capped(sql`FROM users WHERE deactivated_at < ${overdue}`),
    oldest_overdue: sql`(SELECT min(deactivated_at) FROM users WHERE deactivated_at < ${overdue})`,
    empty_chats: capped(sql`FROM chats WHERE NOT has_messages AND created_at < ${cut.emptyChats}`),
    blobs_pending: capped(sql`FROM blob_deletions WHERE parked_at IS NULL`),
    blobs_parked: capped(sql`FROM blob_deletions WHERE parked_at IS NOT NULL`),
    stream_deletions: capped(sql`FROM stream_deletions`),
    source_checks: capped(sql`FROM message_source_checks`),
    orphaned_sources: capped(sql`FROM message_sources WHERE attachment_id IS NULL`),
  };
  const chosen = (only ?? (Object.keys(figures) as BacklogFigure[])).map((name) => sql`${figures[name]} AS ${sql.identifier(name)}`);
  return db.execute(sql`SELECT ${sql.join(chosen, sql`, `)}`);
}

export async function readBacklog(db: Db, cut: BacklogCutoffs): Promise<Backlog> {
  return parseBacklog((await backlogQuery(db, cut)).rows[0]);
}

export function parseBacklog(row: Record<string, unknown> = {}): Backlog {
  const oldest = row.oldest_overdue;
  return {
    accountsEligible: num(row.accounts_eligible),
    accountsOverdue: num(row.accounts_overdue),
    oldestOverdueDeactivatedAt: oldest == null ? null : new Date(oldest as string).toISOString(),
    emptyChatsEligible: num(row.empty_chats),
    blobsPending: num(row.blobs_pending),
    blobsParked: num(row.blobs_parked),
    streamDeletionsQueued: num(row.stream_deletions),
    sourceChecksQueued: num(row.source_checks),
    orphanedSources: num(row.orphaned_sources),
  };
}
