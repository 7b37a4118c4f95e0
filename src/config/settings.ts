/**
 * Every setting the Worker reads, in one table: its name, kind, default and meaning, and how it
 * is parsed. The `Config` type, the parser, the README's Configuration table and the check of
 * wrangler.toml [vars] all come from this table (test/unit/settings.test.ts checks the last two).
 * Integer bounds: the lower bound is what keeps a typo from deleting everything.
 */
import { BLOB_STORES } from '../blobs/store';
import { VERCEL_BLOB_API } from '../blobs/vercel-blob';
import {
  accountEvents,
  heartbeats,
  integer,
  keyPrefix,
  oneOf,
  optionalUrl,
  requiredString,
  requiredUrl,
  statusAccess,
  stripe,
  vercelBlob,
  type Parser,
} from './values';

/** Where the app keeps its stream state in Redis (docs/contract.md, §4). */
export const STREAM_STATES = ['resumable-stream', 'heartbeats'] as const;

export interface Setting {
  /** The variable, secret or binding, as wrangler and the dashboard name it. */
  readonly name: string;
  readonly kind: 'var' | 'var or secret' | 'secret' | 'dev only' | 'R2 binding' | 'Queue binding';
  /** A number is the default in wrangler.toml [vars]; text is shown as is. */
  readonly default?: number | string;
  readonly meaning: string;
  /** The `Config` field it becomes, and how it is parsed (absent: read elsewhere, documented here). */
  readonly key?: string;
  readonly parse?: Parser<unknown>;
}

export const SETTINGS = [
  {
    name: 'ACCOUNT_RETENTION_DAYS',
    kind: 'var',
    default: 30,
    meaning: 'days after `deactivated_at` before an account is deleted (1–3650)',
    key: 'accountRetentionDays',
    parse: integer(1, 3650),
  },
  {
    name: 'EMPTY_CHAT_MIN_AGE_MINUTES',
    kind: 'var',
    default: 15,
    meaning: 'minimum age of an empty chat before it is deleted',
    key: 'emptyChatMinAgeMinutes',
    parse: integer(1, 525_600),
  },
  {
    name: 'STREAM_STATE',
    kind: 'var',
    default: 'resumable-stream',
    meaning:
      "the app's stream state: `resumable-stream` (the AI SDK's resume recipe: the chat's active-stream column and the package's sentinels) or `heartbeats` (the `active-streams` sorted set)",
    key: 'streamState',
    parse: oneOf(STREAM_STATES),
  },
  {
    name: 'STREAM_KEY_PREFIX',
    kind: 'var',
    default: 'resumable-stream',
    meaning:
      'with `resumable-stream`: the `keyPrefix` the app gives `createResumableStreamContext` (sentinels are `<prefix>:rs:sentinel:<streamId>`)',
    key: 'streamKeyPrefix',
    parse: keyPrefix,
  },
  {
    name: 'STREAM_MAX_DURATION_SECONDS',
    kind: 'var',
    default: 300,
    meaning:
      "with `resumable-stream`: the longest a stream's function can run (the chat route's `maxDuration` on Vercel); a live sentinel older than this is dead (1–86400)",
    key: 'streamMaxDurationSeconds',
    parse: integer(1, 86_400),
  },
  {
    name: 'STALE_STREAM_AFTER_MINUTES',
    kind: 'var',
    default: 10,
    meaning: 'with `heartbeats`: a stream whose heartbeat is older than this is stale',
    key: 'staleStreamAfterMinutes',
    parse: integer(1, 10_080),
  },
  {
    name: 'RUN_SUBREQUEST_BUDGET',
    kind: 'var',
    default: 45,
    meaning: 'outgoing requests per invocation (Free plan limit: 50)',
    key: 'runSubrequestBudget',
    parse: integer(5, 10_000),
  },
  {
    name: 'RUN_TIME_BUDGET_MS',
    kind: 'var',
    default: 25000,
    meaning: 'wall time per invocation',
    key: 'runTimeBudgetMs',
    parse: integer(1_000, 900_000),
  },
  {
    name: 'DELETE_BATCH_SIZE',
    kind: 'var',
    default: 500,
    meaning:
      'most users in a batch of the account job (its first batch: a quarter, unless `BATCH_TARGET_MS` is 0); rows in the first batch of the cleanup jobs (1–10000)',
    key: 'deleteBatchSize',
    parse: integer(1, 10_000),
  },
  {
    name: 'EMPTY_CHAT_BATCH_SIZE',
    kind: 'var',
    default: 2000,
    meaning: 'chats in the first batch of the empty-chat job (1–10000)',
    key: 'emptyChatBatchSize',
    parse: integer(1, 10_000),
  },
  {
    name: 'BATCH_TARGET_MS',
    kind: 'var',
    default: 250,
    meaning:
      "target time of one batch as the Worker sees it: batch sizes grow or shrink (at most ×4 a batch, within each job's bounds) towards it; 0 keeps every batch at its first size (0–1000)",
    key: 'batchTargetMs',
    parse: integer(0, 1000),
  },
  {
    name: 'STATEMENT_TIMEOUT_MS',
    kind: 'var',
    default: 9000,
    meaning:
      "server-side bound on each statement of the account job's batches (`statement_timeout`, set inside the batch's transaction), under the client's 10 s abort: a batch that reaches it is cancelled and rolled back, its accounts are retried in halves, and one that cannot be deleted alone is set aside (100–9000)",
    key: 'statementTimeoutMs',
    parse: integer(100, 9000),
  },
  {
    name: 'BLOB_MAX_ATTEMPTS',
    kind: 'var',
    default: 8,
    meaning:
      'delete or list attempts of a queued file or sweep before it is parked (an answer the store says will not change, such as `store_suspended` or a refused token, parks it at once)',
    key: 'blobMaxAttempts',
    parse: integer(1, 100),
  },
  {
    name: 'BLOB_STORE',
    kind: 'var',
    default: 'vercel-blob',
    meaning:
      'where the app writes its files: `vercel-blob` (Vercel Blob, with `BLOB_READ_WRITE_TOKEN`) or `r2` (the `BLOBS` binding); a queued file is recorded in it at its first claim and always deleted from that store',
    key: 'blobStore',
    parse: oneOf(BLOB_STORES, 'vercel-blob'),
  },
  {
    name: 'BLOB_READ_WRITE_TOKEN',
    kind: 'secret',
    default: 'unset',
    meaning:
      "the Vercel Blob store's read-write token (`vercel_blob_rw_<storeId>_<secret>`, the app's own private store); required with `BLOB_STORE=vercel-blob`",
    key: 'vercelBlob',
    parse: vercelBlob(VERCEL_BLOB_API, oneOf(BLOB_STORES, 'vercel-blob')),
  },
  {
    name: 'VERCEL_BLOB_API_URL',
    kind: 'dev only',
    default: 'unset',
    meaning: 'sends Vercel Blob API calls to the local endpoint (the name `@vercel/blob` reads); leave it unset in production',
  },
  {
    name: 'JOB_RUNS_RETENTION_DAYS',
    kind: 'var',
    default: 30,
    meaning: 'history kept in `job_runs`',
    key: 'jobRunsRetentionDays',
    parse: integer(1, 3650),
  },
  {
    name: 'DEADLINE_GRACE_HOURS',
    kind: 'var',
    default: 6,
    meaning: 'how long after a scheduled run an account it should have deleted may still exist (1–8760)',
    key: 'deadlineGraceHours',
    parse: integer(1, 8760),
  },
  {
    name: 'PAUSE_ALARM_HOURS',
    kind: 'var',
    default: 24,
    meaning: 'a job paused longer than this raises the `job_paused` alarm (1–8760)',
    key: 'pauseAlarmHours',
    parse: integer(1, 8760),
  },
  {
    name: 'CONTINUATION_MAX_HOPS',
    kind: 'var',
    default: 200,
    meaning: 'continuations one scheduled run may chain through the queue (0: none, and every `*/10` tick then runs its sweeps)',
    key: 'continuationMaxHops',
    parse: integer(0, 10_000),
  },
  {
    name: 'RECOVERY_DELAY_SECONDS',
    kind: 'var',
    default: 60,
    meaning: 'a failed scheduled run is retried through the queue after this delay × 1, 5, 15 and 60 (1–720)',
    key: 'recoveryDelaySeconds',
    parse: integer(1, 720),
  },
  {
    name: 'DELETION_NOTICE_DAYS',
    kind: 'var',
    default: 7,
    meaning:
      'with account events on: `account.deletion_scheduled` is sent once the account job run that deletes the account is this many days away or less (0: no notices)',
    key: 'deletionNoticeDays',
    parse: integer(0, 365),
  },
  {
    name: 'ACCOUNT_EVENTS_RETENTION_DAYS',
    kind: 'var',
    default: 400,
    meaning:
      'delivered account events (the erasure receipts) are kept this long: 400 covers a year of audits or erasure disputes after the fact, plus a month (1–3650)',
    key: 'accountEventsRetentionDays',
    parse: integer(1, 3650),
  },
  {
    name: 'ACCOUNT_EVENTS_MAX_ATTEMPTS',
    kind: 'var',
    default: 12,
    meaning: 'deliveries of an account event before it is parked (backoff 1 min · 2^attempt, at most 6 h: 12 spans about 1.5 days)',
    key: 'accountEventsMaxAttempts',
    parse: integer(1, 100),
  },
  {
    name: 'ACCOUNT_EVENTS_URL',
    kind: 'var or secret',
    default: 'unset',
    meaning: 'receiver of the signed account lifecycle events (https; http only for localhost); unset with the secret: events off',
    key: 'accountEvents',
    parse: accountEvents,
  },
  {
    name: 'ACCOUNT_EVENTS_SECRET',
    kind: 'secret',
    default: 'unset',
    meaning: 'Standard Webhooks signing secret, `whsec_<base64>` (read with ACCOUNT_EVENTS_URL)',
  },
  {
    name: 'STATUS_SESSION_HOURS',
    kind: 'var',
    default: 8,
    meaning: 'a sign-in to the status page (`/api/internal/status`) lasts this long (1–168)',
    key: 'statusSessionHours',
    parse: integer(1, 168),
  },
  {
    name: 'STATUS_SIGNIN_MAX_FAILURES',
    kind: 'var',
    default: 5,
    meaning:
      'failed sign-ins to the status page one client IP (`CF-Connecting-IP`) may make per window before it is refused with 429 (1–1000)',
    key: 'statusSigninMaxFailures',
    parse: integer(1, 1000),
  },
  {
    name: 'STATUS_SIGNIN_WINDOW_MINUTES',
    kind: 'var',
    default: 15,
    meaning: 'the window failed sign-ins are counted in, from the first failure (Upstash; 1–1440)',
    key: 'statusSigninWindowMinutes',
    parse: integer(1, 1440),
  },
  {
    name: 'STATUS_ACCESS_TEAM_DOMAIN',
    kind: 'var',
    default: 'unset',
    meaning:
      'with `STATUS_ACCESS_AUD`: a Cloudflare Access identity signs in to the status page, its `Cf-Access-Jwt-Assertion` verified against `<team domain>/cdn-cgi/access/certs` (`https://<team>.cloudflareaccess.com`; http only for localhost)',
    key: 'statusAccess',
    parse: statusAccess,
  },
  {
    name: 'STATUS_ACCESS_AUD',
    kind: 'var',
    default: 'unset',
    meaning: "the Access application's Application Audience (AUD) tag (read with `STATUS_ACCESS_TEAM_DOMAIN`)",
  },
  {
    name: 'STRIPE_SECRET_KEY',
    kind: 'secret',
    default: 'unset',
    meaning:
      'Stripe secret key (`sk_…`, or a restricted key `rk_…` that may write customers): the customers of deleted users (where the app map names them) are deleted at Stripe; unset: Stripe erasure off',
    key: 'stripe',
    parse: stripe,
  },
  {
    name: 'STRIPE_API_URL',
    kind: 'var',
    default: 'https://api.stripe.com',
    meaning:
      'the Stripe API origin (read with STRIPE_SECRET_KEY; http only for localhost, as `npm run dev` sets it for the local endpoint)',
  },
  {
    name: 'STRIPE_MAX_ATTEMPTS',
    kind: 'var',
    default: 8,
    meaning: 'Stripe delete attempts of a customer before its outbox row is parked (backoff 1 min · 2^attempt, at most 6 h)',
    key: 'stripeMaxAttempts',
    parse: integer(1, 100),
  },
  {
    name: 'HEARTBEAT_URL_<JOB>',
    kind: 'var or secret',
    default: 'unset',
    meaning: 'heartbeat check URL of that job (http or https)',
    key: 'heartbeatUrls',
    parse: heartbeats,
  },
  {
    name: 'DATABASE_URL',
    kind: 'secret',
    meaning: 'Neon connection string',
    key: 'databaseUrl',
    parse: requiredUrl(['postgres:', 'postgresql:']),
  },
  {
    name: 'NEON_HTTP_ENDPOINT',
    kind: 'dev only',
    default: 'unset',
    meaning: 'sends Neon HTTP queries to the local endpoint; leave it unset in production',
    key: 'neonHttpEndpoint',
    parse: optionalUrl,
  },
  {
    name: 'UPSTASH_REDIS_REST_URL',
    kind: 'secret',
    meaning: 'Upstash REST endpoint',
    key: 'redisUrl',
    parse: requiredUrl(['https:', 'http:']),
  },
  { name: 'UPSTASH_REDIS_REST_TOKEN', kind: 'secret', meaning: 'Upstash REST token', key: 'redisToken', parse: requiredString },
  { name: 'CRON_SECRET', kind: 'secret', meaning: 'bearer token for the HTTP routes (read by the auth middleware)' },
  { name: 'BLOBS', kind: 'R2 binding', meaning: 'the attachments bucket, for `BLOB_STORE=r2` and the files queued with it' },
  { name: 'CONTINUATIONS', kind: 'Queue binding', meaning: 'producer and consumer of `spacerr-jobs-continuations`' },
] as const satisfies readonly Setting[];

type Parsed = Extract<(typeof SETTINGS)[number], { key: string }>;

/** Every setting the Worker parses, validated once per invocation. */
export type Config = { [S in Parsed as S['key']]: S['parse'] extends Parser<infer T> ? T : never };

/**
 * The `var` settings with a default, which wrangler.toml [vars] declares at their defaults (an
 * optional one, `unset` by default, is left out).
 */
export const VAR_DEFAULTS: Readonly<Record<string, string>> = Object.fromEntries(
  SETTINGS.flatMap((s) => (s.kind === 'var' && 'default' in s && s.default !== 'unset' ? [[s.name, String(s.default)]] : [])),
);
