/**
 * Reading what waits to be deleted: the jobs' backlog figures (declared in each job) for the
 * jobs listing, the health route and the runs' alarm checks. All figures asked for go in one
 * round trip, and every count stops at BACKLOG_CAP, so a read costs the same on a large table
 * as on a small one.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { Db } from './client';

export const BACKLOG_CAP = 10_000;

/** `count(*)` of the rows `from` selects, stopped at BACKLOG_CAP. */
export function capped(from: SQL): SQL {
  return sql`(SELECT count(*) FROM (SELECT 1 ${from} LIMIT ${BACKLOG_CAP}) s)`;
}

/**
 * One SELECT of the named figures, to send alone or inside a batch (the run's finishing
 * request), and `read`, which gives a row of its answer back under the figures' names. The
 * columns are named by position, so a figure's name never has to fit an SQL identifier.
 */
export function figuresQuery(db: Db, figures: Readonly<Record<string, SQL>>) {
  const names = Object.keys(figures);
  const columns = names.map((name, i) => sql`${figures[name]} AS ${sql.identifier(`f${i}`)}`);
  return {
    query: db.execute(columns.length > 0 ? sql`SELECT ${sql.join(columns, sql`, `)}` : sql`SELECT 1`),
    read: (row: Record<string, unknown> = {}): Record<string, unknown> => Object.fromEntries(names.map((name, i) => [name, row[`f${i}`]])),
  };
}
