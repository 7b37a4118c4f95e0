import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app';
import { seedAccount } from './seed';
import { endpointStats, provisionEnv, q, setFault, sql, type TestEnv, testDb } from './support';

const SECRET = 'k7Qx9-real-cron-secret_2026';
const app = createApp();
let e: TestEnv;

beforeAll(async () => {
  e = await provisionEnv({ CRON_SECRET: SECRET });
});

const call = (path: string, init: RequestInit = {}, env: Partial<Env> = e) => app.request(path, init, env as Env);
const authed = (extra: RequestInit = {}) => ({ ...extra, headers: { Authorization: `Bearer ${SECRET}`, ...(extra.headers ?? {}) } });

function expectInternalHeaders(res: Response) {
  expect(res.headers.get('X-Robots-Tag')).toBe('noindex, nofollow, noarchive');
  expect(res.headers.get('Cache-Control')).toBe('no-store');
}

describe('bearer auth', () => {
  const flipped = SECRET.slice(0, 5) + (SECRET[5] === 'a' ? 'b' : 'a') + SECRET.slice(6);
  const cases: Array<[string, Record<string, string>, Partial<Env>?]> = [
    ['no Authorization header', {}],
    ['Basic scheme', { Authorization: `Basic ${btoa(`user:${SECRET}`)}` }],
    ['Bearer with no token', { Authorization: 'Bearer' }],
    ['Bearer and a space', { Authorization: 'Bearer ' }],
    ['a wrong token', { Authorization: 'Bearer not-the-secret' }],
    ['the secret with one character changed', { Authorization: `Bearer ${flipped}` }],
    ['a prefix of the secret', { Authorization: `Bearer ${SECRET.slice(0, -1)}` }],
    ['the secret plus a character', { Authorization: `Bearer ${SECRET}x` }],
    ['the secret without the scheme', { Authorization: SECRET }],
    ['another scheme with the secret', { Authorization: `Token ${SECRET}` }],
    ['the secret followed by junk', { Authorization: `Bearer ${SECRET} extra` }],
    ['a very long header', { Authorization: `Bearer ${'a'.repeat(12_000)}` }],
    ['non-ASCII token', { Authorization: 'Bearer sécret' }],
    ['Bearer undefined with CRON_SECRET unset', { Authorization: 'Bearer undefined' }, { CRON_SECRET: undefined }],
    ['Bearer null with CRON_SECRET unset', { Authorization: 'Bearer null' }, { CRON_SECRET: undefined }],
    ['Bearer undefined with CRON_SECRET empty', { Authorization: 'Bearer undefined' }, { CRON_SECRET: '' }],
    ['an empty token with CRON_SECRET empty', { Authorization: 'Bearer ' }, { CRON_SECRET: '' }],
  ];

  it.each(cases)('%s → 401 and not a single database or Redis request', async (_name, headers, envOverride) => {
    const before = await endpointStats(e);
    for (const [method, path] of [
      ['POST', '/api/internal/jobs/delete-stale-empty-chats'],
      ['GET', '/api/internal/jobs'],
      ['GET', '/api/internal/health'],
    ] as const) {
      const res = await call(path, { method, headers }, { ...e, ...envOverride });
      expect(res.status).toBe(401);
      expect(res.headers.get('WWW-Authenticate')).toMatch(/^Bearer/);
      expectInternalHeaders(res);
      const body = await res.text();
      expect(body).not.toContain(SECRET);
      expect(JSON.parse(body)).toMatchObject({ error: 'unauthorized' });
    }
    expect(await endpointStats(e)).toEqual(before);
  });

  it('accepts the right secret', async () => {
    const res = await call('/api/internal/health', authed());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, postgres: { ok: true }, redis: { ok: true } });
    expectInternalHeaders(res);
  });
});

describe('routes', () => {
  it('runs a job by GET and by POST, answering the run report', async () => {
    const db = testDb(e);
    await seedAccount(db, new Date(), { id: 'u', chats: [{ ageMinutes: 60 }, { ageMinutes: 60 }, { ageMinutes: 1 }] });
    const dry = await call('/api/internal/jobs/delete-stale-empty-chats?dryRun=1', authed());
    expect(dry.status).toBe(200);
    expectInternalHeaders(dry);
    expect(await dry.json()).toMatchObject({
      job: 'delete-stale-empty-chats',
      status: 'succeeded',
      dryRun: true,
      counts: { chats: 2 },
      more: false,
    });
    expect(await q(db, sql`SELECT count(*)::int AS n FROM chats`)).toEqual([{ n: 3 }]);

    const res = await call('/api/internal/jobs/delete-stale-empty-chats', authed({ method: 'POST' }));
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      job: 'delete-stale-empty-chats',
      status: 'succeeded',
      dryRun: false,
      counts: { chats: 2, attachments: 0 },
      more: false,
      subrequests: 3,
    });
    expect(body.runId).toMatch(/^[0-9a-f-]{36}$/);
    expect(body.durationMs).toEqual(expect.any(Number));
    expect(await q(db, sql`SELECT count(*)::int AS n FROM chats`)).toEqual([{ n: 1 }]);
  });

  it('lists the jobs with their crons and last runs', async () => {
    const res = await call('/api/internal/jobs', authed());
    expect(res.status).toBe(200);
    const { jobs } = (await res.json()) as { jobs: Array<{ name: string; cron: string; lastRun: unknown }> };
    expect(jobs.map((j) => [j.name, j.cron])).toEqual([
      ['delete-stale-deactivated-accounts', '0 0 1 * *'],
      ['delete-stale-empty-chats', '0 */12 * * *'],
      ['purge-deleted-blobs', '*/10 * * * *'],
      ['delete-stripe-customers', '*/10 * * * *'],
      ['clear-stale-streams', '*/10 * * * *'],
      ['delete-orphaned-message-sources', '*/10 * * * *'],
      ['deliver-account-events', '*/10 * * * *'],
    ]);
    expect(jobs.find((j) => j.name === 'delete-stale-empty-chats')?.lastRun).toMatchObject({ status: 'succeeded' });
  });

  it.each([
    ['unknown job', 'GET', '/api/internal/jobs/drop-everything', 404],
    ['unknown route', 'GET', '/api/internal/nope', 404],
    ['PUT on a job', 'PUT', '/api/internal/jobs/delete-stale-empty-chats', 405],
    ['DELETE on the list', 'DELETE', '/api/internal/jobs', 405],
    ['dryRun=yes', 'GET', '/api/internal/jobs/delete-stale-empty-chats?dryRun=yes', 400],
    ['dryRun twice', 'GET', '/api/internal/jobs/delete-stale-empty-chats?dryRun=1&dryRun=0', 400],
    ['account on a job with no single item', 'POST', '/api/internal/jobs/delete-stale-empty-chats?account=u', 400],
    ['account twice', 'POST', '/api/internal/jobs/delete-stale-deactivated-accounts?account=u&account=v', 400],
    ['account empty', 'POST', '/api/internal/jobs/delete-stale-deactivated-accounts?account=', 400],
    ['account with dryRun', 'POST', '/api/internal/jobs/delete-stale-deactivated-accounts?account=u&dryRun=1', 400],
  ])('%s → %s %s answers %i with the internal headers', async (_n, method, path, status) => {
    const res = await call(path, authed({ method }));
    expect(res.status).toBe(status);
    expectInternalHeaders(res);
    expect(await res.json()).toHaveProperty('error');
  });

  it('fails a run with 500 and a message that carries no SQL, stack or connection string', async () => {
    const broken = await provisionEnv({ CRON_SECRET: SECRET });
    await setFault(broken, 'neon', 'http500');
    const res = await call('/api/internal/jobs/delete-stale-empty-chats', authed(), broken);
    expect([500]).toContain(res.status);
    expectInternalHeaders(res);
    const text = await res.text();
    for (const leak of ['postgres://', 'SELECT', 'DELETE FROM', '    at ', SECRET, broken.DATABASE_URL]) expect(text).not.toContain(leak);
    const health = await call('/api/internal/health', authed(), broken);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ ok: false, postgres: { ok: false }, redis: { ok: true } });
  });

  it('answers a bad config with 500 naming the variable, after auth, deleting nothing', async () => {
    const res = await call('/api/internal/jobs/delete-stale-empty-chats', authed(), { ...e, EMPTY_CHAT_MIN_AGE_MINUTES: 'abc' });
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: 'config_invalid', message: expect.stringContaining('EMPTY_CHAT_MIN_AGE_MINUTES') });
  });
});
