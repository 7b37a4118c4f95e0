/**
 * What the doctor expects of a database, derived from an app map (src/app-map/types.ts) and what
 * the trigger installer would create from it (src/app-map/triggers.ts): nothing here names an app
 * table or column. Each expectation carries its fix: SQL, and the Prisma schema line where one
 * exists.
 */
import { ident } from '../../src/app-map/sql.ts';
import { type InstalledObject, installSteps } from '../../src/app-map/triggers.ts';
import type { AppMap, MappedColumn, MappedForeignKey, OnDelete, Role } from '../../src/app-map/types.ts';
import { prismaAction } from '../map/foreign-keys.ts';

/** An identifier quoted for SQL (the app's names may be camelCase or reserved words: `"user"`). */
export const q = ident;

export const qualified = (schema: string, table: string) => `${q(schema)}.${q(table)}`;

/** A role's table and the columns the Worker reads, by logical name (`id` first). */
export interface TableNeed {
  role: Role;
  model: string;
  table: string;
  columns: Array<{ logical: string; column: MappedColumn }>;
}

export function tableNeeds(map: AppMap): TableNeed[] {
  return (Object.entries(map.roles) as Array<[Role, NonNullable<AppMap['roles'][Role]>]>).map(([role, t]) => ({
    role,
    model: t.model,
    table: t.table,
    columns: [{ logical: 'id', column: t.id }, ...Object.entries(t.columns).map(([logical, column]) => ({ logical, column }))],
  }));
}

/** Prisma's scalar type and native-type attribute for a column type as the catalog spells it. */
function prismaType(type: string): { base: string; attr?: string } {
  const time = /^timestamp(?:\((\d+)\))? with(out)? time zone$/.exec(type);
  if (time) {
    const [, precision, without] = time;
    if (without && precision === '3') return { base: 'DateTime' };
    return { base: 'DateTime', attr: `@db.${without ? 'Timestamp' : 'Timestamptz'}${precision ? `(${precision})` : ''}` };
  }
  const varchar = /^character varying(?:\((\d+)\))?$/.exec(type);
  if (varchar) return { base: 'String', attr: `@db.VarChar${varchar[1] ? `(${varchar[1]})` : ''}` };
  const plain: Record<string, { base: string; attr?: string }> = {
    text: { base: 'String' },
    uuid: { base: 'String', attr: '@db.Uuid' },
    jsonb: { base: 'Json' },
    json: { base: 'Json', attr: '@db.Json' },
    integer: { base: 'Int' },
    bigint: { base: 'BigInt' },
    boolean: { base: 'Boolean' },
    'double precision': { base: 'Float' },
    bytea: { base: 'Bytes' },
  };
  return plain[type] ?? { base: `Unsupported("${type}")` };
}

/**
 * The Prisma field line for a mapped column: the logical name as the field (what `npm run map`
 * looks for unless the overrides name another field), `@map` when the column is named otherwise.
 */
export function prismaField(logical: string, column: MappedColumn): string {
  const { base, attr } = prismaType(column.type);
  const parts = [logical, `${base}${column.nullable ? '?' : ''}`];
  if (logical === 'id') parts.push('@id');
  if (column.name !== logical) parts.push(`@map("${column.name}")`);
  if (attr) parts.push(attr);
  return parts.join(' ');
}

/** The role of a physical table, if the map has one. */
function roleOfTable(map: AppMap, table: string) {
  return Object.values(map.roles).find((t) => t.table === table);
}

/** The Prisma relation line for a foreign key, on the model of its table, with `onDelete`. */
export function prismaRelation(map: AppMap, fk: MappedForeignKey, onDelete: OnDelete): string {
  const from = roleOfTable(map, fk.table);
  const to = roleOfTable(map, fk.references);
  const target = to?.model ?? fk.references;
  const field = (column: string) =>
    Object.entries(from?.columns ?? {}).find(([, c]) => c.name === column)?.[0] ?? (from?.id.name === column ? 'id' : column);
  const optional = fk.columns.some((c) => Object.values(from?.columns ?? {}).find((m) => m.name === c)?.nullable);
  const relation = target.charAt(0).toLowerCase() + target.slice(1);
  return `${relation} ${target}${optional ? '?' : ''} @relation(fields: [${fk.columns.map(field).join(', ')}], references: [id], onDelete: ${prismaAction(onDelete)})`;
}

/** The id column a foreign key to `table` references, when the map knows the table. */
export function referencedId(map: AppMap, table: string): string {
  return roleOfTable(map, table)?.id.name ?? 'id';
}

export function foreignKeySql(
  map: AppMap,
  fk: Pick<MappedForeignKey, 'constraint' | 'table' | 'columns' | 'references'>,
  onDelete: OnDelete,
  drop?: string,
): string {
  const add = `ADD CONSTRAINT ${q(fk.constraint)} FOREIGN KEY (${fk.columns.map(q).join(', ')}) REFERENCES ${qualified(map.schema, fk.references)}(${q(referencedId(map, fk.references))}) ON DELETE ${onDelete}`;
  return `ALTER TABLE ${qualified(map.schema, fk.table)} ${drop ? `DROP CONSTRAINT ${q(drop)}, ` : ''}${add};`;
}

/** What `installSteps(map)` creates, each with the step that creates it. */
export interface InstallNeed {
  object: InstalledObject;
  sql: string;
}

export function installNeeds(map: AppMap): InstallNeed[] {
  return installSteps(map).flatMap((step) => (step.creates ? [{ object: step.creates, sql: step.sql }] : []));
}

/** The Prisma line for an index need: `@@index([field])`, none for a partial one (Prisma cannot say it). */
export function prismaIndex(map: AppMap, table: string, column: string, partial?: string): string {
  if (partial) return 'Prisma: none (a partial index; see docs/contract.md, "With Prisma")';
  const role = roleOfTable(map, table);
  const field = Object.entries(role?.columns ?? {}).find(([, c]) => c.name === column)?.[0] ?? column;
  return `Prisma (model ${role?.model ?? table}): @@index([${field}])`;
}
