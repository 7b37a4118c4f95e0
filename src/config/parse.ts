/**
 * Parsing a table of settings (src/settings.ts puts the Worker's together), validated once per
 * invocation. A bad value fails the run with a message naming the variable; nothing ever silently
 * falls back to 0 (0 retention days would delete every deactivated user at once).
 */
import type { Config, Setting } from './settings';
import type { Source } from './values';

export type { Config } from './settings';
export { ConfigError, HEARTBEAT_PREFIX, heartbeatVariable } from './values';

/**
 * Parses and checks every setting of `settings`, in its order. Throws ConfigError naming the
 * variable. `jobs` are the job names a HEARTBEAT_URL_* variable may name.
 */
export function parseSettings(settings: readonly Setting[], env: Source, jobs: readonly string[]): Config {
  const config: Record<string, unknown> = {};
  for (const setting of settings) {
    if (setting.key !== undefined && setting.parse) config[setting.key] = setting.parse(setting.name, env, jobs);
  }
  return config as unknown as Config;
}
