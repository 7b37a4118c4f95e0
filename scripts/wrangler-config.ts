/**
 * wrangler.toml, read by a real TOML parser: the one reader for every script and test that needs
 * the Worker's crons or [vars] (wrangler itself reads the file for the Worker).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';

export interface WranglerConfig {
  name: string;
  /** [triggers] crons, in file order. */
  crons: string[];
  /** [vars], as wrangler passes them to the Worker. */
  vars: Record<string, string>;
}

const DEFAULT_PATH = new URL('../wrangler.toml', import.meta.url);

export function wranglerConfig(path: URL | string = DEFAULT_PATH): WranglerConfig {
  const toml = parse(readFileSync(path, 'utf8')) as {
    name?: unknown;
    triggers?: { crons?: unknown };
    vars?: Record<string, unknown>;
  };
  const crons = toml.triggers?.crons;
  if (!Array.isArray(crons) || !crons.every((c) => typeof c === 'string'))
    throw new Error(`${String(path)}: [triggers] crons is not a list of strings`);
  return {
    name: String(toml.name ?? ''),
    crons,
    vars: Object.fromEntries(Object.entries(toml.vars ?? {}).map(([k, v]) => [k, String(v)])),
  };
}

/**
 * The jobs wrangler.toml's comments name after each [triggers] cron (`"<cron>", # <when>: <job>, …`),
 * by expression; an expression without such a comment is left out.
 */
export function cronComments(path: URL | string = DEFAULT_PATH): Record<string, string[]> {
  const text = readFileSync(path, 'utf8');
  const list = /^crons = \[\n([\s\S]*?)^\]/m.exec(text)?.[1] ?? '';
  return Object.fromEntries(
    [...list.matchAll(/^\s*"([^"]+)",?\s*#[^:\n]*:\s*(.+)$/gm)].map(([, cron, jobs]) => [cron!, jobs!.split(/,\s*/)]),
  );
}
