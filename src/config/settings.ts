/**
 * How a setting is declared, and the machine's own settings: the run budget, the batch target,
 * the history, alarms and chain of runs, the status page and the connections. Each job declares
 * its own settings beside its code (its declaration's `settings`, src/jobs/); src/settings.ts
 * puts the two together into the one table that the `Config` type, the parser, the README's
 * Configuration table and the check of wrangler.toml [vars] come from
 * (test/unit/settings.test.ts checks the last two).
 * Integer bounds: the lower bound is what keeps a typo from deleting everything.
 */
import { heartbeats, integer, optionalUrl, requiredString, requiredUrl, statusAccess, type Parser } from './values';

/**
 * The topics of the configuration table, in its order. The table lists the settings topic by
 * topic; within one, the jobs' settings in the order of the job list, then the machine's.
 */
export const TOPICS = [
  /** What is deleted when, and the stream state. */
  'deletion',
  /** What one invocation may spend. */
  'budget',
  /** The size of a batch. */
  'batches',
  /** How long one statement may take. */
  'statements',
  /** The file stores. */
  'files',
  /** The runs: their history, deadline, pauses, continuations and recoveries. */
  'runs',
  /** Account lifecycle events. */
  'events',
  /** The status page. */
  'status',
  /** Stripe erasure. */
  'stripe',
  /** Heartbeats, connections and bindings. */
  'connections',
] as const;

export interface Setting {
  /** The variable, secret or binding, as wrangler and the dashboard name it. */
  readonly name: string;
  readonly kind: 'var' | 'var or secret' | 'secret' | 'dev only' | 'R2 binding' | 'Queue binding';
  /** Where the configuration table lists it. */
  readonly topic: (typeof TOPICS)[number];
  /** A number is the default in wrangler.toml [vars]; text is shown as is. */
  readonly default?: number | string;
  readonly meaning: string;
  /** The `Config` field it becomes, and how it is parsed (absent: read elsewhere, documented here). */
  readonly key?: string;
  readonly parse?: Parser<unknown>;
}

/** The `Config` fields a list of settings gives, each of the type its parser returns. */
export type ConfigOf<S extends readonly Setting[]> = {
  [T in Extract<S[number], { key: string }> as T['key']]: T['parse'] extends Parser<infer V> ? V : never;
};

export const MACHINE_SETTINGS = [
  {
    name: 'RUN_SUBREQUEST_BUDGET',
    kind: 'var',
    topic: 'budget',
    default: 45,
    meaning: 'outgoing requests per invocation (Free plan limit: 50)',
    key: 'runSubrequestBudget',
    parse: integer(5, 10_000),
  },
  {
    name: 'RUN_TIME_BUDGET_MS',
    kind: 'var',
    topic: 'budget',
    default: 25000,
    meaning: 'wall time per invocation',
    key: 'runTimeBudgetMs',
    parse: integer(1_000, 900_000),
  },
  {
    name: 'BATCH_TARGET_MS',
    kind: 'var',
    topic: 'batches',
    default: 250,
    meaning:
      "target time of one batch as the Worker sees it: batch sizes grow or shrink (at most ×4 a batch, within each job's bounds) towards it; 0 keeps every batch at its first size (0–1000)",
    key: 'batchTargetMs',
    parse: integer(0, 1000),
  },
  {
    name: 'JOB_RUNS_RETENTION_DAYS',
    kind: 'var',
    topic: 'runs',
    default: 30,
    meaning: 'history kept in `job_runs`',
    key: 'jobRunsRetentionDays',
    parse: integer(1, 3650),
  },
  {
    name: 'DEADLINE_GRACE_HOURS',
    kind: 'var',
    topic: 'runs',
    default: 6,
    meaning: 'how long after a scheduled run an account it should have deleted may still exist (1–8760)',
    key: 'deadlineGraceHours',
    parse: integer(1, 8760),
  },
  {
    name: 'PAUSE_ALARM_HOURS',
    kind: 'var',
    topic: 'runs',
    default: 24,
    meaning: 'a job paused longer than this raises the `job_paused` alarm (1–8760)',
    key: 'pauseAlarmHours',
    parse: integer(1, 8760),
  },
  {
    name: 'CONTINUATION_MAX_HOPS',
    kind: 'var',
    topic: 'runs',
    default: 200,
    meaning: 'continuations one scheduled run may chain through the queue (0: none, and every `*/10` tick then runs its sweeps)',
    key: 'continuationMaxHops',
    parse: integer(0, 10_000),
  },
  {
    name: 'RECOVERY_DELAY_SECONDS',
    kind: 'var',
    topic: 'runs',
    default: 60,
    meaning: 'a failed scheduled run is retried through the queue after this delay × 1, 5, 15 and 60 (1–720)',
    key: 'recoveryDelaySeconds',
    parse: integer(1, 720),
  },
  {
    name: 'STATUS_SESSION_HOURS',
    kind: 'var',
    topic: 'status',
    default: 8,
    meaning: 'a sign-in to the status page (`/api/internal/status`) lasts this long (1–168)',
    key: 'statusSessionHours',
    parse: integer(1, 168),
  },
  {
    name: 'STATUS_SIGNIN_MAX_FAILURES',
    kind: 'var',
    topic: 'status',
    default: 5,
    meaning:
      'failed sign-ins to the status page one client IP (`CF-Connecting-IP`) may make per window before it is refused with 429 (1–1000)',
    key: 'statusSigninMaxFailures',
    parse: integer(1, 1000),
  },
  {
    name: 'STATUS_SIGNIN_WINDOW_MINUTES',
    kind: 'var',
    topic: 'status',
    default: 15,
    meaning: 'the window failed sign-ins are counted in, from the first failure (Upstash; 1–1440)',
    key: 'statusSigninWindowMinutes',
    parse: integer(1, 1440),
  },
  {
    name: 'STATUS_ACCESS_TEAM_DOMAIN',
    kind: 'var',
    topic: 'status',
    default: 'unset',
    meaning:
      'with `STATUS_ACCESS_AUD`: a Cloudflare Access identity signs in to the status page, its `Cf-Access-Jwt-Assertion` verified against `<team domain>/cdn-cgi/access/certs` (`https://<team>.cloudflareaccess.com`; http only for localhost)',
    key: 'statusAccess',
    parse: statusAccess,
  },
  {
    name: 'STATUS_ACCESS_AUD',
    kind: 'var',
    topic: 'status',
    default: 'unset',
    meaning: "the Access application's Application Audience (AUD) tag (read with `STATUS_ACCESS_TEAM_DOMAIN`)",
  },
  {
    name: 'HEARTBEAT_URL_<JOB>',
    kind: 'var or secret',
    topic: 'connections',
    default: 'unset',
    meaning: 'heartbeat check URL of that job (http or https)',
    key: 'heartbeatUrls',
    parse: heartbeats,
  },
  {
    name: 'DATABASE_URL',
    kind: 'secret',
    topic: 'connections',
    meaning: 'Neon connection string',
    key: 'databaseUrl',
    parse: requiredUrl(['postgres:', 'postgresql:']),
  },
  {
    name: 'NEON_HTTP_ENDPOINT',
    kind: 'dev only',
    topic: 'connections',
    default: 'unset',
    meaning: 'sends Neon HTTP queries to the local endpoint; leave it unset in production',
    key: 'neonHttpEndpoint',
    parse: optionalUrl,
  },
  {
    name: 'UPSTASH_REDIS_REST_URL',
    kind: 'secret',
    topic: 'connections',
    meaning: 'Upstash REST endpoint',
    key: 'redisUrl',
    parse: requiredUrl(['https:', 'http:']),
  },
  {
    name: 'UPSTASH_REDIS_REST_TOKEN',
    kind: 'secret',
    topic: 'connections',
    meaning: 'Upstash REST token',
    key: 'redisToken',
    parse: requiredString,
  },
  { name: 'CRON_SECRET', kind: 'secret', topic: 'connections', meaning: 'bearer token for the HTTP routes (read by the auth middleware)' },
  {
    name: 'BLOBS',
    kind: 'R2 binding',
    topic: 'connections',
    meaning: 'the attachments bucket, for `BLOB_STORE=r2` and the files queued with it',
  },
  { name: 'CONTINUATIONS', kind: 'Queue binding', topic: 'connections', meaning: 'producer and consumer of `spacerr-jobs-continuations`' },
] as const satisfies readonly Setting[];

/**
 * Every setting the Worker parses, validated once per invocation: the machine's, and each job's,
 * which its module adds to this interface (`declare module '../config/settings'`).
 */
export interface Config extends ConfigOf<typeof MACHINE_SETTINGS> {}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/**
 * One table of the given lists of settings (each job's, in the job list's order, then the
 * machine's): topic by topic, each list's settings in their order. Throws {@link SettingsError}
 * when a name or a `Config` field is declared twice.
 */
export function composeSettings<S extends Setting>(lists: readonly (readonly S[])[]): readonly S[] {
  const all = lists.flat();
  for (const field of ['name', 'key'] as const) {
    const seen = new Set<string>();
    for (const setting of all) {
      const value = setting[field];
      if (value === undefined) continue;
      if (seen.has(value)) throw new SettingsError(`setting ${field} "${value}" is declared twice`);
      seen.add(value);
    }
  }
  return TOPICS.flatMap((topic) => all.filter((setting) => setting.topic === topic));
}

/**
 * The `var` settings with a default, which wrangler.toml [vars] declares at their defaults (an
 * optional one, `unset` by default, is left out).
 */
export function varDefaults(settings: readonly Setting[]): Readonly<Record<string, string>> {
  return Object.fromEntries(
    settings.flatMap((s) => (s.kind === 'var' && s.default !== undefined && s.default !== 'unset' ? [[s.name, String(s.default)]] : [])),
  );
}
