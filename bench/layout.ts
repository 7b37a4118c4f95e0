/**
 * The app layout the bench runs on (`--layout`, default spacerr): its app map
 * (fixtures/<layout>/app-map.json), and every app name the bench's SQL uses, taken from it and
 * quoted. Nothing in bench/ writes an app table or column name by hand; the columns the map does
 * not know (a Prisma `@updatedAt`, a `name`, a `role`, a `mediaType`) are read from the catalog
 * (`requiredColumns`) and given a value of their type, as test/layouts/app-rows.ts does.
 */
import pg from 'pg';
import { LAYOUTS, type Layout, layoutMapFile, readMap } from '../scripts/stack/migrate.ts';
import type { AppMap, MappedColumn, Role } from '../src/app-map/types.ts';

/** The Worker's blob outbox: counted with the app's tables, kept under its bare name in results. */
export const BLOB_DELETIONS = 'blob_deletions';
export const DEFAULT_LAYOUT: Layout = 'spacerr';
/** The layout of result files written before `--layout` (they have no `layout` field). */
export const LEGACY_LAYOUT: Layout = 'snake-plural';

/** The roles whose tables the bench fills and counts, parents first. */
const ROLES: Role[] = ['user', 'project', 'chat', 'message', 'attachment', 'messageSource'];

const q = pg.escapeIdentifier;

export interface BenchTable {
  role: Role;
  /** The physical name, unquoted: the key of row counts in results. */
  name: string;
  /** `"schema"."table"`. */
  q: string;
  /** `"column"` of a logical column (`id` included). */
  c(logical: string): string;
  col(logical: string): MappedColumn;
  has(logical: string): boolean;
}

export interface BenchLayout {
  layout: Layout;
  map: AppMap;
  mapFile: string;
  has(role: Role, logical?: string): boolean;
  t(role: Role): BenchTable;
  /**
   * Files as Spacerr records them: a file part in `message.parts` and a message_source row with
   * its pathname, no attachments table. Otherwise (snake-plural) an attachments row per file.
   */
  spacerrFiles: boolean;
  /** The tables counted, by physical name: the mapped roles', then blob_deletions. */
  tables: string[];
  /** `"schema"."table"` for a counted table name. */
  qualified(table: string): string;
  /** `interval` (SQL, e.g. `interval '40 days'`) before now, in the column's own type (UTC wall time for `timestamp`). */
  ago(role: Role, logical: string, interval: string): string;
  /** `alias.column` read as an instant (timestamptz). */
  instant(role: Role, logical: string, alias: string): string;
}

export function parseLayout(value: string | undefined): Layout {
  const layout = value ?? DEFAULT_LAYOUT;
  if (!(LAYOUTS as readonly string[]).includes(layout)) throw new Error(`--layout: expected one of ${LAYOUTS.join(', ')}, got "${layout}"`);
  return layout as Layout;
}

export function benchLayout(layout: Layout): BenchLayout {
  const mapFile = layoutMapFile(layout);
  const map = readMap(mapFile);
  const t = (role: Role): BenchTable => {
    const table = map.roles[role];
    if (!table) throw new Error(`the ${layout} map has no ${role}`);
    const col = (logical: string) => {
      const c = logical === 'id' ? table.id : table.columns[logical];
      if (!c) throw new Error(`the ${layout} map's ${role} has no ${logical}`);
      return c;
    };
    return {
      role,
      name: table.table,
      q: `${q(map.schema)}.${q(table.table)}`,
      c: (logical) => q(col(logical).name),
      col,
      has: (logical) => logical === 'id' || table.columns[logical] !== undefined,
    };
  };
  const has = (role: Role, logical?: string) => map.roles[role] !== undefined && (logical === undefined || t(role).has(logical));
  const present = ROLES.filter((r) => has(r));
  const byName = new Map(present.map((r) => [t(r).name, t(r).q]));
  const wall = (role: Role, logical: string) => t(role).col(logical).time === 'timestamp';
  return {
    layout,
    map,
    mapFile,
    has,
    t,
    spacerrFiles: !has('attachment') && (has('message', 'parts') || has('messageSource', 'pathname')),
    tables: [...present.map((r) => t(r).name), BLOB_DELETIONS],
    qualified(table) {
      if (table === BLOB_DELETIONS) return `spacerr_jobs.${BLOB_DELETIONS}`;
      const hit = byName.get(table);
      if (!hit) throw new Error(`${table}: not a table of the ${layout} map`);
      return hit;
    },
    ago: (role, logical, interval) => (wall(role, logical) ? `((now() AT TIME ZONE 'UTC') - (${interval}))` : `(now() - (${interval}))`),
    instant: (role, logical, alias) =>
      wall(role, logical) ? `(${alias}.${t(role).c(logical)} AT TIME ZONE 'UTC')` : `${alias}.${t(role).c(logical)}`,
  };
}

interface CatalogColumn {
  name: string;
  type: string;
  enumLabel: string | null;
}

/** The NOT NULL columns without a default of a role's table, from the catalog. */
export async function requiredColumns(client: pg.Client, L: BenchLayout, role: Role): Promise<CatalogColumn[]> {
  const { rows } = await client.query<CatalogColumn>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
            (SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = a.atttypid ORDER BY e.enumsortorder LIMIT 1) AS "enumLabel"
     FROM pg_attribute a
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT a.atthasdef
     ORDER BY a.attnum`,
    [L.t(role).q],
  );
  return rows;
}

/** A value of the column's type, as SQL; text values carry the row's id (`idExpr`), so a unique column stays unique. */
function filler(column: CatalogColumn, idExpr: string): string {
  if (column.enumLabel !== null) return `${pg.escapeLiteral(column.enumLabel)}::${column.type}`;
  if (column.type.startsWith('timestamp without')) return `(now() AT TIME ZONE 'UTC')`;
  if (column.type.startsWith('timestamp')) return 'now()';
  if (column.type === 'boolean') return 'false';
  if (/^(integer|bigint|smallint|numeric|double precision|real)/.test(column.type)) return '0';
  if (column.type === 'jsonb' || column.type === 'json') return `'[]'::${column.type}`;
  if (column.type === 'text' || column.type.startsWith('character')) return `${pg.escapeLiteral(`${column.name} `)} || ${idExpr}`;
  throw new Error(`no bench value for the required column ${column.name} (${column.type})`);
}

/**
 * The columns and value expressions of a row of `role`: `values` by logical column (SQL
 * expressions; undefined ones left out), and every other required column a filler.
 */
export async function rowColumns(
  client: pg.Client,
  L: BenchLayout,
  role: Role,
  values: Record<string, string | undefined>,
): Promise<{ columns: string[]; exprs: string[] }> {
  const t = L.t(role);
  const byName = new Map<string, string>();
  const idExpr = values.id ?? 'gen_random_uuid()::text';
  for (const column of await requiredColumns(client, L, role)) byName.set(column.name, filler(column, idExpr));
  for (const [logical, expr] of Object.entries(values)) {
    if (expr === undefined || !t.has(logical)) continue;
    byName.set(t.col(logical).name, expr);
  }
  return { columns: [...byName.keys()].map(q), exprs: [...byName.values()] };
}

/** `INSERT INTO <role> (…) SELECT … <from>`, with `values` by logical column and the catalog's required columns filled. */
export async function insertSelect(
  client: pg.Client,
  L: BenchLayout,
  role: Role,
  values: Record<string, string | undefined>,
  from: string,
): Promise<string> {
  const { columns, exprs } = await rowColumns(client, L, role, values);
  return `INSERT INTO ${L.t(role).q} (${columns.join(', ')})\nSELECT ${exprs.join(', ')}\n${from}`;
}

/** The Worker's triggers on the app's tables (`spacerr_jobs_*`), as `[trigger, "schema"."table"]`. */
export async function workerTriggers(client: pg.Client, L: BenchLayout): Promise<Array<[string, string]>> {
  const { rows } = await client.query<{ tgname: string; relname: string }>(
    `SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace s ON s.oid = c.relnamespace
     WHERE s.nspname = $1 AND t.tgname LIKE 'spacerr\\_jobs\\_%' AND NOT t.tgisinternal ORDER BY 2, 1`,
    [L.map.schema],
  );
  return rows.map((r) => [r.tgname, `${q(L.map.schema)}.${q(r.relname)}`]);
}
