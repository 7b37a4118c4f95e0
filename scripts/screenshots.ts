/**
 * `npm run screenshots`: the status page's pictures in docs/, taken, never drawn by hand. Starts
 * the local stack and the Worker (scripts/status/local.ts), seeds a month of run history and a
 * few stale chats, a paused job, legal holds and a caught-up missed slot, then captures in Chromium
 * (scripts/status/chromium.ts): the sign-in form, the page, and a dry run's result.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { launchChromium } from './status/chromium.ts';
import { listedJobs, seedHistory } from './status/history.ts';
import { startStatusStack } from './status/local.ts';

const DOCS = resolve(import.meta.dirname, '../docs');
const JOB = 'delete-stale-empty-chats';

const s = await startStatusStack({ dataDir: `.stack/screenshots-${process.pid}` });
const browser = await launchChromium().catch(async (err) => {
  await s.stop();
  throw err;
});
try {
  const runs = await seedHistory(s.db, await listedJobs(s.worker.url, s.secret), { now: new Date(), busy: false });
  await s.db.query(`INSERT INTO users (id, email) VALUES ('u1', 'u1@example.com')`);
  await s.db.query(
    `INSERT INTO chats (id, user_id, created_at) SELECT 'stale-' || i, 'u1', now() - interval '1 day' FROM generate_series(1, 42) i`,
  );
  // A paused job, a legal hold (and an ended one) and a caught-up missed slot, for the page's panels.
  await s.db.query(
    `INSERT INTO spacerr_jobs.job_pauses (job, reason, paused_by, since) VALUES ('clear-stale-streams', 'Redis migration', 'ana', now() - interval '3 hours')`,
  );
  await s.db.query(
    `INSERT INTO spacerr_jobs.legal_holds (user_id, reason, placed_by, since, until)
     VALUES ('user_2Hk9', 'chargeback dispute', 'bo', now() - interval '2 days', NULL),
            ('user_7Qm1', 'fraud review', 'bo', now() - interval '20 days', now() - interval '5 days')`,
  );
  await s.db.query(
    `INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, finished_at, status, dry_run, counts, slot, missed)
     VALUES ('catch-up-1', 'delete-stale-deactivated-accounts', 'scheduled',
             LEAST(now(), date_trunc('month', now()) + interval '12 hours'), LEAST(now(), date_trunc('month', now()) + interval '12 hours'), 'succeeded', false, '{}',
             date_trunc('month', now()), jsonb_build_array(to_char(date_trunc('month', now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
     ON CONFLICT DO NOTHING`,
  );
  mkdirSync(DOCS, { recursive: true });
  const page = await browser.context.newPage();
  const status = `${s.worker.url.replace('127.0.0.1', 'localhost')}/api/internal/status`;
  await page.goto(status);
  await page.screenshot({ path: join(DOCS, 'status-sign-in.png') });
  await page.fill('input[name="secret"]', s.secret);
  await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  await page.screenshot({ path: join(DOCS, 'status-page.png'), fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click(`tr[data-job="${JOB}"] button[data-action="dry-run"]`)]);
  await Promise.all([page.waitForNavigation(), page.click('form.confirm button[type="submit"]')]);
  await page.screenshot({ path: join(DOCS, 'status-dry-run.png') });
  console.log(`docs/status-sign-in.png, docs/status-page.png, docs/status-dry-run.png (${runs} runs of history)`);
} finally {
  await browser.close();
  await s.stop();
}
