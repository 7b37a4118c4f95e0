/**
 * delete-stale-empty-chats: chats created more than EMPTY_CHAT_MIN_AGE_MINUTES ago that have no
 * messages. Their attachments (uploaded but never sent) go with them by cascade, and the outbox
 * trigger queues their blobs.
 */
import { type SQL, sql } from 'drizzle-orm';
import { APP } from '../app-map/app';
import { capped } from '../db/backlog';
import { heldOwner } from '../db/holds';
import { num } from '../db/rows';
import { batchedDeletes, batchSize, type DeleteBatch } from '../run/batched-run';
import { type AsOf, defineJob, type JobContext } from '../run/job';
import { SCHEDULES } from '../schedules';
import { before, MINUTE_MS } from '../time';
import type { ConfigOf, Setting } from '../config/settings';
import { integer } from '../config/values';

/** Chats created before this, without messages, are due for deletion. */
const cutoff = ({ config, now }: AsOf) => before(now, config.emptyChatMinAgeMinutes, MINUTE_MS);

const chat = APP.role('chat');
const message = APP.role('message');
/** No message of the app's names the chat `chatId` (an SQL expression). */
const noMessage = (chatId: SQL) => sql`NOT EXISTS (SELECT 1 FROM ${message.table} m WHERE m.${message.col('chatId')} = ${chatId})`;
/** Files uploaded to a chat and not yet sent, in a layout whose attachments table has a chat column. */
const chatAttachments = APP.has('attachment') && APP.role('attachment').has('chatId') ? APP.role('attachment') : undefined;
/**
 * A file uploaded to a chat that stayed empty but sent with a message of another chat (the older
 * layout's attachments row keeps the draft's chat id and gains the message's): the chat's cascade
 * would take a file a live message names. Such a chat is not deleted (its row leaves the list,
 * healed, so it cannot hold the head of the index); it goes with its user.
 */
const keepsSentFiles = (chatId: SQL) =>
  chatAttachments && chatAttachments.has('messageId')
    ? sql`AND NOT EXISTS (SELECT 1 FROM ${chatAttachments.table} a
          WHERE a.${chatAttachments.col('chatId')} = ${chatId} AND a.${chatAttachments.col('messageId')} IS NOT NULL)`
    : sql``;
/**
 * The chat `c`'s owner is under a legal hold at `now` (src/db/holds.ts): the chat stays, and its
 * empty_chats row with it, so it is deleted by the first run after the hold ends. Index:
 * legal_holds_pkey, one probe per candidate.
 */
const ownerHeld = (c: string, now: Date) => heldOwner(sql`${sql.raw(c)}.${chat.col('userId')}`, sql`${now.toISOString()}::timestamptz`);
const countAttachments = (chatIds: SQL) =>
  chatAttachments
    ? sql`(SELECT count(*) FROM ${chatAttachments.table} a WHERE a.${chatAttachments.col('chatId')} = ANY(ARRAY(${chatIds})))`
    : sql`0`;

const SETTINGS = [
  {
    name: 'EMPTY_CHAT_MIN_AGE_MINUTES',
    kind: 'var',
    topic: 'deletion',
    default: 15,
    meaning: 'minimum age of an empty chat before it is deleted',
    key: 'emptyChatMinAgeMinutes',
    parse: integer(1, 525_600),
  },
  {
    name: 'EMPTY_CHAT_BATCH_SIZE',
    kind: 'var',
    topic: 'batches',
    default: 2000,
    meaning: 'chats in the first batch of the empty-chat job (1–10000)',
    key: 'emptyChatBatchSize',
    parse: integer(1, 10_000),
  },
] as const satisfies readonly Setting[];

declare module '../config/settings' {
  interface Config extends ConfigOf<typeof SETTINGS> {}
}

export const deleteStaleEmptyChats = defineJob({
  name: 'delete-stale-empty-chats',
  description: 'Deletes chats older than EMPTY_CHAT_MIN_AGE_MINUTES that have no messages.',
  schedule: SCHEDULES.twiceADay,
  settings: SETTINGS,
  deletes: ['chats', 'attachments'],
  cutoff,
  // Index: spacerr_jobs.empty_chats_created_at_idx.
  figures: (at) => ({ eligible: capped(sql`FROM spacerr_jobs.empty_chats WHERE created_at < ${cutoff(at)}`) }),
  backlog: ['eligible'],
  run(ctx) {
    return batchedDeletes(ctx, {
      cutoff: cutoff(ctx),
      // An empty chat costs about the same as the next (its few unsent attachments cascade), so
      // batches may grow to 10× the first when they are fast (≈ 50 ms per 2000 at 1M chats).
      size: batchSize(ctx, { start: ctx.config.emptyChatBatchSize, max: ctx.config.emptyChatBatchSize * 10 }),
      cost: 1,
      count: countStaleEmptyChats,
      deleteBatch,
    });
  },
});

/**
 * One batch, one statement, one transaction. "Has no messages" is a row in
 * spacerr_jobs.empty_chats (no column on the app's table): triggers add it with the chat and
 * delete it with the chat's first message, inside the inserting transaction. The job locks both
 * the empty_chats row and the chat row. Race safety with a first message being inserted (a
 * message moved in, UPDATE OF chat_id, deletes the row and checks the foreign key the same way):
 * - In flight: the app's INSERT into messages holds a KEY SHARE lock on the chat (foreign key
 *   check) and, once its trigger ran, the delete lock on the empty_chats row. Either conflicts
 *   with `FOR UPDATE … SKIP LOCKED`, which skips the chat: it is not deleted.
 * - Committed after this statement's snapshot: the empty_chats row version we found is deleted;
 *   READ COMMITTED's lock re-check finds no live version (EvalPlanQual) and drops the chat. (The
 *   chat row alone would not do: a committed KEY SHARE leaves no newer version to re-check.)
 * - Once we hold both locks, a new insert waits on the chat for us and then fails its foreign key
 *   check: the app sees the error, and no committed message is ever deleted with its chat.
 * The job never waits on the app (SKIP LOCKED, then only rows it holds), so there is no deadlock.
 * A chat whose owner is under a legal hold is not selected: the hold is read in this statement, so
 * one committed before the batch starts keeps its chats (a held owner's chats stay in the index
 * and are passed over, one primary-key probe each, until the hold ends).
 * The NOT EXISTS re-check covers an empty_chats row gone stale; such chats (locked, not deleted)
 * lose their row ("healed") rather than block the head of the index, without probing messages
 * again. The chats trigger deletes the empty_chats rows of the chats deleted.
 * Index: empty_chats_created_at_idx, then chats_pkey; `= ANY(ARRAY(…))` keeps the delete, the heal
 * and the attachment count on primary-key and foreign-key index probes.
 */
async function deleteBatch(ctx: JobContext, cutoff: Date, limit: number): Promise<DeleteBatch> {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH doomed AS (
      SELECT c.${chat.id} AS id FROM spacerr_jobs.empty_chats e JOIN ${chat.table} c ON c.${chat.id} = e.chat_id
      WHERE e.created_at < ${cutoff} AND NOT ${ownerHeld('c', ctx.now)}
      ORDER BY e.created_at
      LIMIT ${limit}
      FOR UPDATE OF e, c SKIP LOCKED
    ),
    deleted AS (
      DELETE FROM ${chat.table} c
      WHERE c.${chat.id} = ANY(ARRAY(SELECT id FROM doomed)) AND ${noMessage(sql`c.${chat.id}`)} ${keepsSentFiles(sql`c.${chat.id}`)}
      RETURNING c.${chat.id} AS id
    ),
    healed AS (
      DELETE FROM spacerr_jobs.empty_chats e
      WHERE e.chat_id = ANY(ARRAY(SELECT id FROM doomed EXCEPT SELECT id FROM deleted))
      RETURNING e.chat_id
    )
    SELECT (SELECT count(*) FROM doomed) AS selected,
           (SELECT count(*) FROM deleted) AS chats,
           ${countAttachments(sql`SELECT id FROM deleted`)} AS attachments`),
  );
  const row = result.rows[0] ?? {};
  return { selected: num(row.selected), counts: { chats: num(row.chats), attachments: num(row.attachments) } };
}

async function countStaleEmptyChats(ctx: JobContext, cutoff: Date) {
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`
    WITH stale AS (
      SELECT e.chat_id AS id FROM spacerr_jobs.empty_chats e
      WHERE e.created_at < ${cutoff}
        AND ${noMessage(sql`e.chat_id`)} ${keepsSentFiles(sql`e.chat_id`)}
        AND NOT EXISTS (SELECT 1 FROM ${chat.table} c WHERE c.${chat.id} = e.chat_id AND ${ownerHeld('c', ctx.now)})
    )
    SELECT (SELECT count(*) FROM stale) AS chats, ${countAttachments(sql`SELECT id FROM stale`)} AS attachments`),
  );
  const row = result.rows[0] ?? {};
  return { chats: num(row.chats), attachments: num(row.attachments) };
}
