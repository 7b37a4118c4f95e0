/**
 * Where the user's Stripe customer id lives. By convention a field `stripeCustomerId` (the name
 * Better Auth's Stripe plugin gives it on the user and on its `subscription` model) on the user
 * model, or on a model whose rows cascade from the user (a single-column foreign key to it,
 * `onDelete: Cascade`, in the database). The owner's overrides name the places instead
 * (`"stripeCustomers": [{ "table": …, "column": … }]`; `[]` turns Stripe erasure off). A field of
 * that name on a model that does not go with the user is a gap: its rows outlive the user, and
 * deleting the customer from them would be a guess.
 */
import type { MapGap, StripeCustomerColumn } from '../../src/app-map/types.ts';
import { columnName, mappedColumn } from './columns.ts';
import { MapError } from './errors.ts';
import { type ParsedForeignKey, tableName } from './foreign-keys.ts';
import type { StripeCustomerOverride } from './overrides.ts';
import type { DmmfModel, ParsedSchema } from './prisma.ts';

/** The field name the convention looks for. */
export const STRIPE_CUSTOMER_FIELD = 'stripeCustomerId';

export function stripeCustomers(input: {
  schema: ParsedSchema;
  user: DmmfModel;
  keys: ParsedForeignKey[];
  overrides: StripeCustomerOverride[] | undefined;
  gaps: MapGap[];
  enumDbName: (name: string) => string | undefined;
}): StripeCustomerColumn[] {
  const { schema, user, keys, gaps, enumDbName } = input;
  const userId = user.fields.find((f) => f.isId);
  if (!userId) return [];
  const cascading = (model: DmmfModel) =>
    schema.relationMode === 'foreignKeys'
      ? keys.find((k) => k.fk.model === model.name && k.target === user.name && k.fk.onDelete === 'CASCADE' && k.fields.length === 1)
      : undefined;
  const place = (model: DmmfModel, fieldName: string, where: string): StripeCustomerColumn | string => {
    const scalars = model.fields.filter((f) => f.kind === 'scalar');
    const field = scalars.find((f) => f.name === fieldName) ?? scalars.find((f) => columnName(f) === fieldName);
    if (!field) return `${where}: model ${model.name} has no field ${fieldName}`;
    const column = mappedColumn(field, enumDbName);
    if (model === user) return { model: model.name, table: tableName(model), column, owner: mappedColumn(userId, enumDbName) };
    const key = cascading(model);
    if (!key)
      return `${where}: ${tableName(model)} has no foreign key to ${tableName(user)} with onDelete: Cascade, so its rows outlive the user`;
    const owner = scalars.find((f) => f.name === key.fields[0])!;
    return { model: model.name, table: tableName(model), column, owner: mappedColumn(owner, enumDbName) };
  };

  if (input.overrides) {
    return input.overrides.map((o, i) => {
      const where = `overrides: stripeCustomers[${i}]`;
      const model = schema.models.find((m) => m.name === o.table) ?? schema.models.find((m) => tableName(m) === o.table);
      if (!model) throw new MapError(`${where}.table is "${o.table}", and the schema has no such model or table`);
      const found = place(model, o.column, where);
      if (typeof found === 'string') throw new MapError(found);
      return found;
    });
  }
  const found: StripeCustomerColumn[] = [];
  for (const model of schema.models) {
    if (!model.fields.some((f) => f.kind === 'scalar' && f.name === STRIPE_CUSTOMER_FIELD)) continue;
    const result = place(model, STRIPE_CUSTOMER_FIELD, `${model.name}.${STRIPE_CUSTOMER_FIELD}`);
    if (typeof result === 'string') gaps.push({ role: 'user', column: STRIPE_CUSTOMER_FIELD, why: `${result}: not erased at Stripe` });
    else found.push(result);
  }
  if (found.length === 0 && !gaps.some((g) => g.column === STRIPE_CUSTOMER_FIELD)) {
    gaps.push({
      role: 'user',
      column: STRIPE_CUSTOMER_FIELD,
      why: `no model has a field ${STRIPE_CUSTOMER_FIELD} (Better Auth's Stripe plugin): Stripe erasure is off; name the column in the overrides ("stripeCustomers")`,
    });
  }
  return found;
}
