/**
 * Bearer auth for every /api/internal/ route, on Hono's bearer-auth middleware. It runs before
 * anything else (config, clients, database), and fails closed: with CRON_SECRET unset or empty no
 * token matches, so `Bearer undefined` can never be valid. Hono answers a malformed header with
 * 400; the contract (docs/contract.md, §6) wants 401 for every failure, so each failure message
 * is a 401 response.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { timingSafeEqual } from 'hono/utils/buffer';

const UNAUTHORIZED_BODY = JSON.stringify({ error: 'unauthorized', message: 'Send Authorization: Bearer <CRON_SECRET>.' });

/** Builds the auth middleware; the secret is read per request from `c.env.CRON_SECRET`. */
export function cronSecretAuth(): MiddlewareHandler<{ Bindings: Env }> {
  const unauthorized = () => new Response(UNAUTHORIZED_BODY, { status: 401, headers: { 'content-type': 'application/json' } });
  return bearerAuth({
    verifyToken: verifyCronSecret,
    noAuthenticationHeader: { message: unauthorized },
    invalidAuthenticationHeader: { message: unauthorized, wwwAuthenticateHeader: 'Bearer error="invalid_request"' },
    invalidToken: { message: unauthorized },
  });
}

async function verifyCronSecret(token: string, c: Context<{ Bindings: Env }>): Promise<boolean> {
  const secret = c.env.CRON_SECRET;
  if (typeof secret !== 'string' || secret.length === 0) return false;
  // Hashes both sides before comparing, so neither length nor a shared prefix shows in the timing.
  return timingSafeEqual(secret, token);
}
