/**
 * Where the CLI finds CRON_SECRET: the environment first, then `.dev.vars` in the working
 * directory (what `npm run dev` writes; `npm run` always starts in the project root).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { CliError, EXIT } from './errors.ts';

export interface Secret {
  value: string;
  /** Where it came from, for error messages: "CRON_SECRET" or a `.dev.vars` path. */
  source: string;
}

/** Returns CRON_SECRET from `env`, else from `<cwd>/.dev.vars`; throws a how-to-fix error if neither has it. */
export function findSecret(env: NodeJS.ProcessEnv, cwd: string): Secret {
  const fromEnv = env.CRON_SECRET;
  if (fromEnv) return { value: fromEnv, source: 'CRON_SECRET in the environment' };
  const file = join(cwd, '.dev.vars');
  if (existsSync(file)) {
    // Node's own dotenv parser: KEY=value lines, quotes, comments.
    const value = parseEnv(readFileSync(file, 'utf8')).CRON_SECRET;
    if (value) return { value, source: file };
  }
  throw new CliError(
    `No CRON_SECRET: set it in the environment (CRON_SECRET=… npm run job -- …), ` +
      `or start the local stack with \`npm run dev\`, which writes it to .dev.vars (looked for ${file}).`,
    EXIT.usage,
  );
}
