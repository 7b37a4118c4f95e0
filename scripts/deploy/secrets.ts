/**
 * The secrets a deployed Worker needs, and the one it must not have, checked against
 * `wrangler secret list --format json` (an array of `{name, type}`).
 */

export const REQUIRED_SECRETS = ['DATABASE_URL', 'UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'CRON_SECRET'] as const;

/** Set only in local development and tests: in production it would send every query to a loopback endpoint. */
export const FORBIDDEN_SECRETS = ['NEON_HTTP_ENDPOINT'] as const;

export interface SecretCheck {
  missing: string[];
  forbidden: string[];
  /** Every name the Worker has, for the report. */
  present: string[];
}

/** Parses wrangler's JSON secret list; throws when it is not one. */
export function parseSecretList(stdout: string): string[] {
  // wrangler may print notices around the JSON; the list is the outermost [...].
  const start = stdout.indexOf('[');
  const end = stdout.lastIndexOf(']');
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout.slice(start, end + 1));
  } catch {
    parsed = undefined;
  }
  if (start < 0 || !Array.isArray(parsed) || !parsed.every((s) => typeof s?.name === 'string')) {
    throw new Error(`\`wrangler secret list --format json\` printed no secret list:\n${stdout.trim().slice(0, 500)}`);
  }
  return parsed.map((s: { name: string }) => s.name);
}

/** Which required secrets are missing and which forbidden ones are set. */
export function checkSecrets(present: string[]): SecretCheck {
  return {
    missing: REQUIRED_SECRETS.filter((name) => !present.includes(name)),
    forbidden: FORBIDDEN_SECRETS.filter((name) => present.includes(name)),
    present,
  };
}
