/**
 * The app's names as SQL, from the app map: the only way the Worker's SQL names an app table or
 * column. Every name is quoted and schema-qualified (Neon's HTTP queries have no session, and the
 * triggers run in the app's sessions, whatever their search_path).
 *
 * Times (docs/contract.md, "Times"): a `timestamp` column (Prisma's `TIMESTAMP(3)`, no time zone)
 * holds UTC wall time, as Prisma Client writes it. So a reference instant is compared with it as
 * `instant AT TIME ZONE 'UTC'` (a constant: the column's index still serves the comparison), and the
 * column is read as an instant with `column AT TIME ZONE 'UTC'`. Both are exact whatever the
 * session's TimeZone, which a plain cast between the two types is not. A `timestamptz` column is an
 * instant already and is used as it is.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { AppMap, MappedColumn, MappedTable, Role } from './types.ts';

/** A role's table and columns, as SQL fragments. */
export interface TableSql {
  readonly map: MappedTable;
  /** `"schema"."table"`. */
  readonly table: SQL;
  /** The physical table name, unquoted (pg_stat and pg_class look-ups). */
  readonly name: string;
  /** `"id"`. */
  readonly id: SQL;
  /** `"column"` for a logical column (throws for one the map lacks: check `has` first). */
  col(logical: string): SQL;
  /** The physical name of a logical column, unquoted. */
  colName(logical: string): string;
  has(logical: string): boolean;
  /** `column` read as an instant (timestamptz), for copying or returning an app time. */
  instant(logical: string, alias?: string): SQL;
  /** A reference instant as the column's own type, to compare the column with (keeps its index usable). */
  asColumnTime(logical: string, at: Date | SQL): SQL;
}

export interface AppSql {
  readonly map: AppMap;
  /** The app's Postgres schema. */
  readonly schema: string;
  has(role: Role): boolean;
  /** A role's names (throws for a role the map lacks: check `has` first). */
  role(role: Role): TableSql;
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** SQL fragments for every role of `map`. */
export function appSql(map: AppMap): AppSql {
  const cache = new Map<Role, TableSql>();
  return {
    map,
    schema: map.schema,
    has: (role) => map.roles[role] !== undefined,
    role(role) {
      const hit = cache.get(role);
      if (hit) return hit;
      const table = map.roles[role];
      if (!table) throw new Error(`the app map has no ${role} table (see app-map.json "gaps")`);
      const made = tableSql(map.schema, table);
      cache.set(role, made);
      return made;
    },
  };
}

function tableSql(schema: string, table: MappedTable): TableSql {
  const column = (logical: string): MappedColumn => {
    const c = logical === 'id' ? table.id : table.columns[logical];
    if (!c) throw new Error(`the app map's ${table.model} has no column for "${logical}"`);
    return c;
  };
  const refText = (logical: string, alias?: string) => `${alias ? `${quote(alias)}.` : ''}${quote(column(logical).name)}`;
  const ref = (logical: string, alias?: string) => sql.raw(refText(logical, alias));
  return {
    map: table,
    table: sql.raw(`${quote(schema)}.${quote(table.table)}`),
    name: table.table,
    id: sql.raw(quote(table.id.name)),
    col: (logical) => ref(logical),
    colName: (logical) => column(logical).name,
    has: (logical) => logical === 'id' || table.columns[logical] !== undefined,
    instant: (logical, alias) => sql.raw(instantOf(refText(logical, alias), column(logical))),
    asColumnTime(logical, at) {
      // Parenthesized: `AT TIME ZONE` binds tighter than `-`, so `t - interval AT TIME ZONE 'UTC'`
      // would apply the zone to the interval alone (no such function) rather than to the difference.
      const value = at instanceof Date ? sql`${at.toISOString()}::timestamptz` : sql`(${at})`;
      return isWallTime(column(logical)) ? sql`(${value} AT TIME ZONE 'UTC')` : sql`(${value})`;
    },
  };
}

/** A `timestamp without time zone` column: UTC wall time by the contract's rule. */
export function isWallTime(column: MappedColumn): boolean {
  return column.time === 'timestamp';
}

/** `ref` (a column reference as SQL text) read as an instant, by the column's type: the one rule both the jobs' SQL and the triggers' text use. */
export function instantOf(ref: string, column: MappedColumn): string {
  return isWallTime(column) ? `(${ref} AT TIME ZONE 'UTC')` : ref;
}

/** Quotes an identifier for DDL text (the trigger installer builds whole statements as text). */
export const ident = quote;
