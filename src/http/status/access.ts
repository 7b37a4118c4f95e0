/**
 * Cloudflare Access in front of the Worker: Access sends the signed-in user's identity as a JWT in
 * `Cf-Access-Jwt-Assertion` (RS256, signed by the team's keys at
 * `<team domain>/cdn-cgi/access/certs`, `aud` the application's AUD tag, `iss` the team domain).
 * A token that verifies against those keys, for that audience and issuer, unexpired, signs the
 * request in; anything else is no identity at all (the sign-in form still works).
 */
import { Jwt } from 'hono/utils/jwt';
import type { HonoJsonWebKey as Jwk } from 'hono/utils/jwt/jws';

export interface AccessSettings {
  /** `https://<team>.cloudflareaccess.com` (no trailing slash). */
  teamDomain: string;
  /** The Access application's Application Audience (AUD) tag. */
  aud: string;
}

export const ACCESS_HEADER = 'Cf-Access-Jwt-Assertion';
/**
 * Access rotates the team's signing key every six weeks and keeps serving the previous one for 7
 * days after, so keys cached for an hour still verify every token Access signs.
 */
const CERTS_TTL_MS = 3600_000;
/** A token naming a key not cached refetches the certs at most this often (made-up key ids cost nothing). */
const REFETCH_MIN_MS = 60_000;

const certs = new Map<string, { keys: Jwk[]; fetchedAt: number }>();

/**
 * The identity (`access:<email>`, or `access:<sub>` without an email) of a valid Access token,
 * or undefined. The certs are fetched once an hour per isolate (one subrequest), and again when
 * a token names a key the cached set lacks (at most once a minute).
 */
export async function accessIdentity(token: string | undefined, settings: AccessSettings, now: number): Promise<string | undefined> {
  if (!token) return undefined;
  const verify = (keys: Jwk[]) =>
    Jwt.verifyWithJwks(token, {
      keys,
      allowedAlgorithms: ['RS256'],
      verification: { iss: settings.teamDomain, aud: settings.aud },
    });
  try {
    let payload;
    try {
      payload = await verify(await teamKeys(settings.teamDomain, now, false));
    } catch (err) {
      // A key rotated in since the last fetch: fetch once more, then give up.
      if (!(err instanceof Error) || err.name !== 'JwtTokenInvalid') throw err;
      payload = await verify(await teamKeys(settings.teamDomain, now, true));
    }
    const who = typeof payload.email === 'string' ? payload.email : typeof payload.sub === 'string' ? payload.sub : '';
    return who ? `access:${who}` : undefined;
  } catch {
    return undefined;
  }
}

async function teamKeys(teamDomain: string, now: number, refresh: boolean): Promise<Jwk[]> {
  const cached = certs.get(teamDomain);
  const age = cached ? now - cached.fetchedAt : Infinity;
  if (cached && (refresh ? age < REFETCH_MIN_MS : age < CERTS_TTL_MS)) return cached.keys;
  const res = await fetch(`${teamDomain}/cdn-cgi/access/certs`, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`Access certs: HTTP ${res.status}`);
  const body = (await res.json()) as { keys?: Jwk[] };
  if (!Array.isArray(body.keys)) throw new Error('Access certs: no keys');
  certs.set(teamDomain, { keys: body.keys, fetchedAt: now });
  return body.keys;
}
