/**
 * Where the CLI finds CRON_SECRET: the environment first, then `.dev.vars` in the working
 * directory (what `npm run dev` writes; `npm run` always starts in the project root).
 */
import { join } from 'node:path';
import { devVar } from '../dev-vars.ts';
import { CliError, EXIT } from './errors.ts';

export interface Secret {
  value: string;
  /** Where it came from, for error messages: "CRON_SECRET" or a `.dev.vars` path. */
  source: string;
}

/** Returns CRON_SECRET from `env`, else from `<cwd>/.dev.vars`; throws a how-to-fix error if neither has it. */
export function findSecret(env: NodeJS.ProcessEnv, cwd: string): Secret {
  const found = devVar('CRON_SECRET', { env, dir: cwd });
  if (found) return found;
  const file = join(cwd, '.dev.vars');
  throw new CliError(
    `No CRON_SECRET: set it in the environment (CRON_SECRET=… npm run job -- …), ` +
      `or start the local stack with \`npm run dev\`, which writes it to .dev.vars (looked for ${file}).`,
    EXIT.usage,
  );
}
