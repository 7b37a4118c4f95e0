/**
 * The status page's session: a cookie signed with HMAC-SHA256 (Hono's signed cookies, Web Crypto)
 * under a key derived from CRON_SECRET, so rotating the secret ends every session. The signed
 * value carries its own expiry, checked here (the cookie's Max-Age only tells the browser), a
 * random session id and who signed in. The CSRF token of a session is an HMAC of its id: a form
 * posted without the token of the session that sent the cookie is refused.
 */
import type { Context } from 'hono';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import { timingSafeEqual } from 'hono/utils/buffer';

/** The only path the cookie is sent to: the page and its forms. */
export const STATUS_PATH = '/api/internal/status';
/** Sent as `__Secure-spacerr-status` (the prefix makes browsers insist on Secure). */
const COOKIE = 'spacerr-status';
const KEY_LABEL = 'spacerr-jobs status session v1';

export interface Session {
  /** Random, per sign-in: what the CSRF token is bound to. */
  id: string;
  /** `secret` (signed in with CRON_SECRET) or `access:<email>` (a Cloudflare Access identity). */
  who: string;
  /** Epoch seconds. */
  expiresAt: number;
}

/** The key sessions are signed with, as Hono's signed cookies take it; undefined without CRON_SECRET. */
export async function sessionKey(cronSecret: unknown): Promise<string | undefined> {
  if (typeof cronSecret !== 'string' || cronSecret.length === 0) return undefined;
  return toHex(await hmac(cronSecret, KEY_LABEL));
}

/** Starts a session for `who` lasting `hours` from `now`: sets the cookie, returns the session. */
export async function startSession(c: Context, key: string, who: string, hours: number, now: Date): Promise<Session> {
  const session: Session = { id: crypto.randomUUID(), who, expiresAt: Math.floor(now.getTime() / 1000) + hours * 3600 };
  const value = [session.expiresAt, session.id, encodeURIComponent(who)].join('.');
  await setSignedCookie(c, COOKIE, value, key, {
    prefix: 'secure',
    path: STATUS_PATH,
    httpOnly: true,
    secure: true,
    sameSite: 'Strict',
    maxAge: hours * 3600,
  });
  return session;
}

/** The session the request's cookie holds, if its signature is right and it has not expired. */
export async function readSession(c: Context, key: string, now: Date): Promise<Session | undefined> {
  const value = await getSignedCookie(c, key, COOKIE, 'secure');
  if (typeof value !== 'string') return undefined;
  const [exp, id, who] = value.split('.');
  const expiresAt = Number(exp);
  if (!id || who === undefined || !Number.isSafeInteger(expiresAt)) return undefined;
  if (expiresAt <= Math.floor(now.getTime() / 1000)) return undefined;
  return { id, who: decodeURIComponent(who), expiresAt };
}

/** Ends the session in this browser: the cookie is replaced by an expired one. */
export function endSession(c: Context): void {
  deleteCookie(c, COOKIE, { prefix: 'secure', path: STATUS_PATH, httpOnly: true, secure: true, sameSite: 'Strict' });
}

/** The CSRF token of `session`: every action form carries it. */
export async function csrfToken(key: string, session: Session): Promise<string> {
  return toHex(await hmac(key, `csrf.${session.id}`));
}

/** Whether `token` is the CSRF token of `session` (constant time). */
export async function checkCsrf(key: string, session: Session, token: unknown): Promise<boolean> {
  if (typeof token !== 'string' || token.length === 0) return false;
  return timingSafeEqual(await csrfToken(key, session), token);
}

async function hmac(key: string, data: string): Promise<ArrayBuffer> {
  const enc = new TextEncoder();
  const k = await crypto.subtle.importKey('raw', enc.encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', k, enc.encode(data));
}

function toHex(buf: ArrayBuffer): string {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
