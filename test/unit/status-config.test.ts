// The status page's settings: the Access pair both or neither, the team domain https (http only
// on loopback) and nothing but a domain; the session and sign-in limits bounded. Each refusal names its variable.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/parse.ts';
import { parseConfig, VAR_DEFAULTS } from '../../src/settings.ts';

const ENV = {
  ...VAR_DEFAULTS,
  DATABASE_URL: 'postgres://u:p@db.example/spacerr',
  UPSTASH_REDIS_REST_URL: 'https://redis.example',
  UPSTASH_REDIS_REST_TOKEN: 'token',
  BLOB_STORE: 'r2',
};

function refusal(env: Record<string, unknown>): ConfigError {
  try {
    parseConfig({ ...ENV, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('parseConfig accepted it');
}

describe('status page settings', () => {
  it('defaults: 8 h sessions, 5 failures per 15 min, no Access', () => {
    expect(parseConfig(ENV)).toMatchObject({
      statusSessionHours: 8,
      statusSigninMaxFailures: 5,
      statusSigninWindowMinutes: 15,
      statusAccess: undefined,
    });
  });

  it('reads the Access team domain and audience together', () => {
    const config = parseConfig({ ...ENV, STATUS_ACCESS_TEAM_DOMAIN: 'https://acme.cloudflareaccess.com/', STATUS_ACCESS_AUD: 'aud123' });
    expect(config.statusAccess).toEqual({ teamDomain: 'https://acme.cloudflareaccess.com', aud: 'aud123' });
    expect(
      parseConfig({ ...ENV, STATUS_ACCESS_TEAM_DOMAIN: 'http://127.0.0.1:9999', STATUS_ACCESS_AUD: 'a' }).statusAccess?.teamDomain,
    ).toBe('http://127.0.0.1:9999');
  });

  it.each([
    [{ STATUS_ACCESS_TEAM_DOMAIN: 'https://acme.cloudflareaccess.com' }, 'STATUS_ACCESS_AUD', /set both or neither/],
    [{ STATUS_ACCESS_AUD: 'aud123' }, 'STATUS_ACCESS_TEAM_DOMAIN', /set both or neither/],
    [{ STATUS_ACCESS_TEAM_DOMAIN: 'http://acme.cloudflareaccess.com', STATUS_ACCESS_AUD: 'a' }, 'STATUS_ACCESS_TEAM_DOMAIN', /https/],
    [
      { STATUS_ACCESS_TEAM_DOMAIN: 'https://acme.cloudflareaccess.com/cdn-cgi/access/certs', STATUS_ACCESS_AUD: 'a' },
      'STATUS_ACCESS_TEAM_DOMAIN',
      /team domain only/,
    ],
    [{ STATUS_ACCESS_TEAM_DOMAIN: 'acme', STATUS_ACCESS_AUD: 'a' }, 'STATUS_ACCESS_TEAM_DOMAIN', /not a valid URL/],
    [{ STATUS_SESSION_HOURS: '0' }, 'STATUS_SESSION_HOURS', /from 1 to 168/],
    [{ STATUS_SIGNIN_MAX_FAILURES: '' }, 'STATUS_SIGNIN_MAX_FAILURES', /is not set/],
    [{ STATUS_SIGNIN_WINDOW_MINUTES: '15m' }, 'STATUS_SIGNIN_WINDOW_MINUTES', /whole number/],
  ])('refuses %j naming %s', (env, variable, message) => {
    const err = refusal(env);
    expect(err.variable).toBe(variable);
    expect(err.message).toMatch(message);
  });
});
