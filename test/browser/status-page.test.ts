/**
 * The status page in a real browser: Debian's Chromium, headless, against the Worker under
 * `wrangler dev` on the local stack, with a month of history in job_runs. Signs in (a wrong
 * secret first), reads the charts back and checks them against job_runs, dry-runs a job through
 * its confirm step, pauses it (its next run is skipped) and resumes it, signs out. A form without its CSRF token is refused, in the browser and by
 * plain fetch; and a Cloudflare Access identity (a token of a local team, scripts/stack/access-certs.ts)
 * signs in without the secret.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AccessTeam, startAccessTeam } from '../../scripts/stack/access-certs.ts';
import { type Browser, launchChromium } from '../../scripts/status/chromium.ts';
import { listedJobs, seedHistory } from '../../scripts/status/history.ts';
import { type StatusStack, startStatusStack } from '../../scripts/status/local.ts';

const AUD = 'status-page-test-aud';
const JOB = 'delete-stale-empty-chats';
let s: StatusStack;
let team: AccessTeam;
let browser: Browser;
let status: string;

beforeAll(async () => {
  team = await startAccessTeam();
  s = await startStatusStack({
    dataDir: `.stack/browser-${process.pid}`,
    vars: { STATUS_ACCESS_TEAM_DOMAIN: team.url, STATUS_ACCESS_AUD: AUD },
  });
  // The browser runs on `localhost` (a secure context, where Chromium keeps Secure cookies over http).
  status = `${s.worker.url.replace('127.0.0.1', 'localhost')}/api/internal/status`;
  await seedHistory(s.db, await listedJobs(s.worker.url, s.secret), { now: new Date(), busy: false });
  // Counts that are not rows deleted (the outbox rows a purge clears) and a dry run's: the chart leaves both out.
  await s.db.query(
    `INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, finished_at, status, dry_run, counts)
     VALUES ('today-1', 'purge-deleted-blobs', 'scheduled', now(), now(), 'succeeded', false, '{"blobs": 5, "blob_deletions": 500}'),
            ('today-2', 'purge-deleted-blobs', 'http', now(), now(), 'succeeded', true, '{"blobs": 7000}')`,
  );
  await s.db.query(`INSERT INTO users (id, email) VALUES ('u1', 'u1@example.com')`);
  await s.db.query(
    `INSERT INTO chats (id, user_id, created_at) SELECT 'stale-' || i, 'u1', now() - interval '1 day' FROM generate_series(1, 7) i`,
  );
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await s?.stop();
  await team?.close();
});

/** Rows deleted per job and day over the chart's days, as job_runs has them (real runs' `deletes` counts). */
async function deletedByDay(): Promise<Map<string, number>> {
  const jobs = await listedJobs(s.worker.url, s.secret);
  const out = new Map<string, number>();
  const { rows } = await s.db.query(
    `SELECT job, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, counts FROM spacerr_jobs.job_runs
     WHERE NOT dry_run AND started_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - interval '29 days'`,
  );
  for (const r of rows as Array<{ job: string; day: string; counts: Record<string, number> }>) {
    const keys = jobs.find((j) => j.name === r.job)?.deletes ?? Object.keys(r.counts);
    const n = Object.entries(r.counts).reduce((sum, [k, v]) => sum + (keys.includes(k) ? v : 0), 0);
    if (n > 0) out.set(`${r.day}/${r.job}`, (out.get(`${r.day}/${r.job}`) ?? 0) + n);
  }
  return out;
}

describe('the status page in Chromium', () => {
  it('signs in (refusing a wrong secret), shows the charts from job_runs, dry-runs, pauses and resumes a job, signs out', async () => {
    const page = await browser.context.newPage();
    const first = await page.goto(status);
    expect(first?.status()).toBe(401);
    expect(page.url()).not.toContain(s.secret);

    await page.fill('input[name="secret"]', 'not-the-secret');
    const [refused] = await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    expect(refused?.status()).toBe(401);
    expect(await page.textContent('[role="alert"]')).toContain('Wrong secret');

    await page.fill('input[name="secret"]', s.secret);
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
    expect(page.url()).toBe(status);
    expect(page.url()).not.toContain(s.secret);
    const cookies = await browser.context.cookies(status);
    expect(cookies.map((c) => [c.name, c.httpOnly, c.secure, c.sameSite, c.path])).toEqual([
      ['__Secure-spacerr-status', true, true, 'Strict', '/api/internal/status'],
    ]);
    expect(await page.locator('#jobs tr[data-job]').count()).toBe((await listedJobs(s.worker.url, s.secret)).length);

    // The chart, read back from the SVG, is job_runs' month of deletions.
    const bars = await page.$$eval('#chart-deleted g[data-day] rect', (rects) =>
      rects.map(
        (r) =>
          [`${r.parentElement!.getAttribute('data-day')}/${r.getAttribute('data-key')}`, Number(r.getAttribute('data-value'))] as const,
      ),
    );
    expect(await page.locator('#chart-deleted g[data-day]').count()).toBe(30);
    expect(new Map(bars)).toEqual(await deletedByDay());
    expect(bars.length).toBeGreaterThan(30);
    const outcomes = await page.$$eval('#chart-outcomes rect[data-key="failed"]', (r) => r.length);
    expect(outcomes).toBeGreaterThan(0);
    expect(await page.locator('#failures tr[data-run]').count()).toBeGreaterThan(0);

    // Dry run: the job's button, then the confirm step, then the counts.
    const dryRuns = async () =>
      Number(
        (
          await s.db.query(
            `SELECT count(*) AS n FROM spacerr_jobs.job_runs WHERE job = $1 AND trigger = 'http' AND dry_run AND status = 'succeeded'`,
            [JOB],
          )
        ).rows[0].n,
      );
    const dryBefore = await dryRuns();
    await Promise.all([page.waitForNavigation(), page.click(`tr[data-job="${JOB}"] button[data-action="dry-run"]`)]);
    expect(await page.textContent('form.confirm')).toContain('Nothing is deleted');
    const [done] = await Promise.all([page.waitForNavigation(), page.click('form.confirm button[type="submit"]')]);
    expect(done?.status()).toBe(200);
    expect(await page.textContent('#result tr[data-count="chats"] td')).toBe('7');
    expect(await dryRuns()).toBe(dryBefore + 1);
    expect(Number((await s.db.query(`SELECT count(*) AS n FROM chats WHERE id LIKE 'stale-%'`)).rows[0].n)).toBe(7);

    // Pause: the job's button, the confirm step asks why; its next run is then skipped. Resume from the paused-jobs panel.
    const runNow = async () =>
      (await (
        await fetch(`${s.worker.url}/api/internal/jobs/${JOB}`, { method: 'POST', headers: { Authorization: `Bearer ${s.secret}` } })
      ).json()) as { status: string; paused?: { reason: string; by: string } };
    await Promise.all([page.waitForNavigation(), page.click(`tr[data-job="${JOB}"] button[data-action="pause"]`)]);
    expect(await page.textContent('form.confirm')).toContain(`Pause ${JOB}?`);
    await page.fill('form.confirm input[name="reason"]', 'checking the cutoff');
    const [pausedPage] = await Promise.all([page.waitForNavigation(), page.click('form.confirm button[type="submit"]')]);
    expect(pausedPage?.status()).toBe(200);
    expect(await page.textContent(`#pauses tr[data-paused="${JOB}"]`)).toContain('checking the cutoff');
    expect(await page.textContent(`#jobs tr[data-job="${JOB}"]`)).toContain('paused: checking the cutoff');
    expect(await runNow()).toMatchObject({ status: 'skipped', paused: { reason: 'checking the cutoff', by: 'secret' } });
    expect(Number((await s.db.query(`SELECT count(*) AS n FROM chats WHERE id LIKE 'stale-%'`)).rows[0].n)).toBe(7);
    await Promise.all([page.waitForNavigation(), page.click(`#pauses tr[data-paused="${JOB}"] button[data-action="resume"]`)]);
    const [resumedPage] = await Promise.all([page.waitForNavigation(), page.click('form.confirm button[type="submit"]')]);
    expect(resumedPage?.status()).toBe(200);
    expect(await page.textContent('#result')).toContain(`Resumed ${JOB}`);
    expect(await page.locator('#pauses tr[data-paused]').count()).toBe(0);
    expect((await s.db.query(`SELECT job FROM spacerr_jobs.job_pauses`)).rows).toEqual([]);

    // A form whose CSRF token was taken out is refused, and nothing runs.
    const before = Number((await s.db.query(`SELECT count(*) AS n FROM spacerr_jobs.job_runs WHERE trigger = 'http'`)).rows[0].n);
    await page.goto(status);
    await page.locator(`tr[data-job="${JOB}"] form:has(button[data-action="run"]) input[name="csrf"]`).evaluate((el) => el.remove());
    const [forged] = await Promise.all([page.waitForNavigation(), page.click(`tr[data-job="${JOB}"] button[data-action="run"]`)]);
    expect(forged?.status()).toBe(403);
    expect(Number((await s.db.query(`SELECT count(*) AS n FROM spacerr_jobs.job_runs WHERE trigger = 'http'`)).rows[0].n)).toBe(before);

    await page.goto(status);
    const [out] = await Promise.all([page.waitForNavigation(), page.click('header button[type="submit"]')]);
    expect(out?.status()).toBe(401);
    expect(await page.locator('input[name="secret"]').count()).toBe(1);
    expect(await browser.context.cookies(status)).toEqual([]);
    await page.close();
  });
});

describe('over plain fetch', () => {
  const signIn = (secret: string, ip: string) =>
    fetch(`${s.worker.url}/api/internal/status/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.worker.url, 'CF-Connecting-IP': ip },
      body: new URLSearchParams({ secret }),
    });

  it('refuses a wrong secret, and an action without its CSRF token', async () => {
    const wrong = await signIn('wrong', '192.0.2.10');
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    expect(wrong.headers.get('x-robots-tag')).toBe('noindex, nofollow, noarchive');
    expect(wrong.headers.get('cache-control')).toBe('no-store');

    const ok = await signIn(s.secret, '192.0.2.11');
    expect(ok.status).toBe(303);
    const cookie = (ok.headers.get('set-cookie') ?? '').split(';')[0]!;
    const action = (body: Record<string, string>) =>
      fetch(`${s.worker.url}/api/internal/status/actions/dry-run`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: s.worker.url, cookie },
        body: new URLSearchParams(body),
      });
    const res = await action({ job: JOB, confirm: 'yes' });
    expect(res.status).toBe(403);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('signs in a Cloudflare Access identity verified against the team certs, and no other token', async () => {
    const get = (token: string) => fetch(`${s.worker.url}/api/internal/status`, { headers: { 'Cf-Access-Jwt-Assertion': token } });
    const ok = await get(team.token('ops@example.com', AUD));
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('ops@example.com (Access)');
    expect(ok.headers.get('set-cookie')).toMatch(/^__Secure-spacerr-status=.*HttpOnly.*Secure.*SameSite=Strict/);
    expect(team.requests()).toBeGreaterThanOrEqual(1);

    const { privateKey: stranger } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    for (const token of [
      team.token('ops@example.com', 'another-aud'),
      team.token('ops@example.com', AUD, { iss: 'https://other.cloudflareaccess.com' }),
      team.token('ops@example.com', AUD, { exp: Math.floor(Date.now() / 1000) - 60 }),
      team.token('ops@example.com', AUD, { key: stranger }),
      'not.a.token',
    ]) {
      const res = await get(token);
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });
});
