/**
 * The status page through the Worker's own handler (`app.request`), against the real stack: its
 * sign-in (form POST, signed session cookie, rate limit in Upstash), its CSRF checks, its actions
 * (recorded in job_runs like the HTTP route's) and what it shows (the chart's figures from
 * job_runs, the failures). The browser test (test/browser/) drives the same page in Chromium.
 */
import { serializeSigned } from 'hono/utils/cookie';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../src/http/app';
import type { StatusAction } from '../../src/http/status/actions';
import { loadPage } from '../../src/http/status/data';
import { sessionKey } from '../../src/http/status/session';
import { StatusPage } from '../../src/http/status/view';
import { fromEnv } from '../../src/deps';
import { JOBS } from '../../src/jobs';
import { seedAccount } from './seed';
import { endpointStats, provisionEnv, q, setFault, sql, type TestEnv, testDb } from './support';

const SECRET = 'status-page-secret-0123456789';
const PATH = '/api/internal/status';
const ORIGIN = 'http://localhost';
const app = createApp();
let e: TestEnv;
let ipSeq = 0;
/** Each test signs in from an address of its own, so the failure counts never mix. */
let ip = '';

beforeAll(async () => {
  e = await provisionEnv({ CRON_SECRET: SECRET, STATUS_SIGNIN_MAX_FAILURES: '3' });
});
beforeEach(() => {
  ip = `203.0.113.${++ipSeq}`;
});

const call = (path: string, init: RequestInit = {}, env: Partial<Env> = e) => app.request(`${ORIGIN}${path}`, init, env as Env);
const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  method: 'POST',
  body: new URLSearchParams(fields),
  headers: { 'content-type': 'application/x-www-form-urlencoded', Origin: ORIGIN, 'CF-Connecting-IP': ip, ...headers },
});

function expectInternalHeaders(res: Response) {
  expect(res.headers.get('X-Robots-Tag')).toBe('noindex, nofollow, noarchive');
  expect(res.headers.get('Cache-Control')).toBe('no-store');
}

/** Signs in with the secret; the session cookie as a Cookie header value. */
async function signIn(): Promise<string> {
  const res = await call(`${PATH}/sign-in`, form({ secret: SECRET }));
  expect(res.status).toBe(303);
  return (res.headers.get('Set-Cookie') ?? '').split(';')[0]!;
}

/** The page as a signed-in browser gets it, and the CSRF token of its forms. */
async function page(cookie: string) {
  const res = await call(PATH, { headers: { Cookie: cookie } });
  const html = await res.text();
  return { res, html, csrf: /name="csrf" value="([0-9a-f]+)"/.exec(html)?.[1] ?? '' };
}

const runsOf = (job: string) =>
  q<{ trigger: string; dry_run: boolean; status: string }>(
    testDb(e),
    sql`SELECT trigger, dry_run, status FROM spacerr_jobs.job_runs WHERE job = ${job} ORDER BY started_at`,
  );

describe('sign-in', () => {
  it('shows the form to a browser without a session, and reads nothing', async () => {
    const before = await endpointStats(e);
    const res = await call(PATH);
    expect(res.status).toBe(401);
    expectInternalHeaders(res);
    const html = await res.text();
    expect(html).toContain(`action="${PATH}/sign-in"`);
    expect(html).toMatch(/<input[^>]*name="secret"[^>]*type="password"/);
    expect(html).not.toContain('<table id="jobs"');
    expect(await endpointStats(e)).toEqual(before);
  });

  it('sets a signed, HttpOnly, Secure, SameSite=Strict cookie scoped to the page, with an expiry', async () => {
    const res = await call(`${PATH}/sign-in`, form({ secret: SECRET }));
    expect(res.status).toBe(303);
    expect(res.headers.get('Location')).toBe(PATH);
    expectInternalHeaders(res);
    const cookie = res.headers.get('Set-Cookie') ?? '';
    expect(cookie).toMatch(/^__Secure-spacerr-status=/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('Secure');
    expect(cookie).toContain('SameSite=Strict');
    expect(cookie).toContain(`Path=${PATH}`);
    expect(cookie).toContain(`Max-Age=${8 * 3600}`);
    expect(cookie).not.toContain(SECRET);
    const { res: shown, html } = await page(cookie.split(';')[0]!);
    expect(shown.status).toBe(200);
    expectInternalHeaders(shown);
    for (const job of JOBS) expect(html).toContain(`data-job="${job.name}"`);
  });

  it('refuses a wrong secret with 401, counted per IP, and 429 past the limit even for the right secret', async () => {
    for (const left of [2, 1, 0]) {
      const res = await call(`${PATH}/sign-in`, form({ secret: `${SECRET}x` }));
      expect(res.status).toBe(401);
      expect(res.headers.get('Set-Cookie')).toBeNull();
      expect(await res.text()).toContain(`${left} attempts left`);
    }
    const blocked = await call(`${PATH}/sign-in`, form({ secret: SECRET }));
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('Retry-After'))).toBeGreaterThan(0);
    expect(blocked.headers.get('Set-Cookie')).toBeNull();
    expectInternalHeaders(blocked);
    // Another address is not affected.
    ip = '198.51.100.7';
    expect((await call(`${PATH}/sign-in`, form({ secret: SECRET }))).status).toBe(303);
  });

  it('refuses a sign-in posted from another origin (no session yet to hold a token)', async () => {
    const res = await call(`${PATH}/sign-in`, form({ secret: SECRET }, { Origin: 'https://evil.example' }));
    expect(res.status).toBe(403);
    expect(res.headers.get('Set-Cookie')).toBeNull();
  });

  it('takes no sign-in at all while CRON_SECRET is unset', async () => {
    const res = await call(`${PATH}/sign-in`, form({ secret: 'undefined' }), { ...e, CRON_SECRET: undefined });
    expect(res.status).toBe(401);
    expect(res.headers.get('Set-Cookie')).toBeNull();
  });

  it('ignores a cookie whose signature, key or expiry is wrong', async () => {
    const key = (await sessionKey(SECRET))!;
    const later = Math.floor(Date.now() / 1000) + 3600;
    const cookie = async (value: string, k = key) =>
      (await serializeSigned('__Secure-spacerr-status', value, k, { secure: true })).split(';')[0]!;
    const good = await cookie(`${later}.s1.secret`);
    expect((await page(good)).res.status).toBe(200);
    expect((await page(await cookie(`${Math.floor(Date.now() / 1000) - 1}.s1.secret`))).res.status).toBe(401);
    expect((await page(await cookie(`${later}.s1.secret`, (await sessionKey('another-secret'))!))).res.status).toBe(401);
    expect((await page(good.replace('s1.secret', 's2.secret'))).res.status).toBe(401);
  });

  it('keeps bearer auth on the JSON routes: a session cookie is no token', async () => {
    const cookie = await signIn();
    const res = await call('/api/internal/jobs', { headers: { Cookie: cookie } });
    expect(res.status).toBe(401);
  });

  it('signs out: the cookie is cleared, and sign-out needs the CSRF token', async () => {
    const cookie = await signIn();
    const { csrf } = await page(cookie);
    expect((await call(`${PATH}/sign-out`, form({}, { Cookie: cookie }))).status).toBe(403);
    const res = await call(`${PATH}/sign-out`, form({ csrf }, { Cookie: cookie }));
    expect(res.status).toBe(303);
    expect(res.headers.get('Set-Cookie')).toMatch(/^__Secure-spacerr-status=;.*Max-Age=0/);
  });
});

describe('actions', () => {
  const JOB = 'delete-stale-empty-chats';
  beforeEach(async () => {
    await testDb(e).execute(sql`TRUNCATE spacerr_jobs.job_runs`);
  });

  it('refuses an action without the CSRF token, with another session’s, or from another origin: nothing runs', async () => {
    const cookie = await signIn();
    const other = await page(await signIn());
    const { csrf } = await page(cookie);
    const post = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
      call(`${PATH}/actions/run`, form({ job: JOB, confirm: 'yes', ...fields }, { Cookie: cookie, ...headers }));
    expect((await post({})).status).toBe(403);
    expect((await post({ csrf: other.csrf })).status).toBe(403);
    expect((await post({ csrf }, { Origin: 'https://evil.example' })).status).toBe(403);
    expect((await call(`${PATH}/actions/run`, form({ job: JOB, confirm: 'yes', csrf }))).status).toBe(401);
    expect(await runsOf(JOB)).toEqual([]);
  });

  it('asks to confirm first, then dry-runs and shows the counts, recorded as an http run', async () => {
    await seedAccount(testDb(e), new Date(), { id: 'u-dry', chats: [{ ageMinutes: 60 }, { ageMinutes: 60 }, { ageMinutes: 1 }] });
    const cookie = await signIn();
    const { csrf } = await page(cookie);
    const ask = await call(`${PATH}/actions/dry-run`, form({ job: JOB, csrf }, { Cookie: cookie }));
    expect(ask.status).toBe(200);
    const question = await ask.text();
    expect(question).toContain('name="confirm" value="yes"');
    expect(await runsOf(JOB)).toEqual([]);

    const done = await call(`${PATH}/actions/dry-run`, form({ job: JOB, csrf, confirm: 'yes' }, { Cookie: cookie }));
    expect(done.status).toBe(200);
    const html = await done.text();
    expect(html).toMatch(/<tr data-count="chats"><th>chats<\/th><td class="n">2<\/td>/);
    expect(await runsOf(JOB)).toEqual([{ trigger: 'http', dry_run: true, status: 'succeeded' }]);
    expect(await q(testDb(e), sql`SELECT id FROM chats WHERE user_id = 'u-dry'`)).toHaveLength(3);
  });

  it('runs a job now, deleting what is due, recorded as an http run', async () => {
    await seedAccount(testDb(e), new Date(), { id: 'u-run', chats: [{ ageMinutes: 60 }, { ageMinutes: 1 }] });
    const cookie = await signIn();
    const { csrf } = await page(cookie);
    const done = await call(`${PATH}/actions/run`, form({ job: JOB, csrf, confirm: 'yes' }, { Cookie: cookie }));
    expect(done.status).toBe(200);
    expect(await runsOf(JOB)).toEqual([{ trigger: 'http', dry_run: false, status: 'succeeded' }]);
    expect(await q(testDb(e), sql`SELECT id FROM chats WHERE user_id = 'u-run'`)).toHaveLength(1);
  });

  it('requeues parked rows, only for a job that parks', async () => {
    const db = testDb(e);
    await db.execute(sql`TRUNCATE spacerr_jobs.blob_deletions`);
    await db.execute(sql`
      INSERT INTO spacerr_jobs.blob_deletions (blob_key, attempts, parked_at, next_attempt_at)
      VALUES ('p/1', 8, now(), now() + interval '1 day'), ('p/2', 8, now(), now() + interval '1 day'), ('due/3', 1, NULL, now())`);
    const cookie = await signIn();
    const { csrf } = await page(cookie);
    const wrong = await call(`${PATH}/actions/requeue`, form({ job: JOB, csrf, confirm: 'yes' }, { Cookie: cookie }));
    expect(wrong.status).toBe(404);
    const res = await call(`${PATH}/actions/requeue`, form({ job: 'purge-deleted-blobs', csrf, confirm: 'yes' }, { Cookie: cookie }));
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('2 parked rows are due again');
    expect(await q(db, sql`SELECT count(*)::int AS n FROM spacerr_jobs.blob_deletions WHERE parked_at IS NOT NULL`)).toEqual([{ n: 0 }]);
  });
});

describe('pause, resume and holds', () => {
  const JOB = 'delete-stale-empty-chats';
  const bearer = { Authorization: `Bearer ${SECRET}` };
  const runNow = async () =>
    (await (await call(`/api/internal/jobs/${JOB}`, { method: 'POST', headers: bearer })).json()) as Record<string, unknown>;
  const section = (html: string, id: string) => {
    const at = html.indexOf(`<section id="${id}"`);
    return at < 0 ? '' : html.slice(at, html.indexOf('</section>', at));
  };
  let logs: string[] = [];
  beforeEach(async () => {
    const db = testDb(e);
    await db.execute(sql`TRUNCATE spacerr_jobs.job_runs, spacerr_jobs.job_pauses, spacerr_jobs.legal_holds`);
    logs = [];
    vi.spyOn(console, 'log').mockImplementation((line: unknown) => void logs.push(String(line)));
  });
  afterEach(() => vi.restoreAllMocks());
  const logged = (event: string) => logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === event);

  /** Posts an action's confirmed form with this session's token. */
  async function act(cookie: string, csrf: string, action: string, fields: Record<string, string>) {
    const res = await call(`${PATH}/actions/${action}`, form({ csrf, confirm: 'yes', ...fields }, { Cookie: cookie }));
    return { status: res.status, html: await res.text() };
  }

  it('pauses a job through its confirm step: the next run is skipped with the reason and who paused it; resume lets it run', async () => {
    await seedAccount(testDb(e), new Date(), { id: 'u-paused', chats: [{ ageMinutes: 60 }] });
    const cookie = await signIn();
    const { csrf } = await page(cookie);
    const ask = await call(`${PATH}/actions/pause`, form({ job: JOB, csrf }, { Cookie: cookie }));
    expect(ask.status).toBe(200);
    expect(await ask.text()).toMatch(/<input name="reason" type="text" value="" required=""/);
    expect(await q(testDb(e), sql`SELECT job FROM spacerr_jobs.job_pauses`)).toEqual([]);

    const paused = await act(cookie, csrf, 'pause', { job: JOB, reason: 'incident 7: checking the cutoff' });
    expect(paused.status).toBe(200);
    expect(section(paused.html, 'pauses')).toMatch(
      new RegExp(`<tr data-paused="${JOB}"><td>${JOB}</td><td>incident 7: checking the cutoff</td><td>secret</td>`),
    );
    expect(paused.html).toMatch(/name="job" value="delete-stale-empty-chats"\/><button type="submit" data-action="resume"/);
    expect(logged('job_paused')).toEqual([
      { level: 'info', event: 'job_paused', job: JOB, reason: 'incident 7: checking the cutoff', by: 'secret', since: expect.any(String) },
    ]);
    const skipped = await runNow();
    expect(skipped).toMatchObject({ status: 'skipped', paused: { job: JOB, reason: 'incident 7: checking the cutoff', by: 'secret' } });
    expect(await q(testDb(e), sql`SELECT id FROM chats WHERE user_id = 'u-paused'`)).toHaveLength(1);

    const resumed = await act(cookie, csrf, 'resume', { job: JOB });
    expect(resumed.status).toBe(200);
    expect(resumed.html).toContain(`Resumed ${JOB}`);
    expect(section(resumed.html, 'pauses')).not.toContain('data-paused');
    expect(logged('job_resumed')).toEqual([{ level: 'info', event: 'job_resumed', job: JOB, resumed: true }]);
    expect(await runNow()).toMatchObject({ status: 'succeeded', counts: { chats: 1 } });
  });

  it('places a hold (listed with who placed it), lifts it (listed as ended), and a second lift finds none', async () => {
    const cookie = await signIn();
    const { csrf } = await page(cookie);
    const placed = await act(cookie, csrf, 'place-hold', { userId: 'u-held', reason: 'chargeback dispute', until: '2099-06-30' });
    expect(placed.status).toBe(200);
    expect(section(placed.html, 'holds')).toMatch(
      /<tr data-hold="u-held"><td>u-held<\/td><td>chargeback dispute<\/td><td>secret<\/td><td>[^<]+<\/td><td>2099-06-30 00:00 UTC<\/td>/,
    );
    expect(logged('hold_placed')).toEqual([
      { level: 'info', event: 'hold_placed', userId: 'u-held', by: 'secret', until: '2099-06-30T00:00:00.000Z' },
    ]);
    const listed = (await (await call('/api/internal/holds', { headers: bearer })).json()) as { holds: unknown[] };
    expect(listed.holds).toEqual([
      { userId: 'u-held', reason: 'chargeback dispute', by: 'secret', since: expect.any(String), until: '2099-06-30T00:00:00.000Z' },
    ]);

    const lifted = await act(cookie, csrf, 'lift-hold', { userId: 'u-held' });
    expect(lifted.status).toBe(200);
    expect(section(lifted.html, 'holds')).not.toContain('data-hold="u-held"');
    expect(section(lifted.html, 'holds')).toMatch(/<tr data-ended-hold="u-held"><td>u-held<\/td><td>chargeback dispute<\/td>/);
    expect(logged('hold_lifted')).toEqual([{ level: 'info', event: 'hold_lifted', userId: 'u-held' }]);

    const again = await act(cookie, csrf, 'lift-hold', { userId: 'u-held' });
    expect(again.status).toBe(404);
    expect(again.html).toContain('This account has no active hold.');
  });

  it('refuses bad input with 400, as the JSON routes do, and changes nothing', async () => {
    const cookie = await signIn();
    const { csrf } = await page(cookie);
    const refusals: Array<[string, Record<string, string>, string]> = [
      ['pause', { job: JOB, reason: 'x'.repeat(501) }, 'reason is longer than 500 characters.'],
      ['pause', { job: JOB, reason: '' }, 'Reason is required.'],
      ['place-hold', { userId: 'u-1', reason: 'r', until: '2020-01-01' }, 'until must be in the future'],
      ['place-hold', { userId: 'u-1', reason: 'r', until: '2099-02-30' }, 'until must be an ISO 8601 date'],
      ['place-hold', { userId: 'u'.repeat(201), reason: 'r' }, 'userId is longer than 200 characters.'],
      ['lift-hold', { userId: 'u'.repeat(201) }, 'userId is longer than 200 characters.'],
    ];
    for (const [action, fields, message] of refusals) {
      const res = await act(cookie, csrf, action, fields);
      expect([action, res.status]).toEqual([action, 400]);
      expect(res.html).toContain(message);
    }
    expect((await act(cookie, csrf, 'pause', { job: 'no-such-job', reason: 'r' })).status).toBe(404);
    expect(await q(testDb(e), sql`SELECT job FROM spacerr_jobs.job_pauses`)).toEqual([]);
    expect(await q(testDb(e), sql`SELECT user_id FROM spacerr_jobs.legal_holds`)).toEqual([]);
  });

  it('refuses pause, resume, place and lift without the CSRF token: nothing changes', async () => {
    const db = testDb(e);
    await db.execute(sql`INSERT INTO spacerr_jobs.job_pauses (job, reason, since) VALUES ('clear-stale-streams', 'r', now())`);
    await db.execute(sql`INSERT INTO spacerr_jobs.legal_holds (user_id, reason, since) VALUES ('u-kept', 'r', now())`);
    const cookie = await signIn();
    for (const [action, fields] of [
      ['pause', { job: JOB, reason: 'r' }],
      ['resume', { job: 'clear-stale-streams' }],
      ['place-hold', { userId: 'u-new', reason: 'r' }],
      ['lift-hold', { userId: 'u-kept' }],
    ] as const) {
      const res = await call(`${PATH}/actions/${action}`, form({ confirm: 'yes', ...fields }, { Cookie: cookie }));
      expect([action, res.status]).toEqual([action, 403]);
    }
    expect(await q(db, sql`SELECT job FROM spacerr_jobs.job_pauses`)).toEqual([{ job: 'clear-stale-streams' }]);
    expect(await q(db, sql`SELECT user_id, until FROM spacerr_jobs.legal_holds`)).toEqual([{ user_id: 'u-kept', until: null }]);
    for (const event of ['job_paused', 'job_resumed', 'hold_placed', 'hold_lifted']) expect(logged(event)).toEqual([]);
  });

  it('shows paused jobs, holds and missed slots in four Postgres requests', async () => {
    const db = testDb(e);
    await db.execute(
      sql`INSERT INTO spacerr_jobs.job_pauses (job, reason, paused_by, since) VALUES ('clear-stale-streams', 'redis move', 'ana', now())`,
    );
    await db.execute(sql`
      INSERT INTO spacerr_jobs.legal_holds (user_id, reason, placed_by, since, until)
      VALUES ('u-active', 'fraud review', 'bo', now(), NULL), ('u-ended', 'old dispute', NULL, now() - interval '2 days', now() - interval '1 day')`);
    await db.execute(sql`
      INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, finished_at, status, dry_run, slot, missed)
      VALUES ('catch-1', 'delete-stale-deactivated-accounts', 'scheduled', now(), now(), 'succeeded', false,
              '2026-12-01T00:00:00Z', '["2026-11-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z"]')`);
    const cookie = await signIn();
    const before = await endpointStats(e);
    const { html } = await page(cookie);
    const after = await endpointStats(e);
    expect(after.neonRequests - before.neonRequests).toBe(4);
    expect(section(html, 'pauses')).toMatch(
      /<tr data-paused="clear-stale-streams"><td>clear-stale-streams<\/td><td>redis move<\/td><td>ana<\/td>/,
    );
    expect(html).toMatch(/<tr data-job="clear-stale-streams">.*?<div class="bad">paused: redis move<\/div>/s);
    expect(section(html, 'holds')).toContain('<tr data-hold="u-active"><td>u-active</td><td>fraud review</td><td>bo</td>');
    expect(section(html, 'holds')).not.toContain('data-hold="u-ended"');
    expect(section(html, 'holds')).toContain('<tr data-ended-hold="u-ended"><td>u-ended</td><td>old dispute</td>');
    expect(section(html, 'missed')).toMatch(
      /<tr data-missed="delete-stale-deactivated-accounts"><td>delete-stale-deactivated-accounts<\/td><td>2026-11-01 00:00 UTC, 2026-12-01 00:00 UTC<\/td><td>[^<]+<\/td><td><span class="ok">caught up<\/span> <code class="muted">catch-1<\/code>/,
    );
  });
});

describe('what it shows', () => {
  it('charts rows deleted per day per job and run outcomes from job_runs, and lists the latest failures', async () => {
    const db = testDb(e);
    await db.execute(sql`TRUNCATE spacerr_jobs.job_runs`);
    const day = (n: number) => new Date(Date.now() - n * 86_400_000);
    const iso = (n: number) => day(n).toISOString().slice(0, 10);
    const run = (id: string, job: string, ago: number, status: string, counts: object, dryRun = false, error: string | null = null) =>
      db.execute(sql`
        INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, finished_at, status, dry_run, counts, error)
        VALUES (${id}, ${job}, 'scheduled', ${day(ago)}, ${day(ago)}, ${status}, ${dryRun}, ${JSON.stringify(counts)}::jsonb, ${error})`);
    await run('a', 'delete-stale-empty-chats', 2, 'succeeded', { chats: 40, attachments: 2 });
    await run('b', 'delete-stale-empty-chats', 2, 'succeeded', { chats: 10, attachments: 0 });
    await run('c', 'delete-stale-empty-chats', 2, 'succeeded', { chats: 999 }, true); // a dry run deletes nothing
    // Only the blobs themselves are rows deleted; the outbox rows and kept keys are bookkeeping.
    await run('d', 'purge-deleted-blobs', 2, 'succeeded', { blobs: 7, blob_deletions: 9, reused_keys_kept: 2 });
    await run('e', 'purge-deleted-blobs', 5, 'failed', {}, false, 'NeonDbError: connection lost');
    await run('f', 'purge-deleted-blobs', 5, 'skipped', {});
    await run('g', 'delete-stale-empty-chats', 40, 'succeeded', { chats: 5000 }); // older than the chart
    const { html } = await page(await signIn());
    const bar = (chart: string, dayAgo: number, key: string) => {
      const svg = html.slice(html.indexOf(`id="${chart}"`), html.indexOf('</svg>', html.indexOf(`id="${chart}"`)));
      const g = svg.slice(svg.indexOf(`data-day="${iso(dayAgo)}"`));
      const m = new RegExp(`data-key="${key}" data-value="(\\d+)"`).exec(g.slice(0, g.indexOf('</g>')));
      return m ? Number(m[1]) : 0;
    };
    expect(bar('chart-deleted', 2, 'delete-stale-empty-chats')).toBe(52);
    expect(bar('chart-deleted', 2, 'purge-deleted-blobs')).toBe(7);
    expect(bar('chart-outcomes', 2, 'succeeded')).toBe(4);
    expect(bar('chart-outcomes', 5, 'failed')).toBe(1);
    expect(bar('chart-outcomes', 5, 'skipped')).toBe(1);
    expect(html).not.toContain('5000');
    const failures = html.slice(html.indexOf('<table id="failures"'));
    expect(failures).toMatch(/<td>purge-deleted-blobs<\/td><td>scheduled<\/td><td>run<\/td><td><code>NeonDbError: connection lost<\/code>/);
  });
});

describe('when Postgres fails', () => {
  it('answers an HTML 500 naming the error class, with the internal headers, and recovers', async () => {
    const cookie = await signIn();
    await setFault(e, 'neon', 'http500');
    try {
      const res = await call(PATH, { headers: { Cookie: cookie } });
      expect(res.status).toBe(500);
      expectInternalHeaders(res);
      expect(res.headers.get('content-type')).toContain('text/html');
      const html = await res.text();
      expect(html).toContain('The page could not be built: NeonDbError');
      expect(html).not.toContain('SELECT');
      expect(html).not.toContain(SECRET);
    } finally {
      await setFault(e, 'neon', 'none');
    }
    expect((await page(cookie)).res.status).toBe(200);
  });
});

describe('the panels and actions other modules add', () => {
  it('draws pauses, holds and missed slots when set, with their actions on each row and a page form for page actions', async () => {
    const data = await loadPage(fromEnv(e), { now: new Date(), who: 'secret', csrf: 'tok' });
    const act = (name: string, scope: StatusAction['scope'], fields: StatusAction['fields'] = []): StatusAction => ({
      name,
      label: name,
      scope,
      fields,
      confirm: () => name,
      perform: async () => ({ ok: true, title: name, message: '' }),
    });
    const actions = [
      act('pause', 'job', [{ name: 'reason', label: 'Reason', required: true }]),
      act('resume', 'pause'),
      act('lift-hold', 'hold', [{ name: 'userId', label: 'Account', required: true }]),
      act('place-hold', 'page', [{ name: 'userId', label: 'Account', required: true }]),
    ];
    const since = '2026-11-30T10:00:00.000Z';
    const html = String(
      await StatusPage({
        data: {
          ...data,
          pauses: [{ job: 'purge-deleted-blobs', reason: 'R2 incident', by: 'ana', since }],
          holds: [{ userId: 'u-42', reason: 'legal request', by: null, since, until: null }],
          missed: [
            {
              job: 'delete-stale-deactivated-accounts',
              slots: ['2026-11-01T00:00:00.000Z'],
              runId: 'r-1',
              status: 'succeeded',
              foundAt: since,
            },
          ],
        },
        actions,
      })!.toString(),
    );
    const section = (id: string) =>
      html.slice(html.indexOf(`<section id="${id}"`), html.indexOf('</section>', html.indexOf(`<section id="${id}"`)));
    expect(section('pauses')).toContain('R2 incident');
    expect(section('pauses')).toMatch(/name="job" value="purge-deleted-blobs"\/><button type="submit" data-action="resume"/);
    expect(section('holds')).toMatch(/name="userId" value="u-42"\/><button type="submit" data-action="lift-hold"/);
    expect(section('missed')).toContain('2026-11-01 00:00 UTC');
    expect(html).toMatch(/<form method="post" action="\/api\/internal\/status\/actions\/place-hold" id="action-place-hold">/);
    for (const job of data.listing.jobs.filter((j) => j.enabled)) {
      expect(html).toMatch(new RegExp(`name="job" value="${job.name}"/><button type="submit" data-action="pause"`));
    }
    // Without the sections, no panel.
    const { pauses: _p, holds: _h, endedHolds: _e, missed: _m, ...noSections } = data;
    const bare = String(await StatusPage({ data: noSections, actions })!.toString());
    expect(bare).not.toContain('<section id="pauses"');
    expect(bare).not.toContain('<section id="holds"');
  });
});
