/**
 * The blob fault tests' dataset (test/worker/faults-blobs.test.ts): one user's `n` stale empty
 * chats, each with one attachment, whose deletion fills the blob outbox.
 */
import { seedAccount } from './seed';
import { type TestEnv, testDb } from './support';

/** Seeds user `id` with `n` chats an hour old, one attachment each (blob key `blobs/<id>-c<i>-a0`). */
export function seedChatsWithBlobs(e: TestEnv, now: Date, id: string, n: number) {
  return seedAccount(testDb(e), now, { id, chats: Array.from({ length: n }, () => ({ ageMinutes: 60, attachments: 1 })) });
}
