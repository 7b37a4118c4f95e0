/**
 * A local stand-in for a Cloudflare Access team domain, as far as the status page uses one: the
 * team's signing keys at `/cdn-cgi/access/certs`, and tokens signed by them the way Access signs
 * its `Cf-Access-Jwt-Assertion` (RS256, `kid` in the header; `aud` an array holding the
 * application's AUD tag, `iss` the team domain, `email`, `sub`, `iat`, `nbf`, `exp`). The body's
 * shape follows Cloudflare's "Validate JWTs" page (developers.cloudflare.com/cloudflare-one/
 * identity/authorization-cookie/validating-json): `keys` (JWK, `kid`, `kty: RSA`, `alg: RS256`,
 * `use: sig`, `e`, `n`), `public_cert` (the current key, PEM) and `public_certs` (every key, PEM).
 * The PEM here is the public key itself (Node makes no X.509 certificate without a library); the
 * Worker reads `keys` only. The fidelity test is test/browser/access-certs.test.ts.
 */
import { createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface AccessTeam {
  /** The team domain as the Worker's STATUS_ACCESS_TEAM_DOMAIN takes it: `http://127.0.0.1:<port>`. */
  url: string;
  /** A token as Access would send it for `email`; `overrides` changes claims (or signs with `key`). */
  token(email: string, aud: string, overrides?: Record<string, unknown> & { key?: KeyObject }): string;
  /** Certs requests served so far. */
  requests(): number;
  close(): Promise<void>;
}

export async function startAccessTeam(): Promise<AccessTeam> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const kid = createHash('sha256').update(jwk.n).digest('hex');
  const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  let served = 0;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/cdn-cgi/access/certs') {
      served++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          keys: [{ kid, kty: 'RSA', alg: 'RS256', use: 'sig', e: jwk.e, n: jwk.n }],
          public_cert: { kid, cert: pem },
          public_certs: [{ kid, cert: pem }],
        }),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return {
    url,
    token(email, aud, overrides = {}) {
      const { key, ...claims } = overrides;
      const now = Math.floor(Date.now() / 1000);
      const header = b64({ alg: 'RS256', kid, typ: 'JWT' });
      const payload = b64({
        aud: [aud],
        email,
        sub: createHash('sha256').update(email).digest('hex').slice(0, 36),
        iss: url,
        iat: now,
        nbf: now,
        exp: now + 3600,
        type: 'app',
        ...claims,
      });
      const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key ?? privateKey);
      return `${header}.${payload}.${signature.toString('base64url')}`;
    },
    requests: () => served,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
