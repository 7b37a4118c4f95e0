/**
 * An app migration that changes the type of the columns the Worker's update triggers watch, as a
 * Prisma migration does (`ALTER TABLE … ALTER COLUMN … TYPE`): Postgres refuses it while those
 * triggers name the columns, and `npm run db:migrate -- --around "<command>"` runs it
 * (scripts/db/around.ts). Used by test/node/migrate-around.test.ts and by the bench
 * (bench/around.ts), which times the app's writes before and after it.
 */
import pg from 'pg';
import type { AppMap, MappedTable } from '../../src/app-map/types.ts';

export type TypeChange = [table: MappedTable, column: string, type: string];

/**
 * The chat's `createdAt`, the user's `deactivatedAt` (each a wider timestamp) and the message's
 * `chatId` (`varchar`): every table with a pinned trigger. None rewrites a table on Spacerr's
 * `TIMESTAMP(3)` columns (a timestamp's precision raised, text to varchar), so a 1M-chat bench
 * pays the triggers' swap, not a rewrite.
 */
export function typeChanges(map: AppMap): TypeChange[] {
  const chat = map.roles.chat!;
  const user = map.roles.user!;
  const message = map.roles.message!;
  const wider = (t: MappedTable, logical: string) => (t.columns[logical]!.time === 'timestamp' ? 'timestamp(6)' : 'timestamptz(3)');
  return [
    [chat, chat.columns.createdAt!.name, wider(chat, 'createdAt')],
    [user, user.columns.deactivatedAt!.name, wider(user, 'deactivatedAt')],
    [message, message.columns.chatId!.name, 'varchar'],
  ];
}

export const alterStatement = (map: AppMap, [t, column, type]: TypeChange) =>
  `ALTER TABLE ${pg.escapeIdentifier(map.schema)}.${pg.escapeIdentifier(t.table)} ALTER COLUMN ${pg.escapeIdentifier(column)} TYPE ${type}`;

/** The app's migration as a shell command: a Node one-liner applying `statements` to DATABASE_URL. */
export function appMigrationCommand(statements: string[]): string {
  const script = `import pg from 'pg'; const c = new pg.Client({ connectionString: process.env.DATABASE_URL }); await c.connect(); for (const s of ${JSON.stringify(statements)}) await c.query(s); await c.end();`;
  return `${JSON.stringify(process.execPath)} --input-type=module -e ${JSON.stringify(script)}`;
}

/**
 * The Worker's row-level UPDATE triggers on the app's tables (those `--around` swaps), as Postgres
 * prints them, by name. Selected by their type bits (pg_trigger.tgtype: 1 row-level, 16 UPDATE),
 * not by name, so every such trigger counts whatever it is called.
 */
export async function workerUpdateTriggers(client: pg.Client, schema: string): Promise<string[]> {
  const { rows } = await client.query<{ def: string }>(
    `SELECT pg_get_triggerdef(t.oid) AS def FROM pg_trigger t
     JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace s ON s.oid = r.relnamespace
     WHERE s.nspname = $1 AND t.tgname LIKE 'spacerr\\_jobs\\_%' AND NOT t.tgisinternal
       AND t.tgtype & 1 = 1 AND t.tgtype & 16 = 16
     ORDER BY t.tgname`,
    [schema],
  );
  return rows.map((r) => r.def);
}

/** A trigger definition that names the columns it watches (`AFTER UPDATE OF … WHEN …`), which pins their types. */
export const isPinned = (def: string) => /AFTER UPDATE OF .* WHEN /.test(def);
