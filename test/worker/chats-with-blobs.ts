/**
 * The fault tests' dataset: one user's `n` stale empty chats, each with one attachment, and the
 * check that every chat is whole (chat + attachment, blob not queued) or gone (both, blob queued
 * once) — never half-deleted, never gone without its outbox entry.
 */
import { expect } from 'vitest';
import { seedAccount } from './seed';
import { q, sql, type TestEnv, testDb } from './support';

/** Seeds user `id` with `n` chats an hour old, one attachment each (blob key `blobs/<id>-c<i>-a0`). */
export function seedChatsWithBlobs(e: TestEnv, now: Date, id: string, n: number) {
  return seedAccount(testDb(e), now, { id, chats: Array.from({ length: n }, () => ({ ageMinutes: 60, attachments: 1 })) });
}

/** Asserts each seeded chat is whole or gone; returns how many are gone. */
export async function wholeOrGone(e: TestEnv, id: string, n: number): Promise<number> {
  const rows = await q<{ chat: boolean; attachment: boolean; queued: boolean }>(
    testDb(e),
    sql`SELECT c.id IS NOT NULL AS chat, a.id IS NOT NULL AS attachment, b.blob_key IS NOT NULL AS queued
        FROM generate_series(0, ${n - 1}::int) g
        LEFT JOIN chats c ON c.id = ${id} || '-c' || g
        LEFT JOIN attachments a ON a.blob_key = 'blobs/' || ${id} || '-c' || g || '-a0'
        LEFT JOIN spacerr_jobs.blob_deletions b ON b.blob_key = 'blobs/' || ${id} || '-c' || g || '-a0'`,
  );
  for (const r of rows) expect([r.attachment, r.queued]).toEqual([r.chat, !r.chat]);
  return rows.filter((r) => !r.chat).length;
}
