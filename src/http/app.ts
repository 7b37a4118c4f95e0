/**
 * The HTTP side (docs/contract.md, §6). Order matters: internal headers wrap everything (so 401/404/405/500
 * carry them too), auth runs before any config parsing or I/O, then the clients are built. The
 * status page (src/http/status/) signs its browser in by a session cookie instead of the bearer token.
 */
import { type Context, Hono } from 'hono';
import { except } from 'hono/combine';
import type { Invocation } from '../deps';
import { cronSecretAuth } from './auth';
import { onError, withInternalHeaders } from './errors';
import { liftHoldRoute, listHoldsRoute, placeHoldRoute } from './holds';
import { healthRoute, listJobsRoute, pauseRoute, requeueRoute, resumeRoute, runJobRoute } from './routes';
import { statusApp } from './status/app';
import { STATUS_PATH } from './status/session';

export type AppEnv = { Bindings: Env; Variables: { deps: Invocation } };

export function createApp() {
  const app = new Hono<AppEnv>();
  app.use('/api/internal/*', withInternalHeaders(), except([STATUS_PATH, `${STATUS_PATH}/*`], cronSecretAuth()));
  app.route(STATUS_PATH, statusApp());
  app.get('/api/internal/health', healthRoute);
  app.get('/api/internal/jobs', listJobsRoute);
  // Hono routes HEAD as GET (and drops the body); a HEAD from a link checker or an uptime probe
  // must never run a job.
  const getOrPost = allowOnly('GET', 'POST');
  app.use('/api/internal/jobs/:job', async function refuseHead(c, next) {
    if (c.req.method === 'HEAD') return getOrPost(c);
    await next();
  });
  app.post('/api/internal/jobs/:job/requeue', requeueRoute);
  app.all('/api/internal/jobs/:job/requeue', allowOnly('POST'));
  app.post('/api/internal/jobs/:job/pause', pauseRoute);
  app.all('/api/internal/jobs/:job/pause', allowOnly('POST'));
  app.post('/api/internal/jobs/:job/resume', resumeRoute);
  app.all('/api/internal/jobs/:job/resume', allowOnly('POST'));
  app.on(['GET', 'POST'], '/api/internal/jobs/:job', runJobRoute);
  app.all('/api/internal/jobs/:job', getOrPost);
  app.all('/api/internal/jobs', allowOnly('GET'));
  app.all('/api/internal/health', allowOnly('GET'));
  app.get('/api/internal/holds', listHoldsRoute);
  app.post('/api/internal/holds', placeHoldRoute);
  app.all('/api/internal/holds', allowOnly('GET', 'POST'));
  app.delete('/api/internal/holds/:userId', liftHoldRoute);
  app.all('/api/internal/holds/:userId', allowOnly('DELETE'));
  app.notFound((c) => c.json({ error: 'not_found', message: 'No such route.' }, 404));
  app.onError(onError);
  return app;
}

/** The 405 of a route that answers only `methods`: `Use GET or POST.`, with the Allow header. */
function allowOnly(...methods: string[]) {
  return function methodNotAllowed(c: Context<AppEnv>) {
    return c.json({ error: 'method_not_allowed', message: `Use ${methods.join(' or ')}.` }, 405, { Allow: methods.join(', ') });
  };
}
