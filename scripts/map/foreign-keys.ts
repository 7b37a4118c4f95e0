/**
 * The foreign keys `prisma migrate` creates: one per relation field with `fields:`/`references:`,
 * named as Prisma names it, with the `ON DELETE` Prisma gives it when the schema says none.
 */
import type { MappedForeignKey, OnDelete } from '../../src/app-map/types.ts';
import { columnName } from './columns.ts';
import type { DmmfField, DmmfModel } from './prisma.ts';

/** A foreign key and the Prisma names it came from. */
export interface ParsedForeignKey {
  fk: MappedForeignKey;
  /** The referencing model's relation field and scalar fields, and the referenced model. */
  relationField: string;
  fields: string[];
  target: string;
  /** Whether `onDelete:` is spelled in the schema (else Prisma's default applies). */
  explicit: boolean;
}

/** Prisma's referential actions as Postgres's catalog names them. */
const ON_DELETE: Record<string, OnDelete> = {
  Cascade: 'CASCADE',
  SetNull: 'SET NULL',
  SetDefault: 'SET DEFAULT',
  Restrict: 'RESTRICT',
  NoAction: 'NO ACTION',
};

/** Postgres truncates identifiers at 63 bytes; Prisma truncates before adding `_fkey`. */
const MAX_IDENTIFIER_BYTES = 63;
const FK_SUFFIX = '_fkey';

/** Prisma's name for an `ON DELETE` rule: `SET NULL` → `SetNull`. */
export function prismaAction(onDelete: OnDelete): string {
  return Object.keys(ON_DELETE).find((k) => ON_DELETE[k] === onDelete) ?? onDelete;
}

export function tableName(model: DmmfModel): string {
  return model.dbName ?? model.name;
}

/** Every foreign key of the schema, in the schema's model and field order. */
export function foreignKeys(models: DmmfModel[], relationMaps: Map<string, string>): ParsedForeignKey[] {
  const byName = new Map(models.map((m) => [m.name, m]));
  const keys: ParsedForeignKey[] = [];
  for (const model of models) {
    for (const field of model.fields) {
      if (field.kind !== 'object' || !field.relationFromFields?.length) continue;
      const target = byName.get(field.type);
      if (!target) continue;
      const scalars = field.relationFromFields.map((name) => model.fields.find((f) => f.name === name)!);
      const columns = scalars.map(columnName);
      const table = tableName(model);
      keys.push({
        fk: {
          constraint: relationMaps.get(`${model.name}.${field.name}`) ?? foreignKeyName(table, columns),
          model: model.name,
          table,
          columns,
          references: tableName(target),
          onDelete: field.relationOnDelete ? (ON_DELETE[field.relationOnDelete] ?? 'NO ACTION') : defaultOnDelete(field, scalars),
        },
        relationField: field.name,
        fields: field.relationFromFields,
        target: target.name,
        explicit: field.relationOnDelete !== undefined,
      });
    }
  }
  return keys;
}

/**
 * Prisma's default when `onDelete:` is not given: `Restrict` when any referencing scalar field is
 * required (psl's "referential arity"), else `SetNull`. (`onUpdate` defaults to `Cascade`.)
 */
function defaultOnDelete(relation: DmmfField, scalars: DmmfField[]): OnDelete {
  return scalars.some((f) => f.isRequired) || relation.isRequired ? 'RESTRICT' : 'SET NULL';
}

/** `<table>_<col1>_<col2>_fkey`, the joined part cut to 58 bytes as Prisma cuts it. */
export function foreignKeyName(table: string, columns: string[]): string {
  const joined = Buffer.from(`${table}_${columns.join('_')}`);
  const limit = MAX_IDENTIFIER_BYTES - FK_SUFFIX.length;
  if (joined.length < limit) return joined.toString() + FK_SUFFIX;
  let end = limit;
  while (end > 0 && (joined[end]! & 0xc0) === 0x80) end--; // back to a UTF-8 character boundary
  return joined.subarray(0, end).toString() + FK_SUFFIX;
}
