/**
 * The legal holds API (docs/contract.md, §6), bearer auth like every JSON route:
 * GET /api/internal/holds → `{ holds }`; POST /api/internal/holds `{ userId, reason, until?, by? }`
 * → 201 `{ hold }`; DELETE /api/internal/holds/:userId → `{ lifted: true }`, or 404 when the account
 * has no active hold. One Postgres request each. Each route checks its input (400) before
 * {@link withDeps} builds the settings and clients, like the job routes (src/http/routes.ts).
 */
import { createFactory, createMiddleware } from 'hono/factory';
import { listHolds } from '../db/holds';
import { checkHoldRequest, checkLiftRequest, type HoldRequest } from './hold-input';
import { type AppEnv, withDeps } from './invocation';
import { liftHoldLogged, NO_HOLD, placeHoldLogged } from './operations';

const factory = createFactory<AppEnv>();

/** The body of a hold to place as `c.var.hold`, checked at `c.var.now`; 400 otherwise. */
const holdBody = createMiddleware<AppEnv & { Variables: { hold: HoldRequest; now: Date } }>(async function holdBody(c, next) {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return c.json({ error: 'bad_request', message: 'The body must be JSON: { "userId", "reason", "until"?, "by"? }.' }, 400);
  }
  const now = new Date();
  const checked = checkHoldRequest(body, now);
  if (!checked.ok) return c.json({ error: 'bad_request', message: checked.message }, 400);
  c.set('hold', checked.value);
  c.set('now', now);
  await next();
});

/** The path's `:userId` as `c.var.userId`; 400 otherwise. */
const heldAccount = createMiddleware<AppEnv & { Variables: { userId: string } }>(async function heldAccount(c, next) {
  const userId = checkLiftRequest(c.req.param('userId') ?? '');
  if (!userId.ok) return c.json({ error: 'bad_request', message: userId.message }, 400);
  c.set('userId', userId.value);
  await next();
});

export const listHoldsRoute = factory.createHandlers(withDeps, async function holds(c) {
  return c.json({ holds: await listHolds(c.var.deps.db) });
});

export const placeHoldRoute = factory.createHandlers(holdBody, withDeps, async function placeHold(c) {
  const hold = await placeHoldLogged(c.var.deps.db, c.var.hold, c.var.now);
  return c.json({ hold }, 201);
});

export const liftHoldRoute = factory.createHandlers(heldAccount, withDeps, async function liftHold(c) {
  if (!(await liftHoldLogged(c.var.deps.db, c.var.userId))) return c.json({ error: 'no_hold', message: NO_HOLD }, 404);
  return c.json({ lifted: true });
});
