/**
 * The app map against a real database: every table, column (type, nullability), primary key and
 * foreign key (columns, referenced table, ON DELETE) the map names must exist in Postgres's catalog
 * as the map says. Read-only.
 */
import type { AppMap, MappedColumn, MappedForeignKey, OnDelete } from '../../src/app-map/types.ts';

/** What the check needs of a client: `pg.Client` and `pg.Pool` both fit. */
export interface CatalogClient {
  query<R extends object>(sql: string, params: unknown[]): Promise<{ rows: R[] }>;
}

/** pg_constraint.confdeltype spelled out. */
const CONFDELTYPE: Record<string, OnDelete> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

interface ColumnRow {
  table: string;
  column: string;
  type: string;
  not_null: boolean;
}

interface ConstraintRow {
  table: string;
  name: string;
  kind: string;
  columns: string[];
  references: string | null;
  on_delete: string;
}

/** The differences between `map` and the database `client` reads, one sentence each; [] when none. */
export async function checkMapAgainstCatalog(client: CatalogClient, map: AppMap): Promise<string[]> {
  const { rows: columns } = await client.query<ColumnRow>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [map.schema],
  );
  const { rows: constraints } = await client.query<ConstraintRow>(
    `SELECT c.relname AS table, con.conname AS name, con.contype::text AS kind, con.confdeltype::text AS on_delete,
            array(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns,
            ref.relname AS references
       FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_class ref ON ref.oid = con.confrelid
      WHERE n.nspname = $1 AND con.contype IN ('p', 'f')`,
    [map.schema],
  );
  const differences: string[] = [];
  const tables = new Set(columns.map((c) => c.table));

  for (const [role, table] of Object.entries(map.roles)) {
    if (!tables.has(table.table)) {
      differences.push(`${role}: no table ${map.schema}."${table.table}"`);
      continue;
    }
    checkColumn(differences, columns, table.table, table.id, `${role}.id`);
    const pkey = constraints.find((c) => c.table === table.table && c.kind === 'p');
    if (pkey?.columns.join() !== table.id.name)
      differences.push(
        `${role}: the primary key of "${table.table}" is ${pkey ? `(${pkey.columns.join(', ')})` : 'missing'}, not ("${table.id.name}")`,
      );
    for (const [logical, column] of Object.entries(table.columns))
      checkColumn(differences, columns, table.table, column, `${role}.${logical}`);
  }

  if (map.relationMode === 'foreignKeys') {
    const keys = new Map<string, MappedForeignKey>();
    for (const key of [...map.relations, ...map.userReferences]) keys.set(`${key.table}.${key.constraint}`, key);
    for (const key of keys.values()) checkForeignKey(differences, constraints, key);
  }
  return differences;
}

function checkColumn(differences: string[], columns: ColumnRow[], table: string, expected: MappedColumn, what: string): void {
  const found = columns.find((c) => c.table === table && c.column === expected.name);
  if (!found) return void differences.push(`${what}: no column "${table}"."${expected.name}"`);
  if (found.type !== expected.type)
    differences.push(`${what}: "${table}"."${expected.name}" is ${found.type}, the map says ${expected.type}`);
  if (found.not_null === expected.nullable)
    differences.push(
      `${what}: "${table}"."${expected.name}" is ${found.not_null ? 'NOT NULL' : 'nullable'}, the map says ${expected.nullable ? 'nullable' : 'NOT NULL'}`,
    );
}

function checkForeignKey(differences: string[], constraints: ConstraintRow[], key: MappedForeignKey): void {
  const found = constraints.find((c) => c.table === key.table && c.name === key.constraint && c.kind === 'f');
  if (!found) return void differences.push(`no foreign key "${key.constraint}" on "${key.table}"`);
  if (found.columns.join() !== key.columns.join())
    differences.push(`${key.constraint}: columns (${found.columns.join(', ')}), the map says (${key.columns.join(', ')})`);
  if (found.references !== key.references)
    differences.push(`${key.constraint}: references "${found.references}", the map says "${key.references}"`);
  const onDelete = CONFDELTYPE[found.on_delete] ?? found.on_delete;
  if (onDelete !== key.onDelete) differences.push(`${key.constraint}: ON DELETE ${onDelete}, the map says ${key.onDelete}`);
}
