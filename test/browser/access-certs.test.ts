/**
 * Fidelity of the local Access team (scripts/stack/access-certs.ts) to Cloudflare Access, as
 * Cloudflare's "Validate JWTs" page describes it (developers.cloudflare.com/cloudflare-one/
 * identity/authorization-cookie/validating-json): the certs body has `keys` (JWK: `kid`, `kty`
 * RSA, `alg` RS256, `use` sig, `e`, `n`), `public_cert` and `public_certs`; the token is an RS256
 * JWT whose header names the key by `kid` and whose claims carry `aud` (an array with the
 * application's AUD tag), `email`, `iss` (the team domain), `iat`, `exp`. And the client the Worker
 * verifies with, Hono's `Jwt.verifyWithJwks` (hono/dist/utils/jwt/jwt.js), accepts it from the
 * endpoint's own `jwks_uri`.
 */
import { Jwt } from 'hono/utils/jwt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type AccessTeam, startAccessTeam } from '../../scripts/stack/access-certs.ts';

let team: AccessTeam;
beforeAll(async () => {
  team = await startAccessTeam();
});
afterAll(() => team?.close());

it('serves the certs in the shape Access documents', async () => {
  const res = await fetch(`${team.url}/cdn-cgi/access/certs`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = (await res.json()) as Record<string, unknown>;
  expect(Object.keys(body).sort()).toEqual(['keys', 'public_cert', 'public_certs']);
  const [key] = body.keys as Array<Record<string, string>>;
  expect(Object.keys(key!).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
  expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB' });
  expect(body.public_cert).toMatchObject({ kid: key!.kid, cert: expect.stringContaining('-----BEGIN') });
});

it('signs tokens as Access does, which Hono verifies against the endpoint by jwks_uri', async () => {
  const token = team.token('ops@example.com', 'aud-tag');
  const { header, payload } = Jwt.decode(token);
  expect(header).toMatchObject({ alg: 'RS256', typ: 'JWT', kid: expect.any(String) });
  expect(payload).toMatchObject({ aud: ['aud-tag'], email: 'ops@example.com', iss: team.url });
  const verified = await Jwt.verifyWithJwks(token, {
    jwks_uri: `${team.url}/cdn-cgi/access/certs`,
    allowedAlgorithms: ['RS256'],
    verification: { iss: team.url, aud: 'aud-tag' },
  });
  expect(verified.email).toBe('ops@example.com');
  await expect(
    Jwt.verifyWithJwks(token, {
      jwks_uri: `${team.url}/cdn-cgi/access/certs`,
      allowedAlgorithms: ['RS256'],
      verification: { aud: 'other' },
    }),
  ).rejects.toThrow();
});
