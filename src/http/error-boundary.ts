/**
 * The one error boundary of the JSON routes. Errors reach the caller as a class and a short
 * message: never SQL, a stack or a secret. A bad setting is a 500 naming the variable.
 */
import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ConfigError } from '../config/parse';
import { logEvent, publicMessage } from '../log';

export const onError: ErrorHandler = (err: Error, c: Context) => {
  if (err instanceof HTTPException) return err.getResponse();
  if (err instanceof ConfigError) {
    logEvent('error', 'config_invalid', { path: c.req.path, variable: err.variable, error: err.message });
    return c.json({ error: 'config_invalid', message: err.message }, 500);
  }
  logEvent('error', 'http_error', { path: c.req.path, method: c.req.method, error: publicMessage(err) });
  return c.json({ error: 'internal_error', message: 'The request failed; see the Worker logs.' }, 500);
};
