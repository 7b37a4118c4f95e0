/**
 * Every setting the Worker reads, in one table: the machine's (src/config/settings.ts) and each
 * job's (its declaration's `settings`), topic by topic. The parser, the README's Configuration
 * table and the check of wrangler.toml [vars] come from it (test/unit/settings.test.ts).
 */
import { parseSettings } from './config/parse';
import { composeSettings, type Config, MACHINE_SETTINGS, varDefaults } from './config/settings';
import type { Source } from './config/values';
import { JOBS } from './jobs';

export type { Config } from './config/settings';

/** One row of the table: a job's setting or one of the machine's, as declared. */
type AnySetting = NonNullable<(typeof JOBS)[number]['settings']>[number] | (typeof MACHINE_SETTINGS)[number];

export const SETTINGS = composeSettings<AnySetting>([...JOBS.map((job) => job.settings ?? []), MACHINE_SETTINGS]);

/**
 * The `var` settings with a default, which wrangler.toml [vars] declares at their defaults (an
 * optional one, `unset` by default, is left out).
 */
export const VAR_DEFAULTS = varDefaults(SETTINGS);

/**
 * Parses and checks every setting of the table, in its order. Throws ConfigError naming the
 * variable. `jobs` are the job names a HEARTBEAT_URL_* variable may name.
 */
export function parseConfig(env: Source, jobs: readonly string[] = []): Config {
  return parseSettings(SETTINGS, env, jobs);
}
