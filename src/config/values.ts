/**
 * How each kind of setting is parsed and checked. A bad value throws {@link ConfigError} naming
 * the variable and how to fix it; nothing ever silently falls back to a default or to 0.
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

export type Source = Partial<Record<string, unknown>>;

/** Reads setting `name` from `env`; `jobs` are the job names (for per-job variables). */
export type Parser<T> = (name: string, env: Source, jobs: readonly string[]) => T;

/** `HEARTBEAT_URL_<JOB>`: the job's name in capitals, `-` as `_` (`a-job` → `HEARTBEAT_URL_A_JOB`). */
export const HEARTBEAT_PREFIX = 'HEARTBEAT_URL_';
export const heartbeatVariable = (job: string) => `${HEARTBEAT_PREFIX}${job.toUpperCase().replaceAll('-', '_')}`;

/** A whole number from `min` to `max`, written as plain decimal digits. */
export function integer(min: number, max: number): Parser<number> {
  return (name, env) => {
    const raw = env[name];
    if (raw === undefined || raw === null || raw === '') {
      throw new ConfigError(name, `is not set; set it in wrangler.toml [vars] (an integer from ${min} to ${max})`);
    }
    const text = String(raw);
    // Number('') is 0, parseInt('3abc') is 3 and Number(' 30 ') is 30: accept plain decimal digits
    // only, with nothing around them, so a value pasted with a stray space or newline shows.
    if (!/^\d+$/.test(text)) throw new ConfigError(name, `must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      throw new ConfigError(name, `must be from ${min} to ${max}, got ${text}`);
    }
    return value;
  };
}

export const requiredString: Parser<string> = (name, env) => {
  const raw = env[name];
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new ConfigError(name, `is not set; set it with \`wrangler secret put ${name}\` (or in .dev.vars locally)`);
  }
  // A secret pasted with a trailing newline is a different token or URL: refuse it, never guess.
  if (raw !== raw.trim()) throw new ConfigError(name, 'has whitespace around the value; set it again without it');
  return raw;
};

/** A URL with one of `protocols` (`'https:'`, …). */
export function requiredUrl(protocols: string[]): Parser<string> {
  return (name, env, jobs) => {
    const value = requiredString(name, env, jobs);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new ConfigError(name, `is not a valid URL (expected scheme ${schemes(protocols)})`);
    }
    if (!protocols.includes(url.protocol)) {
      throw new ConfigError(name, `must use scheme ${schemes(protocols)}, got "${url.protocol.slice(0, -1)}"`);
    }
    return value;
  };
}

const httpUrl = requiredUrl(['http:', 'https:']);

/** An http(s) URL, or undefined when unset. */
export const optionalUrl: Parser<string | undefined> = (name, env, jobs) => {
  const raw = env[name];
  if (raw === undefined || raw === null || raw === '') return undefined;
  return httpUrl(name, env, jobs);
};

/** Every HEARTBEAT_URL_<JOB> set, by job name; one that names no job is an error (a typo must show). */
export const heartbeats: Parser<Record<string, string>> = (_name, env, jobs) => {
  const urls: Record<string, string> = {};
  for (const name of Object.keys(env).filter((k) => k.startsWith(HEARTBEAT_PREFIX))) {
    const job = jobs.find((j) => heartbeatVariable(j) === name);
    if (!job) throw new ConfigError(name, `names no job; use one of ${jobs.map(heartbeatVariable).join(', ')}`);
    const url = optionalUrl(name, env, jobs);
    if (url) urls[job] = url.replace(/\/+$/, '');
  }
  return urls;
};

const schemes = (protocols: string[]) => protocols.map((p) => `"${p.slice(0, -1)}"`).join(' or ');

/** Where account lifecycle events go and the key they are signed with; both or neither. */
export interface AccountEventsTarget {
  url: string;
  /** A Standard Webhooks secret, `whsec_<base64>`. */
  secret: string;
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
export const ACCOUNT_EVENTS_SECRET = 'ACCOUNT_EVENTS_SECRET';

/**
 * ACCOUNT_EVENTS_URL with ACCOUNT_EVENTS_SECRET: https (http only to a loopback host, for local
 * receivers), and a `whsec_` secret whose key is base64 of at least 24 bytes. Neither set: events
 * are off (undefined). One without the other is an error naming the one missing.
 */
export const accountEvents: Parser<AccountEventsTarget | undefined> = (name, env, jobs) => {
  const set = (v: string) => env[v] !== undefined && env[v] !== null && env[v] !== '';
  if (!set(name) && !set(ACCOUNT_EVENTS_SECRET)) return undefined;
  if (!set(name)) throw new ConfigError(name, `is not set but ${ACCOUNT_EVENTS_SECRET} is; set both or neither`);
  if (!set(ACCOUNT_EVENTS_SECRET)) throw new ConfigError(ACCOUNT_EVENTS_SECRET, `is not set but ${name} is; set both or neither`);
  const url = httpUrl(name, env, jobs);
  const parsed = new URL(url);
  if (parsed.protocol === 'http:' && !LOOPBACK.has(parsed.hostname)) {
    throw new ConfigError(name, `must use https (http only for localhost), got "${parsed.host}"`);
  }
  const secret = requiredString(ACCOUNT_EVENTS_SECRET, env, jobs);
  const key = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : '';
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key) || key.length % 4 !== 0 || (key.length / 4) * 3 < 24) {
    throw new ConfigError(ACCOUNT_EVENTS_SECRET, 'must be a Standard Webhooks secret: "whsec_" and base64 of 24 to 64 random bytes');
  }
  return { url, secret };
};

/**
 * One of `values`, spelled exactly; unset: `fallback` if there is one, else an error naming the
 * variable and the choices.
 */
export function oneOf<const T extends string>(values: readonly T[], fallback?: T): Parser<T> {
  return (name, env) => {
    const raw = env[name];
    if (raw === undefined || raw === null || raw === '') {
      if (fallback !== undefined) return fallback;
      throw new ConfigError(name, `is not set; set it in wrangler.toml [vars] (one of ${values.map((v) => `"${v}"`).join(', ')})`);
    }
    const found = values.find((v) => v === raw);
    if (found === undefined)
      throw new ConfigError(name, `must be one of ${values.map((v) => `"${v}"`).join(', ')}, got ${JSON.stringify(raw)}`);
    return found;
  };
}

/**
 * A Redis key prefix: printable, no whitespace, and none of the glob characters `*?[]\`, so that
 * `<prefix>:…*` is a SCAN pattern that matches the keys under it and nothing else.
 */
export const keyPrefix: Parser<string> = (name, env) => {
  const raw = env[name];
  if (typeof raw !== 'string' || raw === '') throw new ConfigError(name, 'is not set; set it in wrangler.toml [vars]');
  if (!/^[\x21-\x7e]+$/.test(raw) || /[*?[\]\\]/.test(raw)) {
    throw new ConfigError(name, `must be printable ASCII without spaces or any of * ? [ ] \\, got ${JSON.stringify(raw)}`);
  }
  return raw;
};

export const STATUS_ACCESS_AUD = 'STATUS_ACCESS_AUD';

/**
 * STATUS_ACCESS_TEAM_DOMAIN with STATUS_ACCESS_AUD: the Cloudflare Access team whose identity
 * signs in to the status page (https; http only to a loopback host, for a local certs endpoint),
 * and the Access application's audience tag. Neither set: the page takes CRON_SECRET only.
 */
export const statusAccess: Parser<{ teamDomain: string; aud: string } | undefined> = (name, env, jobs) => {
  const set = (v: string) => env[v] !== undefined && env[v] !== null && env[v] !== '';
  if (!set(name) && !set(STATUS_ACCESS_AUD)) return undefined;
  if (!set(name)) throw new ConfigError(name, `is not set but ${STATUS_ACCESS_AUD} is; set both or neither`);
  if (!set(STATUS_ACCESS_AUD)) throw new ConfigError(STATUS_ACCESS_AUD, `is not set but ${name} is; set both or neither`);
  const url = new URL(httpUrl(name, env, jobs));
  if (url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
    throw new ConfigError(name, `must use https (http only for localhost), got "${url.host}"`);
  }
  if (url.pathname !== '/' || url.search !== '') {
    throw new ConfigError(name, 'must be the team domain only, like https://<team>.cloudflareaccess.com');
  }
  return { teamDomain: url.origin, aud: requiredString(STATUS_ACCESS_AUD, env, jobs) };
};

/** Vercel Blob's read-write token and the API it is sent to. */
export interface VercelBlobTarget {
  token: string;
  /** The Blob API's base URL: VERCEL_BLOB_API_URL (the local endpoint), else Vercel's. */
  apiUrl: string;
}

export const BLOB_STORE = 'BLOB_STORE';
export const VERCEL_BLOB_API_URL = 'VERCEL_BLOB_API_URL';
/** A store's read-write token as Vercel issues it: `vercel_blob_rw_<storeId>_<secret>`. */
const VERCEL_BLOB_TOKEN = /^vercel_blob_rw_[A-Za-z0-9]+_[A-Za-z0-9]+$/;

/**
 * BLOB_READ_WRITE_TOKEN (with VERCEL_BLOB_API_URL, for a local endpoint): required when
 * BLOB_STORE is `vercel-blob`; with BLOB_STORE `r2` it is optional (files still queued in Vercel
 * Blob need it). A token of another shape fails: the store id is read from it, as `@vercel/blob` does.
 */
export function vercelBlob(defaultApi: string, storeOf: Parser<string>): Parser<VercelBlobTarget | undefined> {
  return (name, env, jobs) => {
    const raw = env[name];
    if ((raw === undefined || raw === null || raw === '') && storeOf(BLOB_STORE, env, jobs) !== 'vercel-blob') return undefined;
    if (raw === undefined || raw === null || raw === '') {
      throw new ConfigError(
        name,
        `is not set but ${BLOB_STORE} is "vercel-blob"; set the store's read-write token with \`wrangler secret put ${name}\` (or set ${BLOB_STORE}=r2)`,
      );
    }
    const token = requiredString(name, env, jobs);
    if (!VERCEL_BLOB_TOKEN.test(token)) {
      throw new ConfigError(
        name,
        'must be a Vercel Blob read-write token, "vercel_blob_rw_<storeId>_<secret>" (Storage → your store → .env.local)',
      );
    }
    return { token, apiUrl: optionalUrl(VERCEL_BLOB_API_URL, env, jobs)?.replace(/\/+$/, '') ?? defaultApi };
  };
}

/** Where the Stripe API is unless STRIPE_API_URL says otherwise. */
export const STRIPE_API_DEFAULT = 'https://api.stripe.com';
export const STRIPE_API_URL = 'STRIPE_API_URL';

/** The Stripe account the customers of erased users are deleted from. */
export interface StripeTarget {
  /** A secret (`sk_live_…`, `sk_test_…`) or restricted key (`rk_…`, with write access to customers). */
  key: string;
  /** The API's origin, without a trailing slash. */
  apiUrl: string;
}

/**
 * STRIPE_SECRET_KEY, with STRIPE_API_URL (default https://api.stripe.com; http only to a loopback
 * host, for the local endpoint). Unset: Stripe erasure is off (undefined). A publishable key, or
 * anything not shaped like a Stripe key, fails naming the variable.
 */
export const stripe: Parser<StripeTarget | undefined> = (name, env, jobs) => {
  const raw = env[name];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const key = requiredString(name, env, jobs);
  if (/^pk_/.test(key)) throw new ConfigError(name, 'is a publishable key (pk_…); set the secret key (sk_…) or a restricted key (rk_…)');
  if (!/^[sr]k_(live|test)_[0-9A-Za-z]{8,}$/.test(key)) {
    throw new ConfigError(name, 'must be a Stripe secret key (sk_live_… or sk_test_…) or restricted key (rk_…)');
  }
  const url = env[STRIPE_API_URL] === undefined || env[STRIPE_API_URL] === '' ? STRIPE_API_DEFAULT : httpUrl(STRIPE_API_URL, env, jobs);
  const parsed = new URL(url);
  if (parsed.protocol === 'http:' && !LOOPBACK.has(parsed.hostname)) {
    throw new ConfigError(STRIPE_API_URL, `must use https (http only for localhost), got "${parsed.host}"`);
  }
  if (parsed.pathname !== '/' || parsed.search !== '')
    throw new ConfigError(STRIPE_API_URL, 'must be an origin only, e.g. https://api.stripe.com');
  return { key, apiUrl: parsed.origin };
};
