/**
 * The legal holds API (docs/contract.md, §6), bearer auth like every JSON route:
 * GET /api/internal/holds → `{ holds }`; POST /api/internal/holds `{ userId, reason, until?, by? }`
 * → 201 `{ hold }`; DELETE /api/internal/holds/:userId → `{ lifted: true }`, or 404 when the account
 * has no active hold. One Postgres request each.
 */
import type { Context } from 'hono';
import type { Db } from '../db/client';
import { type Hold, liftHold, listHolds, placeHold } from '../db/holds';
import { fromEnv } from '../deps';
import { logEvent } from '../log';
import type { AppEnv } from './app';
import { checkHoldRequest, checkLiftRequest, type HoldRequest } from './hold-input';

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
  const hold = await placeHoldLogged(fromEnv(c.env).db, checked.value, now);
  return c.json({ hold }, 201);
}

export async function liftHoldRoute(c: Context<AppEnv>) {
  const userId = checkLiftRequest(c.req.param('userId') ?? '');
  if (!userId.ok) return c.json({ error: 'bad_request', message: userId.message }, 400);
  if (!(await liftHoldLogged(fromEnv(c.env).db, userId.value))) return c.json({ error: 'no_hold', message: NO_HOLD }, 404);
  return c.json({ lifted: true });
}

/** What lifting a hold an account does not have answers. */
export const NO_HOLD = 'This account has no active hold.';

/** Places a hold (a checked request) and logs `hold_placed`, for the route and the status page. One request. */
export async function placeHoldLogged(db: Db, h: HoldRequest, now: Date): Promise<Hold> {
  const hold = await placeHold(db, h, now);
  logEvent('info', 'hold_placed', { userId: hold.userId, by: hold.by, until: hold.until });
  return hold;
}

/** Lifts the account's active hold and logs `hold_lifted`; false (nothing logged) when it had none. One request. */
export async function liftHoldLogged(db: Db, userId: string): Promise<boolean> {
  const lifted = await liftHold(db, userId);
  if (lifted) logEvent('info', 'hold_lifted', { userId });
  return lifted;
}
