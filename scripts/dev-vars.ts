/**
 * A setting for the project's scripts: from the environment first, then from `.dev.vars` (what
 * `npm run dev` writes), read with Node's own dotenv parser (KEY=value lines, quotes, comments).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';

const PROJECT_ROOT = join(import.meta.dirname, '..');

/** `name`'s value and where it came from, or undefined when neither place has it. */
export function devVar(name: string, opts: { env?: NodeJS.ProcessEnv; dir?: string } = {}): { value: string; source: string } | undefined {
  const fromEnv = (opts.env ?? process.env)[name];
  if (fromEnv) return { value: fromEnv, source: `${name} in the environment` };
  const file = join(opts.dir ?? PROJECT_ROOT, '.dev.vars');
  if (!existsSync(file)) return undefined;
  const value = parseEnv(readFileSync(file, 'utf8'))[name];
  return value ? { value, source: file } : undefined;
}
