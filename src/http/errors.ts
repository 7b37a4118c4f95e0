/**
 * The one error boundary of the HTTP side, and the headers every internal response carries.
 * Errors reach the caller as a class and a short message: never SQL, a stack or a secret.
 */
import type { Context, ErrorHandler, MiddlewareHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ConfigError } from '../config/parse';
import { publicMessage } from '../log';
import { logEvent } from '../log';

export const INTERNAL_HEADERS = {
  'X-Robots-Tag': 'noindex, nofollow, noarchive',
  'Cache-Control': 'no-store',
} as const;

/** Sets the internal headers on whatever response leaves, errors included. */
export function withInternalHeaders(): MiddlewareHandler {
  return async function internalHeaders(c, next) {
    await next();
    for (const [name, value] of Object.entries(INTERNAL_HEADERS)) c.res.headers.set(name, value);
  };
}

export const onError: ErrorHandler = (err: Error, c: Context) => {
  if (err instanceof HTTPException) return err.getResponse();
  if (err instanceof ConfigError) {
    logEvent('error', 'config_invalid', { path: c.req.path, variable: err.variable, error: err.message });
    return c.json({ error: 'config_invalid', message: err.message }, 500);
  }
  logEvent('error', 'http_error', { path: c.req.path, method: c.req.method, error: publicMessage(err) });
  return c.json({ error: 'internal_error', message: 'The request failed; see the Worker logs.' }, 500);
};
