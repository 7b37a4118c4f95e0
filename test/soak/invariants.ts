/**
 * What must hold after the soak (and, for blobs, during it). Each check returns the number of
 * items it checked and the violations it found, so the summary shows what was proven, not just
 * that nothing threw.
 */
import { ACTIVE_STREAMS_KEY, streamKey } from '../../src/redis/streams';
import { q, sql, type TestEnv, testDb, testRedis } from '../worker/support';
import { type Ledger, mustSurvive } from './ledger';

export interface Check {
  name: string;
  checked: number;
  violations: string[];
}

const STALE_STREAM_MS = 60_000;

async function blobKeysInR2(e: TestEnv): Promise<Set<string>> {
  const keys = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await e.BLOBS.list({ prefix: 'soak/', cursor, limit: 1000 });
    for (const o of page.objects) keys.add(o.key);
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys;
}

async function attachmentKeys(e: TestEnv): Promise<Set<string>> {
  const rows = await q<{ k: string }>(testDb(e), sql`SELECT blob_key AS k FROM attachments WHERE blob_key LIKE 'soak/%'`);
  return new Set(rows.map((r) => r.k));
}

/**
 * During the soak: an attachment row that existed both before and after R2 was listed must have
 * had its blob while listed (the app writes the blob before the row; keys are never reused).
 */
export async function blobsOfLiveRows(e: TestEnv): Promise<Check> {
  const before = await attachmentKeys(e);
  const r2 = await blobKeysInR2(e);
  const after = await attachmentKeys(e);
  const both = [...before].filter((k) => after.has(k));
  return { name: 'no blob deleted while its row exists (during)', checked: both.length, violations: both.filter((k) => !r2.has(k)) };
}

/** After the final quiet run: everything, against the ledger. */
export async function finalChecks(e: TestEnv, ledger: Ledger, finalRunAt: number): Promise<Check[]> {
  const db = testDb(e);
  const ids = async (query: ReturnType<typeof sql>) => new Set((await q<{ id: string }>(db, query)).map((r) => r.id));
  const users = await ids(sql`SELECT id FROM users`);
  const chats = await ids(sql`SELECT id FROM chats`);
  const messages = await ids(sql`SELECT id FROM messages`);
  const checks: Check[] = [];

  const keep = [...ledger.messages].filter(([, chatId]) => {
    const chat = ledger.chats.get(chatId);
    return chat !== undefined && mustSurvive(ledger, chat);
  });
  checks.push({
    name: 'no committed message lost',
    checked: keep.length,
    violations: keep.filter(([id]) => !messages.has(id)).map(([id]) => id),
  });

  const survivors = [...ledger.chats.values()].filter((c) => mustSurvive(ledger, c));
  checks.push({
    name: 'no chat with a message lost',
    checked: survivors.length,
    violations: survivors.filter((c) => !chats.has(c.id)).map((c) => c.id),
  });

  const active = [...ledger.users.values()].filter((u) => u.state === 'active');
  const reactivated = active.filter((u) => u.reactivations > 0);
  checks.push({
    name: 'no active user deleted',
    checked: active.length,
    violations: active.filter((u) => !users.has(u.id)).map((u) => u.id),
  });
  checks.push({
    name: 'no reactivated user deleted',
    checked: reactivated.length,
    violations: reactivated.filter((u) => !users.has(u.id)).map((u) => u.id),
  });

  const [r2, rows] = [await blobKeysInR2(e), await attachmentKeys(e)];
  checks.push({ name: 'no blob orphaned in R2', checked: r2.size, violations: [...r2].filter((k) => !rows.has(k)) });
  checks.push({ name: 'no blob deleted whose row exists', checked: rows.size, violations: [...rows].filter((k) => !r2.has(k)) });

  // Stale as of the quiet run (the thresholds are 1 day and 1 minute in the soak's config).
  const [stale] = await q<Record<string, number>>(
    db,
    sql`SELECT
      (SELECT count(*)::int FROM users WHERE deactivated_at < ${new Date(finalRunAt - 86_400_000)}) AS stale_users,
      (SELECT count(*)::int FROM chats c WHERE created_at < ${new Date(finalRunAt - 60_000)}
         AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id)) AS stale_empty_chats,
      (SELECT count(*)::int FROM spacerr_jobs.blob_deletions) AS outbox,
      (SELECT count(*)::int FROM spacerr_jobs.stream_deletions) AS stream_deletions,
      (SELECT count(*)::int FROM message_sources WHERE attachment_id IS NULL) AS orphaned_sources`,
  );
  checks.push({
    name: 'no stale row left after the quiet run',
    checked: 5,
    violations: Object.entries(stale ?? {})
      .filter(([, n]) => n !== 0)
      .map(([k, n]) => `${k}=${n}`),
  });

  const redis = testRedis(e);
  const members = (await redis.zrange(ACTIVE_STREAMS_KEY, 0, -1, { withScores: true })) as Array<string | number>;
  const scores = new Map<string, number>();
  for (let i = 0; i < members.length; i += 2) scores.set(String(members[i]), Number(members[i + 1]));
  // Fresh: heartbeated well within the threshold before the quiet run, on a chat that exists.
  const fresh = [...ledger.heartbeats].filter(([chatId, at]) => at > finalRunAt - STALE_STREAM_MS / 2 && chats.has(chatId));
  const freshViolations: string[] = [];
  for (const [chatId, at] of fresh) {
    if ((scores.get(chatId) ?? 0) < at || (await redis.get(streamKey(chatId))) === null) freshViolations.push(chatId);
  }
  checks.push({ name: 'no fresh stream state removed', checked: fresh.length, violations: freshViolations });
  const staleLeft = [...scores].filter(([, score]) => score < finalRunAt - STALE_STREAM_MS).map(([id]) => id);
  checks.push({ name: 'no stale stream left', checked: scores.size, violations: staleLeft });
  return checks;
}
