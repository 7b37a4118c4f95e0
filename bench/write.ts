/**
 * Writes a result file the way the repository's formatter would, so `npm run lint`
 * (`prettier --check .`) stays green after a bench run, CI's included.
 */
import { writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';

/** `value` as JSON, formatted by Prettier with the project's settings. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  const options = (await resolveConfig(path)) ?? {};
  writeFileSync(path, await format(JSON.stringify(value), { ...options, parser: 'json' }));
}
