/**
 * The headers every response under /api/internal/ carries, errors and the status page included:
 * search engines do not index it and no cache keeps it.
 */
import type { MiddlewareHandler } from 'hono';

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
