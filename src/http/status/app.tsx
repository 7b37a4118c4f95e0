/**
 * The status page at /api/internal/status: the one route under /api/internal/ that does not take
 * a bearer token (docs/contract.md, §6). A browser signs in with CRON_SECRET in a form (POST, so
 * the secret is never in a URL) or by a Cloudflare Access identity, and gets a signed session
 * cookie scoped to this path. Every POST passes two checks: Hono's CSRF middleware (the request
 * comes from this origin: `Origin` or `Sec-Fetch-Site`), which also covers the sign-in form that
 * no session protects yet, and the session's own CSRF token, which a page of another origin
 * cannot read. Failed sign-ins are counted per client IP in Upstash and refused past the limit.
 *
 * A request passes the page's headers, Hono's CSRF check, then its route's chain: `withDeps` (the
 * settings and clients, src/http/invocation.ts) first, since the sign-in itself needs them (the
 * Access settings, the session length, Redis for the failure count, and the form shows whether
 * Access is set), then the session check (`withSession`) for a POST that acts. A wrong method
 * answers 405 before any setting is read.
 */
import { type Context, Hono } from 'hono';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { timingSafeEqual } from 'hono/utils/buffer';
import { logEvent, publicMessage } from '../../log';
import { type DepsEnv, withDeps } from '../invocation';
import { actionJob, findAction, takesJob } from './actions';
import { ACCESS_HEADER, accessIdentity } from './access';
import { loadPage } from './data';
import { checkCsrf, csrfToken, endSession, readSession, type Session, sessionKey, STATUS_PATH, startSession } from './session';
import { countSignIn } from './sign-in-limit';
import { ConfirmPage, Layout, SignInPage, StatusPage } from './view';

type StatusEnv = DepsEnv & { Variables: { session: Session; key: string } };

/** Only the browser's own: no script, no frame, forms to this origin. */
const CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export function statusApp() {
  const app = new Hono<StatusEnv>();
  app.use('*', async function statusHeaders(c, next) {
    await next();
    c.res.headers.set('Content-Security-Policy', CSP);
    c.res.headers.set('Referrer-Policy', 'no-referrer');
    c.res.headers.set('X-Content-Type-Options', 'nosniff');
  });
  app.use('*', csrf());
  app.get('/', withDeps, async function statusPage(c) {
    const now = new Date();
    const session = await currentSession(c, now);
    if (!session) return signInForm(c, 401);
    const data = await loadPage(c.var.deps, { now, who: session.session.who, csrf: await csrfToken(session.key, session.session) });
    return c.html(<StatusPage data={data} />);
  });
  app.post('/sign-in', withDeps, async function signIn(c) {
    const { deps } = c.var;
    const key = await sessionKey(c.env.CRON_SECRET);
    const form = await c.req.parseBody();
    const given = typeof form.secret === 'string' ? form.secret : '';
    const right = key !== undefined && given.length > 0 && (await timingSafeEqual(c.env.CRON_SECRET!, given));
    const ip = c.req.header('CF-Connecting-IP') ?? 'unknown';
    const verdict = await countSignIn(deps.redis, ip, !right, {
      maxFailures: deps.config.statusSigninMaxFailures,
      windowMinutes: deps.config.statusSigninWindowMinutes,
    });
    if (!verdict.allowed) {
      logEvent('warn', 'status_sign_in', { outcome: 'rate_limited', ip, retryAfter: verdict.retryAfter });
      c.header('Retry-After', String(verdict.retryAfter));
      return signInForm(c, 429, `Too many failed sign-ins from this address; try again in ${Math.ceil(verdict.retryAfter / 60)} min.`);
    }
    if (!right) {
      logEvent('warn', 'status_sign_in', { outcome: 'refused', ip, left: verdict.left });
      return signInForm(c, 401, `Wrong secret. ${verdict.left} attempts left before this address is refused for a while.`);
    }
    await startSession(c, key, 'secret', deps.config.statusSessionHours, new Date());
    logEvent('info', 'status_sign_in', { outcome: 'signed_in', ip, who: 'secret' });
    return c.redirect(STATUS_PATH, 303);
  });
  app.post('/sign-out', withDeps, withSession(), async function signOut(c) {
    endSession(c);
    return c.redirect(STATUS_PATH, 303);
  });
  app.post('/actions/:action', withDeps, withSession(), async function act(c) {
    const action = findAction(c.req.param('action') ?? '');
    const form = await c.req.parseBody();
    const text = (name: string) => (typeof form[name] === 'string' ? (form[name] as string).trim() : '');
    const job = action ? actionJob(action, text('job') || undefined) : undefined;
    if (!action || (takesJob(action) && !job)) return problem(c, 404, 'No such action, or it does not apply to that job.');
    const fields = Object.fromEntries((action.fields ?? []).map((f) => [f.name, text(f.name)]));
    const session = c.get('session');
    const now = new Date();
    const input = { job, fields, who: session.who, now };
    const token = await csrfToken(c.get('key'), session);
    // The confirm step asks for the action's fields; only a confirmed form with all of them acts.
    if (text('confirm') !== 'yes') return c.html(<ConfirmPage action={action} input={input} csrf={token} who={session.who} />);
    const missing = (action.fields ?? []).find((f) => f.required && !fields[f.name]);
    if (missing) return problem(c, 400, `${missing.label} is required.`);
    const { deps } = c.var;
    let result;
    try {
      result = await action.perform(deps, input);
    } catch (err) {
      result = { ok: false, title: `${action.label} failed`, message: publicMessage(err) };
    }
    const data = await loadPage(deps, { now: new Date(), who: session.who, csrf: token });
    return c.html(<StatusPage data={data} result={result} />, result.ok ? 200 : (result.refused ?? 500));
  });
  // The page's own error boundary: an HTML page with the error's class and message (never SQL, a
  // stack or a secret), logged like the JSON routes' errors.
  app.onError(function statusError(err, c) {
    if (err instanceof HTTPException) return err.getResponse();
    logEvent('error', 'http_error', { path: c.req.path, method: c.req.method, error: publicMessage(err) });
    return problem(c, 500, `The page could not be built: ${publicMessage(err)}`);
  });
  app.all('/', methodNotAllowed('GET'));
  app.all('/sign-in', methodNotAllowed('POST'));
  app.all('/sign-out', methodNotAllowed('POST'));
  app.all('/actions/:action', methodNotAllowed('POST'));
  return app;
}

/** The session of a request: its cookie's, or a new one for a valid Cloudflare Access identity. */
async function currentSession(c: Context<StatusEnv>, now: Date) {
  const key = await sessionKey(c.env.CRON_SECRET);
  if (key === undefined) return undefined;
  const session = await readSession(c, key, now);
  if (session) return { key, session };
  const { config } = c.var.deps;
  const access = config.statusAccess;
  if (!access) return undefined;
  const who = await accessIdentity(c.req.header(ACCESS_HEADER), access, now.getTime());
  if (!who) return undefined;
  logEvent('info', 'status_sign_in', { outcome: 'signed_in', who });
  return { key, session: await startSession(c, key, who, config.statusSessionHours, now) };
}

/** A POST under the page: a valid session, and its CSRF token in the form (403 without); after `withDeps`. */
function withSession() {
  return async function sessionAndToken(c: Context<StatusEnv>, next: () => Promise<void>) {
    const found = await currentSession(c, new Date());
    if (!found) return signInForm(c, 401, 'Your session has ended; sign in again.');
    const form = await c.req.parseBody();
    if (!(await checkCsrf(found.key, found.session, form.csrf))) {
      return problem(c, 403, 'The form was not sent by this page (its CSRF token is missing or wrong). Reload the page and try again.');
    }
    c.set('session', found.session);
    c.set('key', found.key);
    await next();
  };
}

function signInForm(c: Context<StatusEnv>, status: 401 | 429, message?: string) {
  return c.html(<SignInPage message={message} accessConfigured={c.var.deps.config.statusAccess !== undefined} />, status);
}

function problem(c: Context<StatusEnv>, status: 400 | 403 | 404 | 500, message: string) {
  return c.html(
    <Layout title="spacerr-jobs">
      <main>
        <p class="bad" role="alert">
          {message}
        </p>
        <a href={STATUS_PATH}>Back to the status page</a>
      </main>
    </Layout>,
    status,
  );
}

/**
 * The page's 405, as text, one `app.all` per route. Not Hono's method-not-allowed: in an app
 * mounted under a path it matches the request's path with the mount path cut off, so a PUT on
 * `/api/internal/status/` (a path no route has, GET included: 404) would get "Use GET.".
 */
function methodNotAllowed(method: string) {
  return function statusMethodNotAllowed(c: Context<StatusEnv>) {
    return c.text(`Use ${method}.`, 405, { Allow: method });
  };
}
