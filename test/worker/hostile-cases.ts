/**
 * The hostile inputs of test/worker/hostile-input.test.ts: tables of bad Authorization headers,
 * paths, queries and config values, the fast-check generator of near-miss secrets, and the leak
 * check. Extend the tables when the Worker grows a route or a variable.
 */
import fc from 'fast-check';

/** Every status docs/contract.md (§6) documents for the internal API. */
export const DOCUMENTED = [200, 400, 401, 404, 405, 500, 503];

/** Named Authorization header sets that must all get 401. */
export function AUTH_CASES(secret: string): Array<[string, Record<string, string> | Headers]> {
  const dup = (a: string, b: string) => {
    const h = new Headers();
    h.append('Authorization', a);
    h.append('Authorization', b);
    return h;
  };
  const flip = (i: number) => secret.slice(0, i) + (secret[i] === 'a' ? 'b' : 'a') + secret.slice(i + 1);
  const latin1 = (s: string) => String.fromCharCode(...new TextEncoder().encode(s));
  const cases: Array<[string, Record<string, string> | Headers]> = [
    ['none', {}],
    ['empty', { Authorization: '' }],
    ['Bearer', { Authorization: 'Bearer' }],
    ['Bearer undefined', { Authorization: 'Bearer undefined' }],
    ['Bearer null', { Authorization: 'Bearer null' }],
    ['Bearer ""', { Authorization: 'Bearer ""' }],
    ['Bearer [object Object]', { Authorization: 'Bearer [object Object]' }],
    ['the secret alone', { Authorization: secret }],
    ['Basic', { Authorization: `Basic ${btoa(`cron:${secret}`)}` }],
    ['Token', { Authorization: `Token ${secret}` }],
    ['Bearer: (colon)', { Authorization: `Bearer:${secret}` }],
    ['Bearer= (equals)', { Authorization: `Bearer=${secret}` }],
    ['Bearer with a tab', { Authorization: `Bearer\t${secret}` }],
    ['Bearerr', { Authorization: `Bearerr ${secret}` }],
    ['Bear', { Authorization: `Bear ${secret}` }],
    ['Bearer, no space', { Authorization: `Bearer${secret}` }],
    ['quoted secret', { Authorization: `Bearer "${secret}"` }],
    ['prefix of the secret', { Authorization: `Bearer ${secret.slice(0, -1)}` }],
    ['first half of the secret', { Authorization: `Bearer ${secret.slice(0, secret.length / 2)}` }],
    ['suffix of the secret', { Authorization: `Bearer ${secret.slice(1)}` }],
    ['secret + 1 char', { Authorization: `Bearer ${secret}x` }],
    ['secret + "="', { Authorization: `Bearer ${secret}=` }],
    ['secret twice', { Authorization: `Bearer ${secret}${secret}` }],
    ['secret and junk', { Authorization: `Bearer ${secret} junk` }],
    ['secret, comma', { Authorization: `Bearer ${secret},` }],
    ['first char flipped', { Authorization: `Bearer ${flip(0)}` }],
    ['last char flipped', { Authorization: `Bearer ${flip(secret.length - 1)}` }],
    ['upper-cased secret', { Authorization: `Bearer ${secret.toUpperCase()}` }],
    ['lower-cased secret', { Authorization: `Bearer ${secret.toLowerCase()}` }],
    ['secret in UTF-8 with a homoglyph', { Authorization: latin1(`Bearer ${secret.replace('x', 'х')}`) }],
    ['unicode token', { Authorization: latin1('Bearer 🔑秘密') }],
    ['zero-width space before the secret', { Authorization: latin1(`Bearer \u200b${secret}`) }],
    ['NBSP as separator', { Authorization: latin1(`Bearer\u00a0${secret}`) }],
    ['64 KB token', { Authorization: `Bearer ${'A'.repeat(65_536)}` }],
    ['64 KB of spaces then the secret', { Authorization: `Bearer${' '.repeat(65_536)}x${secret}` }],
    ['duplicated: wrong then right', dup('Bearer wrong', `Bearer ${secret}`)],
    ['duplicated: right then wrong', dup(`Bearer ${secret}`, 'Bearer wrong')],
    ['duplicated: right twice', dup(`Bearer ${secret}`, `Bearer ${secret}`)],
    ['secret in another header', { 'X-Cron-Secret': secret, 'Proxy-Authorization': `Bearer ${secret}` }],
    ['secret as a cookie', { Cookie: `CRON_SECRET=${secret}` }],
  ];
  return cases;
}

/** Near misses of the secret: scheme variants, separators, prefixes, suffixes, edits. */
export function secretVariants(secret: string) {
  const scheme = fc.constantFrom('Bearer', 'bearer', 'BEARER', 'Basic', 'Token', 'Bearer:', '', 'Bearer,', 'Digest');
  const sep = fc.constantFrom(' ', '  ', '', '\t', '=', ':', ' \t ');
  const token = fc.oneof(
    fc.integer({ min: 0, max: secret.length - 1 }).map((n) => secret.slice(0, n)),
    fc.integer({ min: 1, max: secret.length }).map((n) => secret.slice(n)),
    fc
      .tuple(fc.integer({ min: 0, max: secret.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }))
      .map(([i, s]) => secret.slice(0, i) + s + secret.slice(i + 1)),
    fc.string({ maxLength: 4 }).map((s) => `${secret}${s}`),
    fc.string({ maxLength: 4 }).map((s) => `${s}${secret}`),
    fc.constantFrom('undefined', 'null', '', 'true', '0', '[object Object]'),
  );
  return fc.tuple(scheme, sep, token).map(([a, b, c]) => `${a}${b}${c}`);
}

/**
 * What a client could put on the wire: headers are bytes, so non-Latin-1 text goes as its UTF-8
 * bytes; NUL, CR and LF cannot be sent at all (fetch refuses them).
 */
export function toHeaderValue(raw: string): string {
  const bytes = /[^\u0000-\u00ff]/.test(raw) ? String.fromCharCode(...new TextEncoder().encode(raw)) : raw;
  return bytes.replace(/[\0\r\n]/g, '');
}

const LONG = 'a'.repeat(10_240);
/** Paths under and around /api/internal/. */
export const ODD_PATHS = [
  '/api/internal/jobs/../jobs',
  '/api/internal/jobs/%2e%2e/jobs',
  '/api/internal/jobs/..%2Fjobs',
  '/api/internal/jobs/delete-stale-empty-chats%2F',
  '/api/internal/jobs/delete-stale-empty-chats%2Fx',
  '/api/internal%2Fjobs/delete-stale-empty-chats',
  '/api/internal/jobs/delete-stale-empty-chats/',
  '/api/internal/jobs/',
  '/api/internal/',
  '/api/internal//jobs',
  '/api/internal/jobs//delete-stale-empty-chats',
  '/api//internal/jobs/delete-stale-empty-chats',
  '/api/internal/jobs/DELETE-STALE-EMPTY-CHATS',
  '/api/internal/jobs/delete-stale-empty-chats%00',
  '/api/internal/jobs/delete-stale-empty-chats;x=1',
  '/api/internal/jobs/%ZZ',
  '/api/internal/jobs/%E0%A4%A',
  '/api/internal/jobs/%',
  '/api/internal/jobs/__proto__',
  '/api/internal/jobs/constructor',
  '/api/internal/jobs/toString',
  '/api/internal/jobs/drop-everything',
  `/api/internal/jobs/${LONG}`,
  `/api/internal/jobs/delete-stale-empty-chats/${LONG}`,
  '/api/internal/jobs/%F0%9F%94%91',
  '/api/internal/health/../jobs/delete-stale-empty-chats',
  '/api/internal/jobs/delete-stale-empty-chats#x',
];

/** Query strings on a job route: each answers 400 (bad dryRun) or runs. */
export const ODD_QUERIES = [
  'dryRun=yes',
  'dryRun=2',
  'dryRun=-1',
  'dryRun=1&dryRun=1',
  'dryRun=1&dryRun=0',
  'dryRun=%00',
  'dryRun=%ZZ',
  'dryRun=1%20',
  'dryRun=tru%C3%A9',
  `dryRun=${'1'.repeat(16_384)}`,
  'dryRun=TRUE',
  'dryRun=1',
  'dryRun[]=1',
  'dryRun[0]=1&dryRun[1]=0',
  `x=${'y'.repeat(16_384)}&dryRun=1`,
  Array.from({ length: 500 }, (_, i) => `p${i}=${i}`).join('&') + '&dryRun=1',
  '&&&=&=&dryRun=1',
  '%',
];

/** Integer [vars] with their bounds (src/settings.ts); extend when a variable is added. */
export const INTEGER_VARS: Array<[name: string, min: number, max: number]> = [
  ['ACCOUNT_RETENTION_DAYS', 1, 3650],
  ['EMPTY_CHAT_MIN_AGE_MINUTES', 1, 525_600],
  ['STALE_STREAM_AFTER_MINUTES', 1, 10_080],
  ['RUN_SUBREQUEST_BUDGET', 5, 10_000],
  ['RUN_TIME_BUDGET_MS', 1_000, 900_000],
  ['DELETE_BATCH_SIZE', 1, 10_000],
  ['EMPTY_CHAT_BATCH_SIZE', 1, 10_000],
  ['BATCH_TARGET_MS', 0, 1000],
  ['BLOB_MAX_ATTEMPTS', 1, 100],
  ['JOB_RUNS_RETENTION_DAYS', 1, 3650],
  ['DEADLINE_GRACE_HOURS', 1, 8760],
  ['CONTINUATION_MAX_HOPS', 0, 10_000],
];

const MALFORMED = [
  '-1',
  '-0',
  '1.5',
  '1.0',
  '0x10',
  '1e3',
  '+5',
  '5abc',
  'abc',
  'NaN',
  'Infinity',
  '10_000',
  '1,000',
  '1 0',
  '   ',
  ' 30 ',
  '30\n',
  '',
  '\t',
  '٣٠',
  '３０',
  '\u200b5',
  '9'.repeat(400),
  'null',
  'undefined',
  'true',
];

/** [variable, value] pairs that must each fail validation naming the variable. */
export const BAD_CONFIG: Array<[string, string]> = [
  ...INTEGER_VARS.flatMap(([name, min, max]) => [
    ...MALFORMED.map((v): [string, string] => [name, v]),
    [name, String(min - 1)] as [string, string],
    [name, String(max + 1)] as [string, string],
  ]),
  ['DATABASE_URL', ''],
  ['DATABASE_URL', 'mysql://u:p@h/db'],
  ['DATABASE_URL', 'not a url'],
  ['DATABASE_URL', ' postgres://u:p@h/db'],
  ['UPSTASH_REDIS_REST_TOKEN', 'token\n'],
  ['NEON_HTTP_ENDPOINT', 'ftp://127.0.0.1/sql'],
  ['UPSTASH_REDIS_REST_URL', 'redis://127.0.0.1:6379'],
  ['UPSTASH_REDIS_REST_URL', ''],
  ['UPSTASH_REDIS_REST_TOKEN', ''],
  ['UPSTASH_REDIS_REST_TOKEN', '   '],
  ['HEARTBEAT_URL_DELETE_STALE_EMPTY_CHAT', 'https://hc-ping.com/x'],
  ['HEARTBEAT_URL_DELETE_STALE_EMPTY_CHATS', 'javascript:alert(1)'],
];

/** Secrets, stack frames and SQL that must never reach a caller. */
export function leaksIn(body: string, headers: Headers, secrets: string[]): string[] {
  const text = `${body}\n${[...headers].map(([k, v]) => `${k}: ${v}`).join('\n')}`;
  const found = secrets.filter((s) => s && text.includes(s));
  for (const pattern of [
    /postgres(ql)?:\/\//i,
    /\n\s+at /,
    /\bat \S+ \(.*:\d+:\d+\)/,
    /\b(SELECT|INSERT INTO|DELETE FROM|UPDATE \w+ SET)\b/,
  ]) {
    if (pattern.test(text)) found.push(String(pattern));
  }
  return found;
}
