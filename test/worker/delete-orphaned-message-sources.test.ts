/**
 * delete-orphaned-message-sources: sources whose attachment is gone (attachment_id set NULL by the
 * foreign key) or was moved to another message (queued in message_source_checks by a trigger).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { liftHold, placeHold } from '../../src/db/holds';
import { seedAccount } from './seed';
import { countRows, fixedBatches, provisionEnv, q, runNamed, sql, testDb, type TestEnv } from './support';

const JOB = 'delete-orphaned-message-sources';
const NOW = new Date('2026-11-01T12:00:00.000Z');

let e: TestEnv;
beforeEach(async () => {
  e = await provisionEnv();
});

const sources = async () =>
  q<{ id: string; message_id: string; attachment_id: string | null }>(
    testDb(e),
    sql`
    SELECT id, message_id, attachment_id FROM message_sources ORDER BY id`,
  );
const checks = async () =>
  (
    await q<{ attachment_id: string }>(testDb(e), sql`SELECT attachment_id FROM spacerr_jobs.message_source_checks ORDER BY attachment_id`)
  ).map((r) => r.attachment_id);

/**
 * Five attachments on u-c0-m0, each with its source u-c0-aN-s → u-c0-m0, then what the app does:
 *   a0 deleted                          → its source's attachment_id becomes NULL: orphan
 *   a1 moved to m1                      → queued; its source on m0: orphan
 *   a2 untouched                        → live
 *   a3 moved to m1 and back to m0       → queued; its source on m0: live again
 *   a4 moved to m1, given a source there → queued; the m0 source is an orphan, the m1 one is live
 * Another account's source stays throughout.
 */
async function seedOrphans() {
  const db = testDb(e);
  await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60, messages: 2, attachments: 5 }] });
  await seedAccount(db, NOW, { id: 'other', chats: [{ ageMinutes: 60, messages: 1, attachments: 1 }] });
  const move = (id: string, to: string) => db.execute(sql`UPDATE attachments SET message_id = ${to} WHERE id = ${id}`);
  await db.execute(sql`DELETE FROM attachments WHERE id = 'u-c0-a0'`);
  await move('u-c0-a1', 'u-c0-m1');
  await move('u-c0-a3', 'u-c0-m1');
  await move('u-c0-a3', 'u-c0-m0');
  await move('u-c0-a4', 'u-c0-m1');
  await db.execute(sql`INSERT INTO message_sources (id, message_id, attachment_id) VALUES ('u-c0-a4-s1', 'u-c0-m1', 'u-c0-a4')`);
  // What the triggers and foreign keys made of it.
  expect((await sources()).find((s) => s.id === 'u-c0-a0-s')).toMatchObject({ attachment_id: null });
  expect(await checks()).toEqual(['u-c0-a1', 'u-c0-a3', 'u-c0-a4']);
}

describe(JOB, () => {
  it('deletes sources whose attachment is gone or moved away; keeps live ones, including a moved-back attachment', async () => {
    await seedOrphans();

    const report = await runNamed(e, JOB, { now: NOW });

    expect(report).toMatchObject({
      status: 'succeeded',
      more: false,
      subrequests: 3,
      counts: { message_sources: 3, message_source_checks: 3 },
    });
    expect(await sources()).toEqual([
      { id: 'other-c0-a0-s', message_id: 'other-c0-m0', attachment_id: 'other-c0-a0' },
      { id: 'u-c0-a2-s', message_id: 'u-c0-m0', attachment_id: 'u-c0-a2' },
      { id: 'u-c0-a3-s', message_id: 'u-c0-m0', attachment_id: 'u-c0-a3' },
      { id: 'u-c0-a4-s1', message_id: 'u-c0-m1', attachment_id: 'u-c0-a4' },
    ]);
    expect(await checks()).toEqual([]);
    // Nothing else is touched: the attachments and messages are the app's.
    expect(await countRows(testDb(e), 'attachments')).toBe(5);
    expect(await countRows(testDb(e), 'messages')).toBe(3);

    const again = await runNamed(e, JOB, { now: NOW });
    expect(again.counts).toEqual({ message_sources: 0, message_source_checks: 0 });
  });

  it('keeps the orphans of an account under a legal hold, and their checks, until the hold is lifted', async () => {
    await seedOrphans();
    await placeHold(testDb(e), { userId: 'u', reason: 'legal request' }, NOW);
    expect((await runNamed(e, JOB, { now: NOW, dryRun: true })).counts).toEqual({ message_sources: 0 });
    expect((await runNamed(e, JOB, { now: NOW })).counts).toEqual({ message_sources: 0, message_source_checks: 0 });
    expect(await sources()).toHaveLength(7);
    expect(await checks()).toEqual(['u-c0-a1', 'u-c0-a3', 'u-c0-a4']);

    await liftHold(testDb(e), 'u');
    // A second past the lift: the hold ended at Postgres's clock (microseconds), and a run's `now`
    // is the Worker's, in milliseconds, which can fall inside the same millisecond.
    expect((await runNamed(e, JOB, { now: new Date(Date.now() + 1000) })).counts).toEqual({ message_sources: 3, message_source_checks: 3 });
    expect(await checks()).toEqual([]);
  });

  it('loops bounded batches until every orphan is gone', async () => {
    e = await provisionEnv(fixedBatches(2));
    const db = testDb(e);
    await seedAccount(db, NOW, { id: 'u', chats: [{ ageMinutes: 60, messages: 2, attachments: 7 }] });
    await db.execute(sql`DELETE FROM attachments WHERE id IN ('u-c0-a0', 'u-c0-a1', 'u-c0-a2')`);
    await db.execute(sql`UPDATE attachments SET message_id = 'u-c0-m1' WHERE id IN ('u-c0-a3', 'u-c0-a4', 'u-c0-a5')`);

    const report = await runNamed(e, JOB, { now: NOW });

    // A batch takes up to 2 of each kind: 2+2, then 1+1 (not full, so the last): two requests.
    expect(report).toMatchObject({
      status: 'succeeded',
      more: false,
      subrequests: 2 + 2,
      counts: { message_sources: 6, message_source_checks: 3 },
    });
    expect((await sources()).map((s) => s.id)).toEqual(['u-c0-a6-s']);
  });

  it('dry run counts the orphans and changes nothing', async () => {
    await seedOrphans();
    const before = await sources();

    const report = await runNamed(e, JOB, { now: NOW, dryRun: true });

    expect(report).toMatchObject({ status: 'succeeded', dryRun: true, counts: { message_sources: 3 } });
    expect(await sources()).toEqual(before);
    expect(before).toHaveLength(7);
    expect(await checks()).toEqual(['u-c0-a1', 'u-c0-a3', 'u-c0-a4']);
  });
});
