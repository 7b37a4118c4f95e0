/**
 * The legal holds API (docs/contract.md, §6) through the Worker's Hono app against a real
 * database: bearer auth, the documented statuses for bad input, and what each call leaves in
 * spacerr_jobs.legal_holds.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/http/app';
import { provisionEnv, q, sql, type TestEnv, testDb } from './support';

const SECRET = 'holds-api-secret-0123456789';
const app = createApp();
let e: TestEnv;

beforeAll(async () => {
  e = await provisionEnv({ CRON_SECRET: SECRET });
});

const call = (path: string, init: RequestInit = {}) => app.request(path, init, e as unknown as Env);
const authed = (init: RequestInit = {}) => ({ ...init, headers: { Authorization: `Bearer ${SECRET}`, ...(init.headers ?? {}) } });
const post = (body: unknown) =>
  call('/api/internal/holds', authed({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
const rows = () => q(testDb(e), sql`SELECT user_id, reason, placed_by, until IS NULL AS open FROM spacerr_jobs.legal_holds ORDER BY 1`);

describe('the holds API', () => {
  it('places, lists and lifts a hold', async () => {
    const placed = await post({ userId: 'acct-1', reason: 'chargeback dispute', by: 'ops', until: '2099-06-30' });
    expect(placed.status).toBe(201);
    expect(placed.headers.get('Cache-Control')).toBe('no-store');
    const { hold } = (await placed.json()) as { hold: Record<string, unknown> };
    expect(hold).toEqual({
      userId: 'acct-1',
      reason: 'chargeback dispute',
      by: 'ops',
      since: expect.any(String),
      until: '2099-06-30T00:00:00.000Z',
    });
    expect(Date.parse(hold.since as string)).not.toBeNaN();

    expect((await post({ userId: 'acct-2', reason: 'legal request' })).status).toBe(201);
    const listed = await call('/api/internal/holds', authed());
    expect(listed.status).toBe(200);
    const { holds } = (await listed.json()) as { holds: Array<Record<string, unknown>> };
    expect(holds.map((h) => [h.userId, h.by, h.until])).toEqual(
      expect.arrayContaining([
        ['acct-1', 'ops', '2099-06-30T00:00:00.000Z'],
        ['acct-2', null, null],
      ]),
    );

    const lifted = await call('/api/internal/holds/acct-2', authed({ method: 'DELETE' }));
    expect(lifted.status).toBe(200);
    expect(await lifted.json()).toEqual({ lifted: true });
    // Lifted: no longer active (its record stays, ended); lifting again finds no active hold.
    expect(await rows()).toEqual([
      { user_id: 'acct-1', reason: 'chargeback dispute', placed_by: 'ops', open: false },
      { user_id: 'acct-2', reason: 'legal request', placed_by: null, open: false },
    ]);
    const again = await call('/api/internal/holds/acct-2', authed({ method: 'DELETE' }));
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: 'no_hold' });
    expect((await call('/api/internal/holds/nobody', authed({ method: 'DELETE' }))).status).toBe(404);
  });

  it('lifts a hold whose user id needs escaping in the path', async () => {
    expect((await post({ userId: 'org/42 ü', reason: 'r' })).status).toBe(201);
    const res = await call(`/api/internal/holds/${encodeURIComponent('org/42 ü')}`, authed({ method: 'DELETE' }));
    expect(res.status).toBe(200);
    expect((await rows()).find((r) => r.user_id === 'org/42 ü')).toMatchObject({ open: false });
  });

  it.each<[string, unknown]>([
    ['no reason', { userId: 'x' }],
    ['an empty reason', { userId: 'x', reason: '  ' }],
    ['no userId', { reason: 'r' }],
    ['a numeric userId', { userId: 42, reason: 'r' }],
    ['an unknown field', { userId: 'x', reason: 'r', untill: '2099-01-01' }],
    ['a date that does not exist', { userId: 'x', reason: 'r', until: '2099-02-30' }],
    ['a date that is not ISO 8601', { userId: 'x', reason: 'r', until: '30/06/2099' }],
    ['a date in the past', { userId: 'x', reason: 'r', until: '2020-01-01' }],
    ['a time without a zone', { userId: 'x', reason: 'r', until: '2099-01-01T10:00' }],
    ['a numeric until', { userId: 'x', reason: 'r', until: 4102444800000 }],
    ['an array', [{ userId: 'x', reason: 'r' }]],
    ['a reason too long', { userId: 'x', reason: 'r'.repeat(1001) }],
  ])('refuses %s with 400 and places nothing', async (_name, body) => {
    const res = await post(body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'bad_request', message: expect.any(String) });
    expect((await rows()).map((r) => r.user_id)).not.toContain('x');
  });

  it('refuses a body that is not JSON with 400', async () => {
    const res = await call('/api/internal/holds', authed({ method: 'POST', body: 'userId=x&reason=r' }));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'bad_request' });
  });

  it.each([
    ['GET', '/api/internal/holds'],
    ['POST', '/api/internal/holds'],
    ['DELETE', '/api/internal/holds/acct-1'],
  ])('answers %s %s without the bearer secret with 401, changing nothing', async (method, path) => {
    const before = await rows();
    const res = await call(path, {
      method,
      headers: { 'content-type': 'application/json', Authorization: 'Bearer wrong' },
      ...(method === 'POST' ? { body: JSON.stringify({ userId: 'y', reason: 'r' }) } : {}),
    });
    expect(res.status).toBe(401);
    expect(await rows()).toEqual(before);
  });

  it.each([
    ['PUT', '/api/internal/holds', 'GET, POST'],
    ['GET', '/api/internal/holds/acct-1', 'DELETE'],
  ])('answers %s %s with 405 and Allow: %s', async (method, path, allow) => {
    const res = await call(path, authed({ method }));
    expect(res.status).toBe(405);
    expect(res.headers.get('Allow')).toBe(allow);
  });
});
