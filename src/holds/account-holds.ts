/**
 * What keeps a stale account out of the account job's batches: an erasure deletes only what that
 * account owns. Each hold is an SQL test on a user row (alias `u`), derived from the app map:
 * - a foreign key to the user that forbids its deletion (RESTRICT or NO ACTION, Prisma's default
 *   for a required relation without onDelete): the delete would fail, and with it the batch;
 * - a cascade that would reach a live user's rows: chats of another user in the account's project
 *   (chat → project ON DELETE CASCADE), the account's uploads in another user's chat
 *   (attachment → user ON DELETE CASCADE). Another owner who is stale too does not hold it: both go.
 * A held account is left out of every batch and of the dry run's counts (so the dry run counts
 * what the run deletes), and the job's alarm names the holds, while the other accounts are deleted.
 */
import { type SQL, sql } from 'drizzle-orm';
import { APP } from '../app-map/app';
import { ident } from '../app-map/sql';
import type { MappedForeignKey } from '../app-map/types';

export interface Hold {
  /** How the alarm names it: the constraint and what it would break. */
  name: string;
  /** True when it holds the user row `u`, with `stale(o)` saying whether a user row `o` is past the cutoff (NULL: live). */
  holds(u: string, stale: (alias: string) => SQL): SQL;
}

const q = (name: string) => sql.raw(ident(name));
const table = (name: string) => sql`${q(APP.schema)}.${q(name)}`;
const user = APP.role('user');

const relation = (from: string, column: string, to: string): MappedForeignKey | undefined =>
  APP.map.relations.find((r) => r.table === from && r.columns.length === 1 && r.columns[0] === column && r.references === to) ??
  APP.map.userReferences.find((r) => r.table === from && r.columns.length === 1 && r.columns[0] === column && r.references === to);

function restrictingKeys(): Hold[] {
  return APP.map.userReferences
    .filter((r) => (r.onDelete === 'RESTRICT' || r.onDelete === 'NO ACTION') && r.columns.length === 1)
    .map((r) => ({
      name: `${r.constraint} (${r.table}, ON DELETE ${r.onDelete})`,
      holds: (u) => sql`EXISTS (SELECT 1 FROM ${table(r.table)} b WHERE b.${q(r.columns[0]!)} = ${sql.raw(u)}.${user.id})`,
    }));
}

function crossOwnerCascades(): Hold[] {
  const holds: Hold[] = [];
  const chat = APP.role('chat');
  if (APP.has('project') && chat.has('projectId')) {
    const project = APP.role('project');
    const key = relation(chat.name, chat.colName('projectId'), project.name);
    if (key?.onDelete === 'CASCADE') {
      holds.push({
        name: `${key.constraint} (a live or legally held user's chat in their project would go with it, ON DELETE CASCADE)`,
        holds: (u, stale) => sql`EXISTS (
          SELECT 1 FROM ${project.table} p
          JOIN ${chat.table} c ON c.${chat.col('projectId')} = p.${project.id}
          JOIN ${user.table} o ON o.${user.id} = c.${chat.col('userId')}
          WHERE p.${project.col('userId')} = ${sql.raw(u)}.${user.id} AND o.${user.id} <> ${sql.raw(u)}.${user.id} AND (${stale('o')}) IS NOT TRUE)`,
      });
    }
  }
  if (APP.has('attachment') && APP.role('attachment').has('chatId')) {
    const a = APP.role('attachment');
    const key = relation(a.name, a.colName('userId'), user.name);
    if (key?.onDelete === 'CASCADE') {
      holds.push({
        name: `${key.constraint} (their file in a live or legally held user's chat would go with it, ON DELETE CASCADE)`,
        holds: (u, stale) => sql`EXISTS (
          SELECT 1 FROM ${a.table} f
          JOIN ${chat.table} c ON c.${chat.id} = f.${a.col('chatId')}
          JOIN ${user.table} o ON o.${user.id} = c.${chat.col('userId')}
          WHERE f.${a.col('userId')} = ${sql.raw(u)}.${user.id} AND o.${user.id} <> ${sql.raw(u)}.${user.id} AND (${stale('o')}) IS NOT TRUE)`,
      });
    }
  }
  return holds;
}

/** Every hold the app's schema calls for (none on Spacerr's layout). */
export const HOLDS: Hold[] = [...restrictingKeys(), ...crossOwnerCascades()];

/** No hold holds the user row `u`. */
export function unheld(u: string, stale: (alias: string) => SQL): SQL {
  return HOLDS.length === 0
    ? sql`true`
    : sql.join(
        HOLDS.map((h) => sql`NOT ${h.holds(u, stale)}`),
        sql` AND `,
      );
}

/** The names of the holds on the user row `u`, separated by '; ' (NULL when none). */
export function holdsOn(u: string, stale: (alias: string) => SQL): SQL {
  if (HOLDS.length === 0) return sql`NULL::text`;
  return sql`concat_ws('; ', ${sql.join(
    HOLDS.map((h) => sql`CASE WHEN ${h.holds(u, stale)} THEN ${h.name} END`),
    sql`, `,
  )})`;
}
