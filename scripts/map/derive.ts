/**
 * The app map from a parsed Prisma schema and the owner's overrides: each role's table and columns,
 * the foreign keys between roles and to the user, and every gap said plainly. Pure: no files.
 */
import { type AppMap, type MapGap, type MappedColumn, type MappedTable, ROLE_COLUMNS, type Role } from '../../src/app-map/types.ts';
import { columnName, mappedColumn } from './columns.ts';
import { MapError } from './errors.ts';
import { foreignKeys, type ParsedForeignKey, prismaAction, tableName } from './foreign-keys.ts';
import type { ParsedOverrides } from './overrides.ts';
import type { DmmfField, DmmfModel, ParsedSchema } from './prisma.ts';
import { stripeCustomers } from './stripe.ts';
import { REQUIRED_ROLES, ROLE_LINKS, ROLE_MODELS, ROLES, USER_DATA_FIELDS } from './roles.ts';

export interface DeriveInput {
  schema: ParsedSchema;
  overrides: ParsedOverrides;
  derivedFrom: AppMap['derivedFrom'];
}

/** Throws a MapError when a required role (user, chat, message) has no model. */
export function deriveMap({ schema, overrides, derivedFrom }: DeriveInput): AppMap {
  const enumDbName = (name: string) => schema.enums.find((e) => e.name === name)?.dbName ?? undefined;
  const keys = foreignKeys(schema.models, schema.relationMaps);
  const gaps: MapGap[] = [];
  const models = findRoleModels(schema.models, overrides, gaps);
  const user = models.get('user')!;
  const pgSchema = overrides.schema ?? user.schema ?? (schema.schemas.length === 1 ? schema.schemas[0]! : 'public');

  const roles: AppMap['roles'] = {};
  const fields = new Map<Role, Map<string, DmmfField>>();
  for (const [role, model] of models) {
    const table = mapRole(role, model, overrides, gaps, enumDbName);
    if (model.schema && model.schema !== pgSchema)
      gaps.push({ role, why: `model ${model.name} is in schema "${model.schema}", the map's schema is "${pgSchema}"` });
    roles[role] = table.mapped;
    fields.set(role, table.fields);
  }

  for (const link of ROLE_LINKS) {
    const field = fields.get(link.role)?.get(link.column);
    const parent = models.get(link.parent);
    if (!field || !parent) continue;
    const key = keys.find((k) => k.fk.model === models.get(link.role)!.name && k.target === parent.name && k.fields.join() === field.name);
    const name = `${link.role}.${link.column} → ${link.parent}`;
    if (!key) {
      gaps.push({
        role: link.role,
        column: link.column,
        why: `${name}: no relation in the schema, so no foreign key: deleting a ${link.parent} leaves its ${link.rows}`,
      });
      continue;
    }
    if (!link.cascade) continue;
    if (key.fk.onDelete !== 'CASCADE')
      gaps.push({ role: link.role, column: link.column, why: notCascade(name, key, link.parent, link.rows) });
    else if (schema.relationMode === 'prisma')
      gaps.push({
        role: link.role,
        column: link.column,
        why: `${name}: relationMode = "prisma", so no foreign key exists in the database: deleting a ${link.parent} in SQL leaves its ${link.rows} (only Prisma Client emulates the cascade)`,
      });
  }

  const roleModels = new Set([...models.values()].map((m) => m.name));
  const customers = stripeCustomers({ schema, user, keys, overrides: overrides.stripeCustomers, gaps, enumDbName });
  return {
    version: 1,
    schema: pgSchema,
    derivedFrom,
    relationMode: schema.relationMode,
    roles,
    relations: keys.filter((k) => roleModels.has(k.fk.model) && roleModels.has(k.target)).map((k) => k.fk),
    userReferences: keys.filter((k) => k.target === user.name).map((k) => k.fk),
    unlinkedUserData: unlinkedUserData(schema.models, user, keys),
    gaps,
    stripeCustomers: customers,
    settings: { ...overrides.settings },
  };
}

function findRoleModels(models: DmmfModel[], overrides: ParsedOverrides, gaps: MapGap[]): Map<Role, DmmfModel> {
  const found = new Map<Role, DmmfModel>();
  const missing: string[] = [];
  for (const role of ROLES) {
    const named = overrides.roles[role]?.model;
    if (named) {
      const model = models.find((m) => m.name === named);
      if (!model) throw new MapError(`overrides: roles.${role}.model is "${named}", and the schema has no model ${named}`);
      found.set(role, model);
      continue;
    }
    const convention = ROLE_MODELS[role];
    const model =
      models.find((m) => m.name === convention.model) ?? models.find((m) => m.dbName !== null && convention.tables.includes(m.dbName));
    if (model) found.set(role, model);
    else if (REQUIRED_ROLES.includes(role))
      missing.push(
        `model ${convention.model} not found (the ${role} role; name its model in the overrides: "roles": { "${role}": { "model": "…" } })`,
      );
    else gaps.push({ role, why: `model ${convention.model} not found (optional role: what needs it is off)` });
  }
  if (missing.length > 0) throw new MapError(missing.join('\n'));
  return found;
}

function mapRole(
  role: Role,
  model: DmmfModel,
  overrides: ParsedOverrides,
  gaps: MapGap[],
  enumDbName: (name: string) => string | undefined,
): { mapped: MappedTable; fields: Map<string, DmmfField> } {
  const idField = singleId(model);
  if (!idField) throw new MapError(`model ${model.name} (the ${role} role) has no single-column @id`);
  const columns: Record<string, MappedColumn> = {};
  const fields = new Map<string, DmmfField>();
  const { required, optional } = ROLE_COLUMNS[role];
  for (const logical of [...required, ...optional] as string[]) {
    const named = overrides.roles[role]?.columns?.[logical];
    const scalars = model.fields.filter((f) => f.kind === 'scalar' || f.kind === 'enum');
    const field = named
      ? (scalars.find((f) => f.name === named) ?? scalars.find((f) => columnName(f) === named))
      : scalars.find((f) => f.name === logical);
    if (named && !field)
      throw new MapError(`overrides: roles.${role}.columns.${logical} is "${named}", and model ${model.name} has no such field`);
    if (!field) {
      const kind = (required as readonly string[]).includes(logical) ? 'required' : 'optional';
      gaps.push({
        role,
        column: logical,
        why: `model ${model.name} has no field ${logical} (${kind}${kind === 'required' ? '' : ': what needs it is off'})`,
      });
      continue;
    }
    columns[logical] = mappedColumn(field, enumDbName);
    fields.set(logical, field);
  }
  return { mapped: { model: model.name, table: tableName(model), id: mappedColumn(idField, enumDbName), columns }, fields };
}

function singleId(model: DmmfModel): DmmfField | undefined {
  const id = model.fields.find((f) => f.isId);
  if (id) return id;
  const [only, ...rest] = model.primaryKey?.fields ?? [];
  return only && rest.length === 0 ? model.fields.find((f) => f.name === only) : undefined;
}

function notCascade(name: string, key: ParsedForeignKey, parent: Role, rows: string): string {
  const action = `onDelete: ${prismaAction(key.fk.onDelete)}${key.explicit ? '' : " (Prisma's default, none given)"}`;
  const effect =
    key.fk.onDelete === 'SET NULL' || key.fk.onDelete === 'SET DEFAULT'
      ? `deleting a ${parent} would keep its ${rows}, detached`
      : `deleting a ${parent} would fail while it has ${rows}`;
  return `${name} is ${action}, not Cascade: ${effect}`;
}

function unlinkedUserData(models: DmmfModel[], user: DmmfModel, keys: ParsedForeignKey[]): AppMap['unlinkedUserData'] {
  const linked = new Set(keys.flatMap((k) => (k.target === user.name ? [k.fk.model] : k.fk.model === user.name ? [k.target] : [])));
  return models
    .filter((m) => m !== user && !linked.has(m.name))
    .flatMap((m) => {
      const field = m.fields.find((f) => f.kind === 'scalar' && f.type === 'String' && USER_DATA_FIELDS.test(f.name));
      if (!field) return [];
      const why = `${field.name} can hold a user's email, and no foreign key ties ${tableName(m)} to ${tableName(user)}: deleting a user leaves these rows`;
      return [{ model: m.name, table: tableName(m), why }];
    });
}
