/**
 * Every setting the Worker reads, validated once per invocation. A bad value fails the run with a
 * message naming the variable; nothing ever silently falls back to 0 (0 retention days would
 * delete every deactivated user at once).
 */

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

export interface Config {
  accountRetentionDays: number;
  emptyChatMinAgeMinutes: number;
  staleStreamAfterMinutes: number;
  runSubrequestBudget: number;
  runTimeBudgetMs: number;
  deleteBatchSize: number;
  /** Chats per batch of the empty-chat job (a chat's cascade is small: bigger batches, same lock time). */
  emptyChatBatchSize: number;
  blobMaxAttempts: number;
  jobRunsRetentionDays: number;
  /** How long after a scheduled run data it should have deleted may still exist before it is overdue. */
  deadlineGraceHours: number;
  /** How many queued continuations one scheduled run may chain (0: wait for the next cron). */
  continuationMaxHops: number;
  /** Healthchecks-style ping URL per job name (from HEARTBEAT_URL_<JOB_NAME>), when configured. */
  heartbeatUrls: Record<string, string>;
  databaseUrl: string;
  /** Local development and tests only: where the Neon HTTP driver sends queries. */
  neonHttpEndpoint: string | undefined;
  redisUrl: string;
  redisToken: string;
}

type Source = Partial<Record<string, unknown>>;

/** Integer bounds per variable: the lower bound is what keeps a typo from deleting everything. */
const INTEGER_VARS = {
  ACCOUNT_RETENTION_DAYS: { min: 1, max: 3650 },
  EMPTY_CHAT_MIN_AGE_MINUTES: { min: 1, max: 525_600 },
  STALE_STREAM_AFTER_MINUTES: { min: 1, max: 10_080 },
  RUN_SUBREQUEST_BUDGET: { min: 5, max: 10_000 },
  RUN_TIME_BUDGET_MS: { min: 1_000, max: 900_000 },
  DELETE_BATCH_SIZE: { min: 1, max: 10_000 },
  EMPTY_CHAT_BATCH_SIZE: { min: 1, max: 10_000 },
  BLOB_MAX_ATTEMPTS: { min: 1, max: 100 },
  JOB_RUNS_RETENTION_DAYS: { min: 1, max: 3650 },
  DEADLINE_GRACE_HOURS: { min: 1, max: 8760 },
  CONTINUATION_MAX_HOPS: { min: 0, max: 10_000 },
} as const;

/** `HEARTBEAT_URL_<JOB>`: the job's name in capitals, `-` as `_` (`a-job` → `HEARTBEAT_URL_A_JOB`). */
export const HEARTBEAT_PREFIX = 'HEARTBEAT_URL_';
export const heartbeatVariable = (job: string) => `${HEARTBEAT_PREFIX}${job.toUpperCase().replaceAll('-', '_')}`;

/**
 * Parses and checks the thresholds and budgets. Throws {@link ConfigError} naming the variable.
 * `jobs` are the job names a HEARTBEAT_URL_* variable may name (a typo must not go unnoticed).
 */
export function parseConfig(env: Source, jobs: readonly string[] = []): Config {
  const int = (name: keyof typeof INTEGER_VARS) => parseInteger(name, env[name], INTEGER_VARS[name]);
  return {
    accountRetentionDays: int('ACCOUNT_RETENTION_DAYS'),
    emptyChatMinAgeMinutes: int('EMPTY_CHAT_MIN_AGE_MINUTES'),
    staleStreamAfterMinutes: int('STALE_STREAM_AFTER_MINUTES'),
    runSubrequestBudget: int('RUN_SUBREQUEST_BUDGET'),
    runTimeBudgetMs: int('RUN_TIME_BUDGET_MS'),
    deleteBatchSize: int('DELETE_BATCH_SIZE'),
    emptyChatBatchSize: int('EMPTY_CHAT_BATCH_SIZE'),
    blobMaxAttempts: int('BLOB_MAX_ATTEMPTS'),
    jobRunsRetentionDays: int('JOB_RUNS_RETENTION_DAYS'),
    deadlineGraceHours: int('DEADLINE_GRACE_HOURS'),
    continuationMaxHops: int('CONTINUATION_MAX_HOPS'),
    heartbeatUrls: parseHeartbeats(env, jobs),
    databaseUrl: requireUrl('DATABASE_URL', env.DATABASE_URL, ['postgres:', 'postgresql:']),
    neonHttpEndpoint: optionalUrl('NEON_HTTP_ENDPOINT', env.NEON_HTTP_ENDPOINT),
    redisUrl: requireUrl('UPSTASH_REDIS_REST_URL', env.UPSTASH_REDIS_REST_URL, ['https:', 'http:']),
    redisToken: requireString('UPSTASH_REDIS_REST_TOKEN', env.UPSTASH_REDIS_REST_TOKEN),
  };
}

function parseHeartbeats(env: Source, jobs: readonly string[]): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const name of Object.keys(env).filter((k) => k.startsWith(HEARTBEAT_PREFIX))) {
    const job = jobs.find((j) => heartbeatVariable(j) === name);
    if (!job) {
      throw new ConfigError(name, `names no job; use one of ${jobs.map(heartbeatVariable).join(', ')}`);
    }
    const url = optionalUrl(name, env[name]);
    if (url) urls[job] = url.replace(/\/+$/, '');
  }
  return urls;
}

function parseInteger(name: string, raw: unknown, bounds: { min: number; max: number }): number {
  if (raw === undefined || raw === null || raw === '') {
    throw new ConfigError(name, `is not set; set it in wrangler.toml [vars] (an integer from ${bounds.min} to ${bounds.max})`);
  }
  const text = String(raw).trim();
  // Number('') is 0 and parseInt('3abc') is 3: accept plain decimal digits only.
  if (!/^\d+$/.test(text)) {
    throw new ConfigError(name, `must be a whole number from ${bounds.min} to ${bounds.max}, got ${JSON.stringify(raw)}`);
  }
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < bounds.min || value > bounds.max) {
    throw new ConfigError(name, `must be from ${bounds.min} to ${bounds.max}, got ${text}`);
  }
  return value;
}

function requireString(name: string, raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw new ConfigError(name, `is not set; set it with \`wrangler secret put ${name}\` (or in .dev.vars locally)`);
  }
  return raw.trim();
}

function requireUrl(name: string, raw: unknown, protocols: string[]): string {
  const value = requireString(name, raw);
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
}

function optionalUrl(name: string, raw: unknown): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  return requireUrl(name, raw, ['http:', 'https:']);
}

const schemes = (protocols: string[]) => protocols.map((p) => `"${p.slice(0, -1)}"`).join(' or ');
