/**
 * The Stripe customers of users about to be deleted, read from the places the app map names
 * (`stripeCustomers`): for the `account.erased` event, which the account job records in the same
 * statement as the delete. A statement's CTEs all read the snapshot it started with, so the user
 * rows and their billing rows are still seen here while the statement deletes them; the triggers
 * queue the same ids in stripe_customer_deletions when the statement ends.
 */
import { type SQL, sql } from 'drizzle-orm';
import { APP_MAP } from '../app-map';
import { ident } from '../app-map/sql';

/** Whether the bundled map names any place a customer id lives. */
export const STRIPE_MAPPED = (APP_MAP.stripeCustomers?.length ?? 0) > 0;

/**
 * `(customer_id text, owner_id text)` rows of the users whose ids `owners` selects (one column,
 * `id`), from every mapped place; empty ids left out. Undefined where the map names none.
 */
export function customersOf(owners: SQL): SQL | undefined {
  const places = APP_MAP.stripeCustomers ?? [];
  if (places.length === 0) return undefined;
  const table = (name: string) => sql.raw(`${ident(APP_MAP.schema)}.${ident(name)}`);
  return sql.join(
    places.map((p) => {
      const [customer, owner] = [sql.raw(ident(p.column.name)), sql.raw(ident(p.owner.name))];
      return sql`SELECT s.${customer}::text AS customer_id, s.${owner}::text AS owner_id FROM ${table(p.table)} s
        WHERE s.${owner} IN (${owners}) AND s.${customer} IS NOT NULL AND s.${customer}::text <> ''`;
    }),
    sql` UNION `,
  );
}
