/**
 * Account events through `wrangler dev` (the Worker as `npm run dev` runs it), with the settings
 * given as the operator would give them: the monthly cron fired by hand deletes the account,
 * the sweeps that follow it through the local queue deliver the notice and the erasure, signed,
 * to a real receiver that verifies them with the standardwebhooks library; firing again sends no
 * repeat; `npm run receipt` then answers who was erased, when and by which run.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { LocalWorker } from '../../scripts/stack/worker.ts';
import { nextRunAt } from '../../src/run/schedule.ts';
import type { TestBindings } from '../support/control-server.ts';
import { startWorkerOnNewEnv, until } from '../support/node-env.ts';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.ts';

const MONTHLY = '0 0 1 * *';
const DELIVERY = 'deliver-account-events';
const SECRET = `whsec_${Buffer.alloc(32, 42).toString('base64')}`;
const RECEIPT = resolve(import.meta.dirname, '../../scripts/receipt.ts');

let env: TestBindings;
let db: pg.Client;
let worker: LocalWorker;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver(SECRET);
  ({ env, db, worker } = await startWorkerOnNewEnv('account-events-test-secret-0123', {
    ACCOUNT_EVENTS_URL: receiver.url,
    ACCOUNT_EVENTS_SECRET: SECRET,
    // Long enough that the next monthly run is always within it, whatever today's date.
    DELETION_NOTICE_DAYS: '70',
  }));
}, 90_000);
afterAll(async () => {
  await worker?.stop();
  await db?.end();
  await receiver?.close();
});

/** Fires the monthly cron and waits until the delivery sweep that follows it has finished. */
async function fireMonthly(deliveryRunsBefore: number) {
  const res = await worker.triggerCron(MONTHLY);
  await res.text();
  expect(res.status).toBe(200);
  return until('the delivery sweep after the monthly run', async () => {
    const { rows } = await db.query(`SELECT id FROM spacerr_jobs.job_runs WHERE job = $1 AND trigger = 'queue' AND status = 'succeeded'`, [
      DELIVERY,
    ]);
    return rows.length > deliveryRunsBefore ? rows : undefined;
  });
}

function receipt(userId: string): Promise<{ code: number; stdout: string }> {
  return new Promise((done) => {
    execFile('node', [RECEIPT, userId], { env: { ...process.env, DATABASE_URL: env.DATABASE_URL } }, (err, stdout) =>
      done({ code: err ? Number(err.code) : 0, stdout }),
    );
  });
}

it('delivers the notice and the erasure, signed and once, and the receipt names the run', { timeout: 120_000 }, async () => {
  await db.query(`INSERT INTO users (id, email, created_at, deactivated_at) VALUES
    ('gone', 'gone@example.com', now(), now() - interval '40 days'),
    ('soon', 'soon@example.com', now(), now() - interval '20 days'),
    ('kept', 'kept@example.com', now(), NULL)`);
  const [{ deactivated_at: soonAt }] = (await db.query(`SELECT deactivated_at FROM users WHERE id = 'soon'`)).rows;

  await fireMonthly(0);
  const accepted = receiver.attempts.filter((a) => a.status === 204);
  expect(receiver.attempts.every((a) => a.verified)).toBe(true);
  const byType = Object.fromEntries(accepted.map((a) => [`${a.body!.type} ${a.body!.data.userId}`, a.body!.data]));
  expect(Object.keys(byType).sort()).toEqual(['account.deletion_scheduled soon', 'account.erased gone']);
  const deleteAfter = new Date(soonAt.getTime() + 30 * 86_400_000);
  expect(byType['account.deletion_scheduled soon']).toEqual({
    userId: 'soon',
    deactivatedAt: soonAt.toISOString(),
    deleteAfter: deleteAfter.toISOString(),
    scheduledDeletionAt: nextRunAt(MONTHLY, deleteAfter)!.toISOString(),
  });
  // Never an email address or a name.
  expect(JSON.stringify(accepted.map((a) => a.body))).not.toMatch(/@example\.com/);
  const erasedBy = byType['account.erased gone']!.runId;
  const { rows: deleting } = await db.query(`SELECT job, trigger FROM spacerr_jobs.job_runs WHERE id = $1`, [erasedBy]);
  expect(deleting).toEqual([{ job: 'delete-stale-deactivated-accounts', trigger: 'scheduled' }]);

  // Fired again: no repeats.
  const before = receiver.attempts.length;
  await fireMonthly(1);
  expect(receiver.attempts.length).toBe(before);

  const gone = await receipt('gone');
  expect(gone.code).toBe(0);
  expect(gone.stdout).toContain(`✓ user gone was erased at ${byType['account.erased gone']!.erasedAt} by run ${erasedBy} (scheduled run)`);
  expect(await receipt('kept')).toMatchObject({ code: 1, stdout: expect.stringContaining('still exists') });
  expect(await receipt('never')).toMatchObject({ code: 1, stdout: expect.stringContaining('no erasure of user never is recorded') });
});
