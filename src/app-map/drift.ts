/**
 * Is the live schema still the one the bundled map describes? The app may rename a column, change
 * a time column's zone, or drop a cascade after the map was derived; the Worker must then delete
 * nothing until `npm run map` is run again and the Worker redeployed. The check is one SELECT of
 * the catalog rows the jobs rely on, sent inside the request that takes a run's lock (no request
 * of its own), answering one row per difference: normally none.
 *
 * Compared: every mapped table and column exists (the Stripe customer columns included); a time column is still with or without time
 * zone as mapped (that decides how its values are read, src/app-map/sql.ts); every mapped foreign
 * key still exists with its ON DELETE rule (the account job's cascades). Not compared: a column's
 * precision or length, which no job depends on.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { AppMap, MappedColumn, OnDelete } from './types';

/** pg_constraint.confdeltype for each rule. */
const DELETE_CODES: Record<OnDelete, string> = { 'NO ACTION': 'a', RESTRICT: 'r', CASCADE: 'c', 'SET NULL': 'n', 'SET DEFAULT': 'd' };

const timeKind = (c: MappedColumn) => (c.time === 'timestamp' ? 'timestamp' : c.time === 'timestamptz' ? 'timestamptz' : '');

/** The SELECT answering `difference` rows; to run alone or inside a batch. */
export function driftQuery(map: AppMap): SQL {
  const columns: SQL[] = [];
  for (const table of Object.values(map.roles)) {
    if (!table) continue;
    for (const column of [table.id, ...Object.values(table.columns)]) {
      columns.push(sql`(${table.table}, ${column.name}, ${timeKind(column)})`);
    }
  }
  // The columns the Stripe triggers read (src/app-map/triggers.ts).
  for (const place of map.stripeCustomers ?? []) {
    for (const column of [place.column, place.owner]) columns.push(sql`(${place.table}, ${column.name}, ${timeKind(column)})`);
  }
  // The cascades between the roles, and every key to the user (the account job leaves out the
  // users a RESTRICT key holds: a key turned RESTRICT since the map would fail its batches).
  const byName = new Map([...map.relations, ...map.userReferences].map((r) => [r.constraint, r]));
  const keys =
    map.relationMode === 'foreignKeys'
      ? [...byName.values()].map((r) => sql`(${r.constraint}, ${r.table}, ${DELETE_CODES[r.onDelete]}, ${r.onDelete})`)
      : [];
  const rel = sql`to_regclass(quote_ident(${map.schema}) || '.' || quote_ident(e.tbl))`;
  const parts: SQL[] = [
    sql`SELECT CASE WHEN ${rel} IS NULL THEN 'table ' || e.tbl || ' is missing'
                    WHEN a.attname IS NULL THEN 'column ' || e.tbl || '.' || e.col || ' is missing'
                    ELSE 'column ' || e.tbl || '.' || e.col || ' is ' || format_type(a.atttypid, a.atttypmod)
                         || ', mapped as ' || e.kind END AS difference
        FROM (VALUES ${sql.join(columns, sql`, `)}) e(tbl, col, kind)
        LEFT JOIN pg_attribute a ON a.attrelid = ${rel} AND a.attname = e.col AND a.attnum > 0 AND NOT a.attisdropped
        WHERE a.attname IS NULL
           OR (e.kind = 'timestamp' AND a.atttypid <> 'timestamp'::regtype)
           OR (e.kind = 'timestamptz' AND a.atttypid <> 'timestamptz'::regtype)`,
  ];
  if (keys.length > 0) {
    parts.push(sql`SELECT 'foreign key ' || e.con || ' on ' || e.tbl ||
                          CASE WHEN c.oid IS NULL THEN ' is missing' ELSE ' no longer has ON DELETE ' || e.rule END
        FROM (VALUES ${sql.join(keys, sql`, `)}) e(con, tbl, del, rule)
        LEFT JOIN pg_constraint c ON c.conname = e.con AND c.contype = 'f' AND c.conrelid = ${rel}
        WHERE c.oid IS NULL OR c.confdeltype::text <> e.del`);
  }
  return sql.join(parts, sql` UNION ALL `);
}

export class AppMapDriftError extends Error {
  override name = 'AppMapDriftError';
  readonly differences: string[];
  constructor(differences: string[]) {
    super(
      `the app's schema no longer matches the bundled app map (${differences.join('; ')}): nothing was deleted. ` +
        'Run `npm run map -- --prisma <your schema>` and redeploy the Worker.',
    );
    this.differences = differences;
  }
}
