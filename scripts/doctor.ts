/**
 * `npm run doctor [-- --map <file>]`: checks a database against an app map (docs/contract.md) and
 * changes nothing: each role's table and column types, the foreign keys' ON DELETE (those between
 * roles, and every one that references the user table), the triggers, functions and indexes the
 * installer would create from the map, and the Worker's migrations. One line per check, ✓ or ✗,
 * and under each ✗ the fix (SQL, and the Prisma schema line where one exists); warnings (!) and
 * notes (-) are not checks. The map: --map, else APP_MAP_FILE, else the bundled app-map.json.
 * DATABASE_URL from the environment, else from .dev.vars.
 * Exit codes: 0 every check passed, 1 a check failed or the database could not be read, 2 bad arguments.
 */
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { AppMap } from '../src/app-map/types.ts';
import { devVar } from './dev-vars.ts';
import { defaultMapFile, examine, formatChecks, isCheck } from './doctor/checks.ts';
import { readMap } from './stack/migrate.ts';

const USAGE = `usage: npm run doctor [-- --map <app-map.json>]
  --map   the app map to check the database against (default: $APP_MAP_FILE, else the bundled app-map.json)
DATABASE_URL from the environment, else from .dev.vars.`;

async function main(): Promise<number> {
  let values: { map?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { map: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const mapFile = resolve(values.map ?? defaultMapFile());
  let map: AppMap;
  try {
    map = readMap(mapFile);
  } catch (err) {
    console.error(`✗ cannot read the app map ${mapFile}: ${(err as Error).message}`);
    return 1;
  }
  const url = devVar('DATABASE_URL')?.value;
  if (!url) {
    console.error('✗ DATABASE_URL is not set: DATABASE_URL=postgres://… npm run doctor (or run `npm run dev` once to write .dev.vars)');
    return 1;
  }
  console.log(
    `app map: ${relative(process.cwd(), mapFile) || mapFile}${map.derivedFrom.prisma ? ` (from ${map.derivedFrom.prisma})` : ''}\n`,
  );
  try {
    const findings = await examine(url, { map });
    for (const line of formatChecks(findings)) console.log(line);
    const checks = findings.filter(isCheck);
    const failed = checks.filter((c) => !c.ok).length;
    console.log(failed === 0 ? `\nall ${checks.length} checks passed` : `\n${failed} of ${checks.length} checks failed`);
    return failed === 0 ? 0 : 1;
  } catch (err) {
    console.error(`✗ cannot check the database: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
