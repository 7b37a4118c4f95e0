/**
 * Seeding for job tests: accounts with projects, chats, messages, attachments, sources and
 * stream state, at given ages relative to a fixed `now`. Ids are prefixed so tests can tell
 * rows apart.
 */

import type { Db } from '../../src/db/client';
import { attachments, chats, messageSources, messages, projects, users } from '../support/app-tables';

const MIN = 60_000;
const DAY = 86_400_000;

export interface ChatSpec {
  ageMinutes: number;
  messages?: number;
  /** Attachments on the chat; attached to its first message when it has one. */
  attachments?: number;
  inProject?: boolean;
}

export interface AccountSpec {
  id: string;
  /** Days since deactivation; null or absent: active. */
  deactivatedDaysAgo?: number | null;
  /** Exact deactivation time, overriding deactivatedDaysAgo. */
  deactivatedAt?: Date;
  chats?: ChatSpec[];
}

export interface Seeded {
  userId: string;
  projectId: string;
  chatIds: string[];
  messageIds: string[];
  attachmentIds: string[];
  blobKeys: string[];
}

/** Inserts one account and everything it owns, in one batch. */
export async function seedAccount(db: Db, now: Date, spec: AccountSpec): Promise<Seeded> {
  const u = spec.id;
  const deactivatedAt =
    spec.deactivatedAt ?? (spec.deactivatedDaysAgo == null ? null : new Date(now.getTime() - spec.deactivatedDaysAgo * DAY));
  const out: Seeded = { userId: u, projectId: `${u}-p`, chatIds: [], messageIds: [], attachmentIds: [], blobKeys: [] };
  const chatRows: (typeof chats.$inferInsert)[] = [];
  const messageRows: (typeof messages.$inferInsert)[] = [];
  const attachmentRows: (typeof attachments.$inferInsert)[] = [];
  const sourceRows: (typeof messageSources.$inferInsert)[] = [];
  (spec.chats ?? []).forEach((c, i) => {
    const chatId = `${u}-c${i}`;
    out.chatIds.push(chatId);
    chatRows.push({
      id: chatId,
      userId: u,
      projectId: c.inProject ? out.projectId : null,
      title: `chat ${i}`,
      createdAt: new Date(now.getTime() - c.ageMinutes * MIN),
    });
    for (let m = 0; m < (c.messages ?? 0); m++) {
      const id = `${chatId}-m${m}`;
      out.messageIds.push(id);
      messageRows.push({ id, chatId, role: m % 2 ? 'assistant' : 'user', content: { text: `hello ${m}` } });
    }
    for (let a = 0; a < (c.attachments ?? 0); a++) {
      const id = `${chatId}-a${a}`;
      const messageId = c.messages ? `${chatId}-m0` : null;
      out.attachmentIds.push(id);
      out.blobKeys.push(`blobs/${id}`);
      attachmentRows.push({
        id,
        userId: u,
        projectId: c.inProject ? out.projectId : null,
        chatId,
        messageId,
        blobKey: `blobs/${id}`,
        contentType: 'text/plain',
        sizeBytes: 5,
      });
      if (messageId) sourceRows.push({ id: `${id}-s`, messageId, attachmentId: id });
    }
  });
  await db.batch([
    db.insert(users).values({ id: u, email: `${u}@example.com`, name: u, deactivatedAt }),
    db.insert(projects).values({ id: out.projectId, userId: u, name: 'project' }),
    ...(chatRows.length ? [db.insert(chats).values(chatRows)] : []),
    ...(messageRows.length ? [db.insert(messages).values(messageRows)] : []),
    ...(attachmentRows.length ? [db.insert(attachments).values(attachmentRows)] : []),
    ...(sourceRows.length ? [db.insert(messageSources).values(sourceRows)] : []),
  ] as unknown as Parameters<Db['batch']>[0]);
  return out;
}

export const minutesAgo = (now: Date, m: number) => new Date(now.getTime() - m * MIN);
export const daysAgo = (now: Date, d: number) => new Date(now.getTime() - d * DAY);
