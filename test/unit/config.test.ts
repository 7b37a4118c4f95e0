// Parsing the settings: defaults accepted, bad values refused naming the variable, never 0.
import { describe, expect, it } from 'vitest';
import { ConfigError, heartbeatVariable } from '../../src/config/parse.ts';
import { composeSettings, MACHINE_SETTINGS, type Setting } from '../../src/config/settings.ts';
import { JOBS } from '../../src/jobs/index.ts';
import { parseConfig, SETTINGS, VAR_DEFAULTS } from '../../src/settings.ts';

const SECRETS = {
  DATABASE_URL: 'postgres://u:p@db.example/spacerr',
  UPSTASH_REDIS_REST_URL: 'https://redis.example',
  UPSTASH_REDIS_REST_TOKEN: 'token',
  BLOB_READ_WRITE_TOKEN: 'vercel_blob_rw_store1_secret2',
};
const ENV = { ...VAR_DEFAULTS, ...SECRETS };

function errorOf(env: Record<string, unknown>, jobs: string[] = []): ConfigError {
  try {
    parseConfig(env, jobs);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('parseConfig accepted it');
}

describe('parseConfig', () => {
  it('reads every setting of the table at its default', () => {
    const config = parseConfig(ENV);
    expect(config).toMatchObject({
      accountRetentionDays: 30,
      emptyChatMinAgeMinutes: 15,
      staleStreamAfterMinutes: 10,
      runSubrequestBudget: 45,
      runTimeBudgetMs: 25_000,
      deleteBatchSize: 500,
      emptyChatBatchSize: 2000,
      blobMaxAttempts: 8,
      jobRunsRetentionDays: 30,
      deadlineGraceHours: 6,
      continuationMaxHops: 200,
      heartbeatUrls: {},
      databaseUrl: SECRETS.DATABASE_URL,
      neonHttpEndpoint: undefined,
      redisUrl: SECRETS.UPSTASH_REDIS_REST_URL,
      redisToken: 'token',
      blobStore: 'vercel-blob',
      vercelBlob: { token: SECRETS.BLOB_READ_WRITE_TOKEN, apiUrl: 'https://vercel.com/api/blob' },
    });
    const keys = SETTINGS.flatMap((s) => ('key' in s ? [s.key] : []));
    expect(Object.keys(config).sort()).toEqual([...keys].sort());
  });

  it.each([
    ['-3', 'must be a whole number from 1 to 3650, got "-3"'],
    ['abc', 'must be a whole number from 1 to 3650, got "abc"'],
    ['30.5', 'must be a whole number from 1 to 3650, got "30.5"'],
    ['0', 'must be from 1 to 3650, got 0'],
    [' 30 ', 'must be a whole number from 1 to 3650, got " 30 "'],
    ['30\n', 'must be a whole number from 1 to 3650, got "30\\n"'],
    ['\t30', 'must be a whole number from 1 to 3650, got "\\t30"'],
    ['', 'is not set; set it in wrangler.toml [vars] (an integer from 1 to 3650)'],
  ])('refuses ACCOUNT_RETENTION_DAYS=%j, naming it', (value, message) => {
    const err = errorOf({ ...ENV, ACCOUNT_RETENTION_DAYS: value });
    expect(err.variable).toBe('ACCOUNT_RETENTION_DAYS');
    expect(err.message).toBe(`ACCOUNT_RETENTION_DAYS: ${message}`);
  });

  it("reads the stream state layout, Spacerr's by default, and refuses an unknown one or a prefix with glob characters", () => {
    expect(parseConfig(ENV)).toMatchObject({
      streamState: 'resumable-stream',
      streamKeyPrefix: 'resumable-stream',
      streamMaxDurationSeconds: 300,
    });
    expect(parseConfig({ ...ENV, STREAM_STATE: 'heartbeats', STREAM_KEY_PREFIX: 'spacerr:prod' })).toMatchObject({
      streamState: 'heartbeats',
      streamKeyPrefix: 'spacerr:prod',
    });
    expect(errorOf({ ...ENV, STREAM_STATE: 'heartbeat' }).message).toBe(
      'STREAM_STATE: must be one of "resumable-stream", "heartbeats", got "heartbeat"',
    );
    expect(errorOf({ ...ENV, STREAM_STATE: '' }).variable).toBe('STREAM_STATE');
    // `*` would make the tick's SCAN pattern match other apps' keys.
    expect(errorOf({ ...ENV, STREAM_KEY_PREFIX: 'resumable-*' }).message).toBe(
      'STREAM_KEY_PREFIX: must be printable ASCII without spaces or any of * ? [ ] \\, got "resumable-*"',
    );
    expect(errorOf({ ...ENV, STREAM_KEY_PREFIX: 'a b' }).variable).toBe('STREAM_KEY_PREFIX');
    expect(errorOf({ ...ENV, STREAM_MAX_DURATION_SECONDS: '0' }).variable).toBe('STREAM_MAX_DURATION_SECONDS');
  });

  it('accepts 0 continuation hops (the one integer whose lower bound is 0)', () => {
    expect(parseConfig({ ...ENV, CONTINUATION_MAX_HOPS: '0' }).continuationMaxHops).toBe(0);
  });

  it('refuses a missing secret with the command that sets it, and a URL of the wrong scheme', () => {
    expect(errorOf({ ...ENV, UPSTASH_REDIS_REST_TOKEN: ' ' }).message).toContain('wrangler secret put UPSTASH_REDIS_REST_TOKEN');
    expect(errorOf({ ...ENV, DATABASE_URL: 'mysql://x' }).message).toBe(
      'DATABASE_URL: must use scheme "postgres" or "postgresql", got "mysql"',
    );
  });

  it.each(['DATABASE_URL', 'UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN'] as const)(
    'refuses %s padded with whitespace, naming it (a pasted newline changes the secret)',
    (name) => {
      for (const padded of [` ${ENV[name]}`, `${ENV[name]}\n`, `${ENV[name]} `]) {
        const err = errorOf({ ...ENV, [name]: padded });
        expect(err.variable).toBe(name);
        expect(err.message).toBe(`${name}: has whitespace around the value; set it again without it`);
      }
    },
  );

  it('maps HEARTBEAT_URL_<JOB> to its job, trims trailing slashes, and refuses one that names no job', () => {
    const jobs = ['a-job', 'other'];
    const config = parseConfig({ ...ENV, [heartbeatVariable('a-job')]: 'https://hc.example/x//' }, jobs);
    expect(config.heartbeatUrls).toEqual({ 'a-job': 'https://hc.example/x' });
    const err = errorOf({ ...ENV, HEARTBEAT_URL_A_JOBS: 'https://hc.example/x' }, jobs);
    expect(err.message).toBe('HEARTBEAT_URL_A_JOBS: names no job; use one of HEARTBEAT_URL_A_JOB, HEARTBEAT_URL_OTHER');
  });
});

describe('account events settings', () => {
  const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
  const ON = { ACCOUNT_EVENTS_URL: 'https://app.example/hooks', ACCOUNT_EVENTS_SECRET: SECRET };

  it('are off without URL and secret, on with both (loopback http allowed)', () => {
    expect(parseConfig(ENV).accountEvents).toBeUndefined();
    expect(parseConfig({ ...ENV, ...ON }).accountEvents).toEqual({ url: ON.ACCOUNT_EVENTS_URL, secret: SECRET });
    expect(parseConfig({ ...ENV, ...ON, ACCOUNT_EVENTS_URL: 'http://127.0.0.1:8787/h' }).accountEvents?.url).toBe(
      'http://127.0.0.1:8787/h',
    );
    expect(parseConfig(ENV)).toMatchObject({ deletionNoticeDays: 7, accountEventsRetentionDays: 400, accountEventsMaxAttempts: 12 });
  });

  it('name the missing one when only one is set', () => {
    expect(errorOf({ ...ENV, ACCOUNT_EVENTS_URL: ON.ACCOUNT_EVENTS_URL }).variable).toBe('ACCOUNT_EVENTS_SECRET');
    expect(errorOf({ ...ENV, ACCOUNT_EVENTS_SECRET: SECRET }).variable).toBe('ACCOUNT_EVENTS_URL');
  });

  it('refuse a malformed URL, http to a public host, and a secret that is not whsec_<base64>', () => {
    expect(errorOf({ ...ENV, ...ON, ACCOUNT_EVENTS_URL: 'app.example/hooks' }).variable).toBe('ACCOUNT_EVENTS_URL');
    expect(errorOf({ ...ENV, ...ON, ACCOUNT_EVENTS_URL: 'http://app.example/hooks' }).message).toMatch(
      /ACCOUNT_EVENTS_URL: must use https/,
    );
    expect(errorOf({ ...ENV, ...ON, ACCOUNT_EVENTS_URL: 'ftp://app.example/hooks' }).variable).toBe('ACCOUNT_EVENTS_URL');
    for (const bad of ['secret', Buffer.alloc(32).toString('base64'), 'whsec_not base64!', 'whsec_c2hvcnQ=', `${SECRET}\n`]) {
      expect(errorOf({ ...ENV, ...ON, ACCOUNT_EVENTS_SECRET: bad }).variable).toBe('ACCOUNT_EVENTS_SECRET');
    }
    expect(errorOf({ ...ENV, DELETION_NOTICE_DAYS: '-1' }).variable).toBe('DELETION_NOTICE_DAYS');
    expect(errorOf({ ...ENV, ACCOUNT_EVENTS_RETENTION_DAYS: '0' }).variable).toBe('ACCOUNT_EVENTS_RETENTION_DAYS');
    expect(errorOf({ ...ENV, ACCOUNT_EVENTS_MAX_ATTEMPTS: 'ten' }).variable).toBe('ACCOUNT_EVENTS_MAX_ATTEMPTS');
  });
});

describe('the file store settings', () => {
  const { BLOB_READ_WRITE_TOKEN: _token, ...withoutToken } = ENV;

  it('default to Vercel Blob, which then needs its token: missing, it fails naming BLOB_READ_WRITE_TOKEN', () => {
    const err = errorOf(withoutToken);
    expect(err.variable).toBe('BLOB_READ_WRITE_TOKEN');
    expect(err.message).toContain('is not set but BLOB_STORE is "vercel-blob"');
    expect(err.message).toContain('wrangler secret put BLOB_READ_WRITE_TOKEN');
  });

  it('take r2 without a token, and a token with r2 (files still queued in Vercel Blob)', () => {
    expect(parseConfig({ ...withoutToken, BLOB_STORE: 'r2' })).toMatchObject({ blobStore: 'r2', vercelBlob: undefined });
    expect(parseConfig({ ...ENV, BLOB_STORE: 'r2' })).toMatchObject({ blobStore: 'r2', vercelBlob: { token: ENV.BLOB_READ_WRITE_TOKEN } });
  });

  it('refuse a store of another name, naming BLOB_STORE and the choices', () => {
    const err = errorOf({ ...ENV, BLOB_STORE: 'vercel' });
    expect(err.variable).toBe('BLOB_STORE');
    expect(err.message).toBe('BLOB_STORE: must be one of "vercel-blob", "r2", got "vercel"');
  });

  it.each([['BLOB_READ_WRITE_TOKEN is whatever'], ['vercel_blob_rw_onlystore'], ['vercel_blob_rw_store_secret\n']])(
    'refuse a token that is not a read-write token (%j), naming it',
    (token) => {
      expect(errorOf({ ...ENV, BLOB_READ_WRITE_TOKEN: token }).variable).toBe('BLOB_READ_WRITE_TOKEN');
    },
  );

  it('send the calls to VERCEL_BLOB_API_URL when set (the local endpoint), refusing one that is not http(s)', () => {
    expect(parseConfig({ ...ENV, VERCEL_BLOB_API_URL: 'http://127.0.0.1:4446/' }).vercelBlob?.apiUrl).toBe('http://127.0.0.1:4446');
    expect(errorOf({ ...ENV, VERCEL_BLOB_API_URL: 'ftp://x' }).variable).toBe('VERCEL_BLOB_API_URL');
  });
});

describe('Stripe settings', () => {
  const KEY = 'sk_test_51HqLyjWDarjtT1zdp7dc';

  it('are off without STRIPE_SECRET_KEY; on with it, at api.stripe.com unless STRIPE_API_URL says otherwise', () => {
    expect(parseConfig(ENV).stripe).toBeUndefined();
    expect(parseConfig({ ...ENV, STRIPE_API_URL: 'http://127.0.0.1:12111' }).stripe).toBeUndefined();
    expect(parseConfig({ ...ENV, STRIPE_SECRET_KEY: KEY }).stripe).toEqual({ key: KEY, apiUrl: 'https://api.stripe.com' });
    expect(parseConfig({ ...ENV, STRIPE_SECRET_KEY: 'rk_live_abcdefgh12345678' }).stripe?.key).toBe('rk_live_abcdefgh12345678');
    expect(parseConfig({ ...ENV, STRIPE_SECRET_KEY: KEY, STRIPE_API_URL: 'http://127.0.0.1:12111/' }).stripe?.apiUrl).toBe(
      'http://127.0.0.1:12111',
    );
    expect(parseConfig(ENV).stripeMaxAttempts).toBe(8);
  });

  it.each([
    ['pk_test_51HqLyjWDarjtT1zdp7dc', 'is a publishable key'],
    ['whsec_abc', 'must be a Stripe secret key'],
    ['sk_test_', 'must be a Stripe secret key'],
    [`${KEY}\n`, 'has whitespace around the value'],
  ])('refuse STRIPE_SECRET_KEY=%j, naming it', (value, message) => {
    const err = errorOf({ ...ENV, STRIPE_SECRET_KEY: value });
    expect(err.variable).toBe('STRIPE_SECRET_KEY');
    expect(err.message).toContain(message);
  });

  it('refuse a STRIPE_API_URL that is not an https origin (http only to localhost), and a bad attempt count', () => {
    for (const url of ['api.stripe.com', 'http://api.stripe.com', 'https://api.stripe.com/v1']) {
      expect(errorOf({ ...ENV, STRIPE_SECRET_KEY: KEY, STRIPE_API_URL: url }).variable).toBe('STRIPE_API_URL');
    }
    expect(errorOf({ ...ENV, STRIPE_MAX_ATTEMPTS: '0' }).variable).toBe('STRIPE_MAX_ATTEMPTS');
  });
});

describe('the settings table, put together from the machine and the jobs', () => {
  const setting = (name: string, topic: Setting['topic'], key?: string): Setting => ({ name, kind: 'var', topic, meaning: name, key });

  it('lists them topic by topic, each list in its order within a topic', () => {
    const job = [setting('A', 'batches'), setting('B', 'deletion')];
    const machine = [setting('C', 'deletion'), setting('D', 'batches')];
    expect(composeSettings([job, machine]).map((s) => s.name)).toEqual(['B', 'C', 'A', 'D']);
  });

  it('refuses a name or a Config field declared twice', () => {
    expect(() => composeSettings([[setting('A', 'budget')], [setting('A', 'runs')]])).toThrow('setting name "A" is declared twice');
    expect(() => composeSettings([[setting('A', 'budget', 'a')], [setting('B', 'runs', 'a')]])).toThrow(
      'setting key "a" is declared twice',
    );
  });

  it('gives every job setting and every machine setting a place in it', () => {
    const names = SETTINGS.map((s) => s.name);
    for (const s of [...MACHINE_SETTINGS, ...JOBS.flatMap((job): readonly Setting[] => job.settings ?? [])])
      expect(names).toContain(s.name);
    expect(new Set(names).size).toBe(names.length);
  });
});
