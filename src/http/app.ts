/**
 * The HTTP side (docs/contract.md, §6). Every request under /api/internal/ passes, in order:
 * 1. {@link withInternalHeaders}: it sets its headers on whatever leaves, 401/404/405/500 included;
 * 2. {@link cronSecretAuth} (not on the status page, which signs its browser in by a session
 *    cookie: src/http/status/): nothing else runs for a request that fails it;
 * 3. {@link wrongMethod}: a path whose route takes other methods answers 405 instead of 404;
 * 4. the route's chain: its input checks, then `withDeps` (the settings and clients, built
 *    once, on `c.var.deps`), then its handler. The run route refuses a HEAD first.
 * Errors end in {@link onError} (the status page has its own); a path no route has is a 404.
 */
import { Hono } from 'hono';
import { except } from 'hono/combine';
import { cronSecretAuth } from './auth';
import { onError } from './error-boundary';
import { liftHoldRoute, listHoldsRoute, placeHoldRoute } from './holds';
import { withInternalHeaders } from './internal-headers';
import type { AppEnv } from './invocation';
import { refuseHead, wrongMethod } from './methods';
import { healthRoute, listJobsRoute, pauseRoute, requeueRoute, resumeRoute, runJobRoute } from './routes';
import { statusApp } from './status/app';
import { STATUS_PATH } from './status/session';

export function createApp() {
  const app = new Hono<AppEnv>();
  app.use('/api/internal/*', withInternalHeaders(), except([STATUS_PATH, `${STATUS_PATH}/*`], cronSecretAuth()), wrongMethod(app));
  app.route(STATUS_PATH, statusApp());
  app.get('/api/internal/health', ...healthRoute);
  app.get('/api/internal/jobs', ...listJobsRoute);
  app.use('/api/internal/jobs/:job', refuseHead('GET', 'POST'));
  app.on(['GET', 'POST'], '/api/internal/jobs/:job', ...runJobRoute);
  app.post('/api/internal/jobs/:job/requeue', ...requeueRoute);
  app.post('/api/internal/jobs/:job/pause', ...pauseRoute);
  app.post('/api/internal/jobs/:job/resume', ...resumeRoute);
  app.get('/api/internal/holds', ...listHoldsRoute);
  app.post('/api/internal/holds', ...placeHoldRoute);
  app.delete('/api/internal/holds/:userId', ...liftHoldRoute);
  app.notFound((c) => c.json({ error: 'not_found', message: 'No such route.' }, 404));
  app.onError(onError);
  return app;
}
