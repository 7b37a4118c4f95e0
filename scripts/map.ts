/**
 * `npm run map -- --prisma <schema file or folder>` derives the app map from the app's Prisma
 * schema and the owner's overrides, prints it, and writes app-map.json (the file the Worker
 * bundles). `--check` derives it again from what app-map.json says it came from and fails on any
 * difference. Exit codes: 0 written or unchanged, 1 the schema or overrides cannot be used or
 * `--check` found a difference, 2 bad arguments.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import type { AppMap } from '../src/app-map/types.ts';
import { buildMap, renderMap } from './map/build.ts';
import { MapError } from './map/errors.ts';
import { formatSummary } from './map/summary.ts';

const DEFAULT_OVERRIDES = 'app-map.overrides.json';
const DEFAULT_OUT = 'app-map.json';

const USAGE = `usage:
  npm run map -- --prisma <schema.prisma or schema folder> [--overrides FILE | --no-overrides] [--out FILE]
  npm run map -- --check [--out FILE]

  --prisma        the app's Prisma schema: one file, or a folder of *.prisma files (read recursively)
  --overrides     the owner's overrides (default ${DEFAULT_OVERRIDES}; read, never written)
  --no-overrides  derive from the schema's conventions alone
  --out           where the map goes (default ${DEFAULT_OUT})
  --check         derive again from the schema and overrides the existing map names (or --prisma,
                  --overrides) and exit 1 if the result differs from it; writes nothing

Overrides (JSON): { "schema": "public",
                    "roles": { "<role>": { "model": "<Prisma model>", "columns": { "<logical>": "<field>" } } },
                    "settings": { ... } }
Roles: user, chat, message (required); project, messageSource, attachment (optional).`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        prisma: { type: 'string' },
        overrides: { type: 'string' },
        'no-overrides': { type: 'boolean' },
        out: { type: 'string' },
        check: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    console.error(`✗ ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.overrides !== undefined && values['no-overrides']) {
    console.error(`✗ --overrides and --no-overrides exclude each other\n${USAGE}`);
    return 2;
  }
  const root = process.cwd();
  const out = resolve(root, values.out ?? DEFAULT_OUT);
  const existing = values.check ? readExisting(out) : undefined;
  const prisma = values.prisma ?? existing?.derivedFrom.prisma;
  if (!prisma) {
    console.error(`✗ --prisma is required${values.check ? ` (${values.out ?? DEFAULT_OUT} names no schema)` : ''}\n${USAGE}`);
    return 2;
  }
  if (values.overrides !== undefined && !existsSync(resolve(root, values.overrides))) {
    console.error(`✗ no overrides file at ${values.overrides}`);
    return 2;
  }
  const overrides = values['no-overrides'] ? null : (values.overrides ?? (existing ? existing.derivedFrom.overrides : DEFAULT_OVERRIDES));

  const map = buildMap({ prisma, overrides, root });
  if (existing) {
    if (isDeepStrictEqual(existing, JSON.parse(JSON.stringify(map)))) {
      console.log(`✓ ${values.out ?? DEFAULT_OUT} is what ${prisma} derives`);
      return 0;
    }
    const keys = Object.keys(map).filter((k) => !isDeepStrictEqual(existing[k as keyof AppMap], map[k as keyof AppMap]));
    console.error(
      `✗ ${values.out ?? DEFAULT_OUT} differs from what the schema derives (${keys.join(', ')}): run npm run map -- --prisma ${prisma}`,
    );
    return 1;
  }
  for (const line of formatSummary(map)) console.log(line);
  writeFileSync(out, await renderMap(map, root));
  console.log(`\nwrote ${values.out ?? DEFAULT_OUT}`);
  return 0;
}

function readExisting(path: string): AppMap {
  if (!existsSync(path)) throw new MapError(`--check: no map at ${path} to compare with`);
  return JSON.parse(readFileSync(path, 'utf8')) as AppMap;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof MapError)) throw err;
  console.error(`✗ ${err.message}`);
  process.exitCode = 1;
}
