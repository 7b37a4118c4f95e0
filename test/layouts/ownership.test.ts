/**
 * An account's erasure deletes only what that account owns, and the dry run counts exactly what
 * the run deletes: over random ownership graphs (fast-check), on every shipped layout. Live users'
 * chats sit in stale users' projects, stale users' uploads sit in live users' chats (where the
 * layout has such tables), and the cascades must never reach them.
 */
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { APP } from '../../src/app-map/app';
import { provisionEnv, q, runNamed, testDb } from '../worker/support';
import { insertRow, insertUser } from './app-rows';

const DAY = 86_400_000;
const layout = inject('layout');
const chat = APP.role('chat');
const withProjects = APP.has('project') && chat.has('projectId');
const withAttachments = APP.has('attachment') && APP.role('attachment').has('chatId');

const graph = fc.record({
  stale: fc.array(fc.boolean(), { minLength: 2, maxLength: 5 }),
  projects: fc.array(fc.nat(4), { maxLength: 4 }), // owner index of each project
  chats: fc.array(fc.record({ owner: fc.nat(4), project: fc.option(fc.nat(3), { nil: undefined }), messages: fc.nat(2) }), {
    minLength: 1,
    maxLength: 6,
  }),
  uploads: fc.array(fc.record({ by: fc.nat(4), chat: fc.nat(5) }), { maxLength: 4 }),
});

describe(`on the ${layout} layout, erasing accounts over random ownership graphs`, () => {
  it('never deletes a live user’s chat, message or a file in their chat, and the dry run counts what the run deletes', async () => {
    await fc.assert(
      fc.asyncProperty(graph, async (g) => {
        const e = await provisionEnv({ BATCH_TARGET_MS: '0' });
        const db = testDb(e);
        const now = new Date();
        const users = g.stale.map((_, i) => `u${i}`);
        const ownerOf = (n: number) => users[n % users.length]!;
        for (const [i, stale] of g.stale.entries()) await insertUser(db, users[i]!, stale ? new Date(now.getTime() - 40 * DAY) : null);
        const projects = withProjects ? g.projects.map((owner, i) => ({ id: `p${i}`, owner: ownerOf(owner) })) : [];
        for (const p of projects) await insertRow(db, 'project', { id: p.id, userId: p.owner });
        const chats = g.chats.map((c, i) => ({
          id: `c${i}`,
          owner: ownerOf(c.owner),
          project: c.project !== undefined && projects.length > 0 ? projects[c.project % projects.length]!.id : undefined,
          messages: c.messages,
        }));
        for (const c of chats) {
          await insertRow(db, 'chat', { id: c.id, userId: c.owner, createdAt: now, ...(c.project ? { projectId: c.project } : {}) });
          for (let m = 0; m < c.messages; m++) await insertRow(db, 'message', { id: `${c.id}-m${m}`, chatId: c.id });
        }
        if (withAttachments) {
          for (const [i, u] of g.uploads.entries()) {
            const c = chats[u.chat % chats.length]!;
            await insertRow(db, 'attachment', { id: `a${i}`, userId: ownerOf(u.by), chatId: c.id, blobKey: `k${i}` });
          }
        }

        const dry = await runNamed(e, 'delete-stale-deactivated-accounts', { now, dryRun: true });
        const real = await runNamed(e, 'delete-stale-deactivated-accounts', { now });
        expect(real.status).toBe('succeeded');
        for (const key of new Set([...Object.keys(dry.counts), ...Object.keys(real.counts)])) {
          if (key === 'redis_streams' || key === 'stream_deletions') continue; // Redis cleanup, not rows of the batch
          expect(real.counts[key] ?? 0, key).toBe(dry.counts[key] ?? 0);
        }

        const live = new Set(users.filter((_, i) => !g.stale[i]));
        const liveChats = chats.filter((c) => live.has(c.owner)).map((c) => c.id);
        const left = new Set((await q<{ id: string }>(db, sql`SELECT ${chat.id} AS id FROM ${chat.table}`)).map((r) => r.id));
        for (const id of liveChats) expect(left.has(id), `live chat ${id}`).toBe(true);
        const message = APP.role('message');
        const messages = await q<{ n: number }>(
          db,
          sql`SELECT count(*)::int AS n FROM ${message.table} WHERE ${message.col('chatId')} = ANY(${`{${liveChats.join(',')}}`}::text[])`,
        );
        expect(messages[0]?.n).toBe(chats.filter((c) => live.has(c.owner)).reduce((sum, c) => sum + c.messages, 0));
        if (withAttachments) {
          const a = APP.role('attachment');
          const inLive = g.uploads.filter((u) => live.has(chats[u.chat % chats.length]!.owner)).length;
          const files = await q<{ n: number }>(
            db,
            sql`SELECT count(*)::int AS n FROM ${a.table} WHERE ${a.col('chatId')} = ANY(${`{${liveChats.join(',')}}`}::text[])`,
          );
          expect(files[0]?.n, 'files in live chats').toBe(inLive);
        }
      }),
      { numRuns: 12 },
    );
  }, 120_000);
});
