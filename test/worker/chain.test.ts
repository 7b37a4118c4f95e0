/**
 * Messages of the shape the queue already holds at a deploy (`{ job, continues, hop, recovery?,
 * then? }`), delivered through the Worker's own queue handler: each runs at the position it always
 * did — hop + 1 for a continuation or a follow-up, hop for a recovery — which the position of the
 * message it sends next, and CONTINUATION_MAX_HOPS's limit, show.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from 'cloudflare:test';
import { afterEach, beforeEach, describe, expect, it, type MockInstance, vi } from 'vitest';
import worker from '../../src/index';
import { seedAccount } from './seed';
import { fixedBatches, provisionEnv, q, sql, type TestEnv, testDb } from './support';

const JOB = 'delete-stale-empty-chats';
let e: TestEnv;
let sent: unknown[];
let logs: MockInstance;
let n = 0;

async function setup(vars: Record<string, string>) {
  sent = [];
  const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
  e = { ...(await provisionEnv({ CONTINUATION_MAX_HOPS: '2', ...vars })), CONTINUATIONS: queue };
  vi.spyOn(console, 'log').mockImplementation(() => {});
  logs = vi.spyOn(console, 'warn').mockImplementation(() => {});
}

beforeEach(async () => {
  // Budget 6 = lock + finish + the send + 3 batches of 3 chats: a run of 20 chats stops with more.
  await setup({ ...fixedBatches(3), RUN_SUBREQUEST_BUDGET: '6' });
  await seedAccount(testDb(e), new Date(), { id: 'u', chats: Array.from({ length: 20 }, () => ({ ageMinutes: 60 })) });
});
afterEach(() => vi.restoreAllMocks());

async function deliver(body: unknown) {
  const id = `old-${++n}`;
  const batch = createMessageBatch('spacerr-jobs-continuations', [{ id, timestamp: Date.now(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await worker.queue(batch, e, ctx);
  expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual([id]);
  const [run] = await q<{ id: string }>(testDb(e), sql`SELECT id FROM spacerr_jobs.job_runs ORDER BY started_at DESC LIMIT 1`);
  return run!.id;
}

const limits = () =>
  logs.mock.calls.map((c) => JSON.parse(String(c[0])) as Record<string, unknown>).filter((l) => l.event === 'continuation_limit');

describe('a message of the shape queued before a deploy', () => {
  it('a continuation runs at hop + 1', async () => {
    const second = await deliver({ job: JOB, continues: 'sched-1', hop: 1 });
    expect(sent).toEqual([{ job: JOB, continues: second, hop: 2 }]);
    const third = await deliver({ job: JOB, continues: second, hop: 2 });
    expect(sent).toHaveLength(1);
    expect(limits()).toEqual([expect.objectContaining({ job: JOB, continues: third, hop: 3 })]);
  });

  it('a recovery runs at hop', async () => {
    const recovered = await deliver({ job: JOB, continues: 'sched-2', hop: 2, recovery: true });
    expect(sent).toEqual([{ job: JOB, continues: recovered, hop: 2 }]);
    const past = await deliver({ job: JOB, continues: 'sched-3', hop: 3, recovery: true });
    expect(sent).toHaveLength(1);
    expect(limits()).toEqual([expect.objectContaining({ continues: past, hop: 3 })]);
  });

  it('a follow-up runs at hop + 1 and sends the next of its `then`', async () => {
    await setup({});
    const followed = await deliver({ job: 'purge-deleted-blobs', continues: 'chain-end', hop: 3, then: ['clear-stale-streams'] });
    expect(sent).toEqual([{ job: 'clear-stale-streams', continues: followed, hop: 4 }]);
  });
});
