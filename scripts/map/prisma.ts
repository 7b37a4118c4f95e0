/**
 * The app's Prisma schema, read by Prisma's own schema engine (@prisma/prisma-schema-wasm, offline):
 * `validate` for the error text, `get_dmmf` for models and fields, `get_config` for the datasource.
 * Two facts the DMMF leaves out are read from the source text once Prisma has accepted it: the
 * datasource's `relationMode` and a relation's `map:` (its foreign key's constraint name).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { get_config, get_dmmf, validate } from '@prisma/prisma-schema-wasm';
import { MapError } from './errors.ts';

/** A field of the DMMF (`get_dmmf(...).datamodel.models[].fields[]`), the parts the map reads. */
export interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  type: string;
  isRequired: boolean;
  isList: boolean;
  isId: boolean;
  /** `[name, args]` of a `@db.*` attribute, e.g. `["Timestamptz", ["6"]]`. */
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  /** Only when the schema spells `onDelete:`; Prisma's default applies otherwise. */
  relationOnDelete?: string;
}

export interface DmmfModel {
  name: string;
  dbName: string | null;
  schema: string | null;
  fields: DmmfField[];
  primaryKey: { fields: string[] } | null;
}

/** What the map is derived from: Prisma's reading of the schema, plus the two facts from the text. */
export interface ParsedSchema {
  models: DmmfModel[];
  enums: { name: string; dbName: string | null }[];
  provider: string;
  /** The datasource's `schemas` (multi-schema); empty for one schema. */
  schemas: string[];
  relationMode: 'foreignKeys' | 'prisma';
  /** `map:` of `@relation(...)`, by `Model.field`. */
  relationMaps: Map<string, string>;
}

/** The `.prisma` files of `path` (a file, or a folder read recursively) as `[path, content]` pairs. */
export function readSchemaFiles(path: string): [string, string][] {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    throw new MapError(`no Prisma schema at ${path}`);
  }
  if (stat.isFile()) return [[path, readFileSync(path, 'utf8')]];
  const files = (readdirSync(path, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.prisma'))
    .sort()
    .map((f): [string, string] => [join(path, f), readFileSync(join(path, f), 'utf8')]);
  if (files.length === 0) throw new MapError(`no .prisma files under ${path}`);
  return files;
}

/**
 * Parses `files` with Prisma's engine. A schema Prisma rejects throws a MapError carrying Prisma's
 * own message (file, line, what is wrong). `root` makes the paths in that message relative.
 */
export function parseSchema(files: [string, string][], root = process.cwd()): ParsedSchema {
  const prismaSchema = files.map(([path, content]): [string, string] => [relative(root, path) || path, content]);
  try {
    validate(JSON.stringify({ prismaSchema, noColor: true }));
  } catch (err) {
    throw new MapError(`Prisma rejects the schema:\n${engineMessage(err)}`);
  }
  const dmmf = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema }))) as {
    datamodel: { models: DmmfModel[]; enums: { name: string; dbName: string | null }[] };
  };
  const config = JSON.parse(get_config(JSON.stringify({ prismaSchema, datasourceOverrides: {}, ignoreEnvVarErrors: true, env: {} }))) as {
    config: { datasources: { name: string; provider: string; schemas: string[]; sourceFilePath: string }[] };
    errors: unknown[];
  };
  const datasource = config.config.datasources[0];
  if (!datasource) throw new MapError('the Prisma schema has no datasource block');
  if (datasource.provider !== 'postgresql')
    throw new MapError(`the datasource's provider is "${datasource.provider}": the Worker reads Postgres only`);
  const sources = prismaSchema.map(([, content]) => stripComments(content));
  return {
    models: dmmf.datamodel.models,
    enums: dmmf.datamodel.enums,
    provider: datasource.provider,
    schemas: datasource.schemas,
    relationMode: readRelationMode(sources, datasource.name),
    relationMaps: readRelationMaps(sources),
  };
}

/** The engine throws an Error whose message is JSON `{ error_code, message }`. */
function engineMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  try {
    const parsed = JSON.parse(text) as { message?: string };
    return parsed.message ?? text;
  } catch {
    return text;
  }
}

function readRelationMode(sources: string[], datasource: string): 'foreignKeys' | 'prisma' {
  for (const source of sources) {
    const body = blockBody(source, 'datasource', datasource);
    if (body === undefined) continue;
    return /\brelationMode\s*=\s*"prisma"/.test(body) ? 'prisma' : 'foreignKeys';
  }
  return 'foreignKeys';
}

function readRelationMaps(sources: string[]): Map<string, string> {
  const maps = new Map<string, string>();
  for (const source of sources) {
    for (const match of source.matchAll(/\bmodel\s+(\w+)\s*\{/g)) {
      const body = blockBody(source, 'model', match[1]!) ?? '';
      for (const line of body.split('\n')) {
        const field = /^\s*(\w+)\s/.exec(line)?.[1];
        const args = field && attributeArgs(line, '@relation');
        const map = args && /\bmap\s*:\s*"((?:[^"\\]|\\.)*)"/.exec(args)?.[1];
        if (map) maps.set(`${match[1]}.${field}`, map);
      }
    }
  }
  return maps;
}

/** The text between the braces of `<keyword> <name> { … }`, strings and nested braces respected. */
function blockBody(source: string, keyword: string, name: string): string | undefined {
  const start = new RegExp(`\\b${keyword}\\s+${name}\\s*\\{`).exec(source);
  if (!start) return undefined;
  const from = start.index + start[0].length;
  const end = closing(source, from, '{', '}');
  return source.slice(from, end);
}

/** The argument text of `attribute(...)` on `line`, or undefined. */
function attributeArgs(line: string, attribute: string): string | undefined {
  const at = line.indexOf(`${attribute}(`);
  if (at < 0) return undefined;
  const from = at + attribute.length + 1;
  return line.slice(from, closing(line, from, '(', ')'));
}

/** The index of the `close` that balances an `open` just before `from`. */
function closing(text: string, from: number, open: string, close: string): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === open) depth++;
    else if (c === close && --depth === 0) return i;
  }
  return text.length;
}

/** Drops `//` comments (Prisma's only kind), keeping strings whole and line numbers unchanged. */
function stripComments(source: string): string {
  return source
    .split('\n')
    .map((line) => {
      for (let i = 0; i < line.length; i++) {
        if (line[i] === '"') {
          for (i++; i < line.length && line[i] !== '"'; i++) if (line[i] === '\\') i++;
        } else if (line[i] === '/' && line[i + 1] === '/') return line.slice(0, i);
      }
      return line;
    })
    .join('\n');
}
