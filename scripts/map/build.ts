/** Files in, map out: reads the schema and the overrides, derives the map, renders it as the file. */
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { format, resolveConfig } from 'prettier';
import type { AppMap } from '../../src/app-map/types.ts';
import { deriveMap } from './derive.ts';
import { NO_OVERRIDES, readOverrides } from './overrides.ts';
import { parseSchema, readSchemaFiles } from './prisma.ts';

export interface BuildOptions {
  /** The schema file or folder; relative paths are from `root`. */
  prisma: string;
  /** The overrides file, or null for none. A file that does not exist counts as none. */
  overrides: string | null;
  /** The repository root: paths in the map are relative to it. */
  root: string;
}

/** The map of `prisma` with `overrides`; throws a MapError on a schema or overrides it cannot use. */
export function buildMap({ prisma, overrides, root }: BuildOptions): AppMap {
  const schemaPath = resolve(root, prisma);
  const overridesPath = overrides === null ? null : resolve(root, overrides);
  const parsed = overridesPath === null ? undefined : readOverrides(overridesPath);
  return deriveMap({
    schema: parseSchema(readSchemaFiles(schemaPath), root),
    overrides: parsed ?? NO_OVERRIDES,
    derivedFrom: { prisma: portable(root, schemaPath), overrides: parsed && overridesPath ? portable(root, overridesPath) : null },
  });
}

/** The map as app-map.json holds it: JSON formatted by the project's Prettier config. */
export async function renderMap(map: AppMap, root: string): Promise<string> {
  const config = (await resolveConfig(resolve(root, 'app-map.json'))) ?? {};
  return format(JSON.stringify(map, null, 2), { ...config, parser: 'json' });
}

/** A path relative to the root with `/` separators, so the map reads the same on every machine. */
function portable(root: string, path: string): string {
  const rel = relative(root, path);
  return (isAbsolute(rel) ? path : rel).split(sep).join('/');
}
