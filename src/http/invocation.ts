/**
 * The invocation's dependencies on the request context: {@link withDeps} builds them once
 * (src/deps.ts: the settings checked, the clients built) and sets `c.var.deps`; a route reads them
 * there. A route names it in its chain after auth and after its own input checks, so an
 * unauthenticated request never parses config, and a wrong path, method or input gets its 404,
 * 405 or 400 whatever the settings. A bad setting throws ConfigError, which the error boundary
 * answers with 500 `config_invalid` naming the variable.
 */
import { createMiddleware } from 'hono/factory';
import { fromEnv, type Invocation } from '../deps';

/** What every route has: the Worker's bindings. */
export type AppEnv = { Bindings: Env };
/** What a route has past {@link withDeps}: the bindings and `c.var.deps`. */
export type DepsEnv = AppEnv & { Variables: { deps: Invocation } };

/** Builds the invocation's dependencies from `c.env` and sets `c.var.deps`; throws ConfigError. */
export const withDeps = createMiddleware<DepsEnv>(async function invocationDeps(c, next) {
  c.set('deps', fromEnv(c.env));
  await next();
});
