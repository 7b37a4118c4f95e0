/**
 * The legal holds API (docs/contract.md, §6), bearer auth like every JSON route:
 * GET /api/internal/holds → `{ holds }`; POST /api/internal/holds `{ userId, reason, until?, by? }`
 * → 201 `{ hold }`; DELETE /api/internal/holds/:userId → `{ lifted: true }`, or 404 when the account
 * has no active hold. One Postgres request each.
 */
import type { Context } from 'hono';
import { liftHold, listHolds, placeHold } from '../db/holds';
import { fromEnv } from '../deps';
import { logEvent } from '../log';
import type { AppEnv } from './app';
import { checkHoldRequest, HOLD_LIMITS } from './hold-input';

export async function listHoldsRoute(c: Context<AppEnv>) {
  const { db } = fromEnv(c.env);
  return c.json({ holds: await listHolds(db) });
}

export async function placeHoldRoute(c: Context<AppEnv>) {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return c.json({ error: 'bad_request', message: 'The body must be JSON: { "userId", "reason", "until"?, "by"? }.' }, 400);
  }
  const now = new Date();
  const checked = checkHoldRequest(body, now);
  if (!checked.ok) return c.json({ error: 'bad_request', message: checked.message }, 400);
  const { db } = fromEnv(c.env);
  const hold = await placeHold(db, checked.value, now);
  logEvent('info', 'hold_placed', { userId: hold.userId, by: hold.by, until: hold.until });
  return c.json({ hold }, 201);
}

export async function liftHoldRoute(c: Context<AppEnv>) {
  const userId = c.req.param('userId') ?? '';
  if (userId.length > HOLD_LIMITS.userId)
    return c.json({ error: 'bad_request', message: `userId is longer than ${HOLD_LIMITS.userId} characters.` }, 400);
  const { db } = fromEnv(c.env);
  if (!(await liftHold(db, userId))) return c.json({ error: 'no_hold', message: 'This account has no active hold.' }, 404);
  logEvent('info', 'hold_lifted', { userId });
  return c.json({ lifted: true });
}
