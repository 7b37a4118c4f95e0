/**
 * Writes a result file the way the repository's formatter would, so `npm run lint`
 * (`prettier --check .`) stays green after a bench run, CI's included; and the sections of
 * bench/README.md the bench generates.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { format, resolveConfig } from 'prettier';

/** `value` as JSON, formatted by Prettier with the project's settings. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  const options = (await resolveConfig(path)) ?? {};
  writeFileSync(path, await format(JSON.stringify(value), { ...options, parser: 'json' }));
}

/** Replaces the text from the marker `start` to the marker `end` (both kept) of the file at `path` with `body`. */
export function writeMarkedSection(path: string, start: string, end: string, body: string): void {
  const text = readFileSync(path, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${path} needs the markers ${start} and ${end}`);
  writeFileSync(path, `${text.slice(0, from + start.length)}\n${body}${text.slice(to)}`);
}
