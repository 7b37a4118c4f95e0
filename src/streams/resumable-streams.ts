/**
 * Stale stream state of the AI SDK's resume recipe (docs/contract.md, §4): a chat whose
 * active-stream column names a stream that cannot be live. The recipe
 * (ai-sdk.dev/docs/ai-sdk-ui/chatbot-resume-streams) creates the stream's sentinel
 * (`createNewResumableStream`) before it writes the stream's id on the chat, and clears the column
 * when the stream finishes; a function that died (a deploy, a crash, `maxDuration`) leaves it set,
 * and every reload of that chat tries to resume a stream nobody produces.
 *
 * A stream cannot be live when its sentinel is gone or "DONE", or is older than
 * STREAM_MAX_DURATION_SECONDS (src/redis/sentinels.ts). Such a chat's column is reset by a
 * compare-and-set, and a dead sentinel is ended ("DONE") in the same script that judged it.
 *
 * Candidates come from the partial index on the column (`spacerr_jobs_<chat>_<column>_idx`,
 * src/app-map/triggers.ts), a page at a time in stream-id order: each page costs one Neon read,
 * one Upstash script and, when a stream is stale, one UPDATE.
 */
import { type SQL, sql } from 'drizzle-orm';
import { APP } from '../app-map/app';
import { judgeSentinels, type SentinelLimits } from '../redis/sentinels';
import { addCounts, inBatches } from '../run/batched-run';
import type { JobContext, JobOutcome } from '../run/job';

/** Chats a page: one MGET of this many sentinels, and one UPDATE of at most as many chats. */
export const ACTIVE_STREAM_PAGE = 500;

const chat = APP.role('chat');
/** The app map names the chat's active-stream column (Spacerr's `chat.activeStreamId`). */
export const HAS_ACTIVE_STREAM_COLUMN = chat.has('activeStreamId');

const limitsOf = (ctx: JobContext): SentinelLimits => ({
  prefix: ctx.config.streamKeyPrefix,
  maxDurationSeconds: ctx.config.streamMaxDurationSeconds,
});

/**
 * Clears every stale stream the budget reaches. Counts: `active_streams_cleared` (chats whose
 * column this run reset: its own UPDATE's rows, never one the app cleared meanwhile) and
 * `sentinels_ended` (dead sentinels set to "DONE"); a dry run counts `active_streams_stale`.
 */
export async function clearStaleActiveStreams(ctx: JobContext): Promise<JobOutcome> {
  const counts: Record<string, number> = ctx.dryRun ? { active_streams_stale: 0 } : { active_streams_cleared: 0, sentinels_ended: 0 };
  let after: string | null = null;
  const more = await inBatches(ctx.budget, 3, async () => {
    const page = await readPage(ctx, after);
    if (page.length === 0) return false;
    after = page.at(-1)!.streamId;
    const states = await ctx.budget.request(() =>
      judgeSentinels(
        ctx.redis,
        limitsOf(ctx),
        page.map((p) => p.streamId),
        !ctx.dryRun,
      ),
    );
    const stale = page.filter((_, i) => states[i] !== 'live');
    if (ctx.dryRun) {
      counts.active_streams_stale! += stale.length;
    } else {
      addCounts(counts, { sentinels_ended: states.filter((s) => s === 'ended').length });
      if (stale.length > 0) counts.active_streams_cleared! += await resetColumns(ctx, stale);
    }
    return page.length === ACTIVE_STREAM_PAGE;
  });
  return { counts, more };
}

interface Candidate {
  chatId: string;
  streamId: string;
}

/** The next page of chats naming a stream, after stream id `after` (the partial index's order). */
async function readPage(ctx: JobContext, after: string | null): Promise<Candidate[]> {
  const col = chat.col('activeStreamId');
  const from: SQL = after === null ? sql`` : sql`AND ${col} > ${after}`;
  const rows = await ctx.budget.request(() =>
    ctx.db.execute(sql`SELECT ${chat.id}::text AS "chatId", ${col} AS "streamId" FROM ${chat.table}
      WHERE ${col} IS NOT NULL ${from} ORDER BY ${col} LIMIT ${ACTIVE_STREAM_PAGE}`),
  );
  return rows.rows as unknown as Candidate[];
}

/**
 * Resets the column of each chat that still names the stale stream it was read with. The
 * compare-and-set is the race argument: under READ COMMITTED an UPDATE whose row was changed by a
 * transaction that committed meanwhile re-checks its WHERE against the new row version, so a chat
 * that started a new stream after the page was read (its column now names the new one) no longer
 * matches and is left as the app wrote it; a chat the app cleared itself (its stream finished)
 * matches neither. Only this UPDATE's own rows are counted. The Worker's one write to an app
 * column (docs/contract.md, §2): it needs UPDATE on that column.
 */
async function resetColumns(ctx: JobContext, stale: Candidate[]): Promise<number> {
  const col = chat.col('activeStreamId');
  // The ids travel as one JSON parameter; each is cast back to the id column's own type, so the
  // probe is on the primary key.
  const idType = sql.raw(chat.map.id.type);
  const result = await ctx.budget.request(() =>
    ctx.db.execute(sql`UPDATE ${chat.table} AS c SET ${col} = NULL
      FROM jsonb_to_recordset(${JSON.stringify(stale)}::jsonb) AS s("chatId" text, "streamId" text)
      WHERE c.${chat.id} = s."chatId"::${idType} AND c.${col} = s."streamId"
      RETURNING 1`),
  );
  return result.rows.length;
}
