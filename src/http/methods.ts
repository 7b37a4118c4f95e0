/**
 * The 405 of the JSON routes, on Hono's method-not-allowed middleware: a method a route does not
 * take gets `{ error: 'method_not_allowed', message: 'Use GET or POST.' }` and `Allow: GET, POST`.
 * And the HEAD guard of the run route, which Hono's middleware does not give: Hono answers a HEAD
 * with the GET handler (and drops the body), so a HEAD from a link checker or an uptime probe
 * would run the job.
 */
import type { Context, Hono, MiddlewareHandler } from 'hono';
import { methodNotAllowed } from 'hono/method-not-allowed';
import type { AppEnv } from './invocation';

/**
 * Turns the 404 of a path whose route takes other methods into our 405. Hono's lists HEAD beside
 * every GET; the answer names the methods a caller sends (HEAD still reaches a GET route).
 */
export function wrongMethod(app: Hono<AppEnv>): MiddlewareHandler<AppEnv> {
  return methodNotAllowed({
    app,
    onMethodNotAllowed: (c, methods) =>
      useOnly(
        c,
        methods.filter((m) => m !== 'HEAD'),
      ),
  });
}

/** A HEAD on a route that runs something: 405, the route's `methods` in `Allow`, nothing run. */
export function refuseHead(...methods: string[]): MiddlewareHandler<AppEnv> {
  return async function headGuard(c, next) {
    if (c.req.method === 'HEAD') return useOnly(c, methods);
    await next();
  };
}

function useOnly(c: Context<AppEnv>, methods: string[]) {
  return c.json({ error: 'method_not_allowed', message: `Use ${methods.join(' or ')}.` }, 405, { Allow: methods.join(', ') });
}
