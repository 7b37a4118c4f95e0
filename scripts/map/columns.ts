/**
 * A Prisma scalar field as the Postgres column `prisma migrate` creates for it: the physical name
 * (`@map`) and the type as the catalog spells it (`format_type`), so the map can be checked against
 * a real database.
 */
import type { MappedColumn, TimeType } from '../../src/app-map/types.ts';
import type { DmmfField } from './prisma.ts';

/** Prisma's Postgres type for each scalar type when no `@db.*` attribute is given. */
const DEFAULT_TYPES: Record<string, string> = {
  String: 'text',
  Boolean: 'boolean',
  Int: 'integer',
  BigInt: 'bigint',
  Float: 'double precision',
  Decimal: 'numeric(65,30)',
  DateTime: 'timestamp(3) without time zone',
  Json: 'jsonb',
  Bytes: 'bytea',
};

/** `@db.<Name>` → the catalog's spelling; `(n)` is appended when the attribute has arguments. */
const NATIVE_TYPES: Record<string, string> = {
  Text: 'text',
  VarChar: 'character varying',
  Char: 'character',
  Uuid: 'uuid',
  Xml: 'xml',
  Inet: 'inet',
  Citext: 'citext',
  Bit: 'bit',
  VarBit: 'bit varying',
  Boolean: 'boolean',
  SmallInt: 'smallint',
  Integer: 'integer',
  BigInt: 'bigint',
  Oid: 'oid',
  Real: 'real',
  DoublePrecision: 'double precision',
  Decimal: 'numeric',
  Money: 'money',
  Date: 'date',
  Json: 'json',
  JsonB: 'jsonb',
  ByteA: 'bytea',
};

/** The physical name of a field's column. */
export function columnName(field: DmmfField): string {
  return field.dbName ?? field.name;
}

/** The column Prisma creates for a scalar or enum field. `enumDbName` resolves `@@map` on enums. */
export function mappedColumn(field: DmmfField, enumDbName: (name: string) => string | undefined): MappedColumn {
  const { type, time } = columnType(field, enumDbName);
  return { name: columnName(field), type, ...(time && { time }), nullable: !field.isRequired };
}

function columnType(field: DmmfField, enumDbName: (name: string) => string | undefined): { type: string; time?: TimeType } {
  if (field.kind === 'enum') return { type: enumDbName(field.type) ?? field.type };
  const [native, args = []] = field.nativeType ?? [];
  const list = field.isList ? '[]' : '';
  if (native === 'Timestamptz') return { type: timeType('timestamp', args, 'with time zone') + list, time: 'timestamptz' };
  if (native === 'Timestamp') return { type: timeType('timestamp', args, 'without time zone') + list, time: 'timestamp' };
  if (native === 'Time') return { type: timeType('time', args, 'without time zone') + list };
  if (native === 'Timetz') return { type: timeType('time', args, 'with time zone') + list };
  if (native) {
    const base = NATIVE_TYPES[native] ?? native.toLowerCase();
    return { type: (args.length > 0 ? `${base}(${args.join(',')})` : base) + list };
  }
  const type = (DEFAULT_TYPES[field.type] ?? field.type) + list;
  return field.type === 'DateTime' ? { type, time: 'timestamp' } : { type };
}

/** `timestamp(6) with time zone`; without a precision Postgres keeps 6 digits and names none. */
function timeType(base: string, args: string[], zone: string): string {
  return args.length > 0 ? `${base}(${args[0]}) ${zone}` : `${base} ${zone}`;
}
