/**
 * What the app's writes cost before and after its own migration runs through `npm run db:migrate
 * -- --around "<command>"` (scripts/db/around.ts): a migration that changes the type of the columns
 * the Worker's update triggers watch (test/support/app-migration.ts), which Postgres refuses while
 * the triggers name them. The command swaps the triggers for their unpinned forms, runs the
 * migration and pins them again. On one clone, each phase timed inside Postgres as
 * bench/server-writes.ts does, in interleaved blocks:
 * - before and after the migration, the triggers off against on: what they add, each phase
 *   against its own baseline of the same minutes (the app's writes themselves may change with
 *   its new types); and whether every trigger and function reads the same after as before;
 * - then pinned against unpinned, block by block: what the other way out (triggers that name no
 *   column) would cost each write.
 */
import pg from 'pg';
import { unpinAppTriggers } from '../scripts/db/app-objects.ts';
import { migrateAround } from '../scripts/db/around.ts';
import { alterStatement, appMigrationCommand, isPinned, typeChanges, workerUpdateTriggers } from '../test/support/app-migration.ts';
import { appWrites, triggerSwitch } from './app-writes.ts';
import { type BenchLayout, workerTriggers } from './layout.ts';
import { connect } from './measure.ts';
import type { AroundKindResult, AroundResult, ServerWritesResult } from './result.ts';
import { serverWriteCost } from './server-writes.ts';

/** On `url` (a clone: it is written to and its columns' types change), `n` writes of each kind per mode and phase. */
export async function aroundCost(url: string, L: BenchLayout, n: number): Promise<AroundResult> {
  const client = await connect(url);
  try {
    const triggers = await workerTriggers(client, L);
    const { writes } = await appWrites(client, L);
    const onOff = triggerSwitch(client, triggers);
    const phase = async (label: string, set: (on: boolean) => Promise<void>): Promise<ServerWritesResult> => {
      // The phase before left dead rows (its turns insert and delete empty_chats rows, which only
      // the triggers-on blocks pay for) and dirty pages: each phase starts from tables vacuumed
      // alike, after a checkpoint, so none pays for the one before.
      await client.query('VACUUM (ANALYZE)');
      await client.query('CHECKPOINT');
      const timed = await serverWriteCost(client, writes, set, n, label);
      await set(true);
      return timed;
    };

    const before = await phase('before', onOff);
    const definedBefore = await definitions(client, L);
    const pinnedBefore = await pinnedCount(client, L);
    const statements = typeChanges(L.map).map((c) => alterStatement(L.map, c));
    const started = performance.now();
    const exitCode = await migrateAround(url, L.map, appMigrationCommand(statements));
    const aroundMs = performance.now() - started;
    if (exitCode !== 0) throw new Error(`db:migrate --around: the app's migration exited with ${exitCode}`);
    const definedAfter = await definitions(client, L);
    const pinnedAfter = await pinnedCount(client, L);
    const after = await phase('after', onOff);

    // Pinned against unpinned, block by block: the pinned forms as Postgres prints them, put back
    // with CREATE OR REPLACE; the unpinned ones as `--around` installs them.
    const pinnedForms = (await workerUpdateTriggers(client, L.map.schema)).filter(isPinned);
    const pin = async (pinned: boolean) => {
      if (!pinned) await unpinAppTriggers(client, L.map);
      else for (const def of pinnedForms) await client.query(def.replace(/^CREATE TRIGGER /, 'CREATE OR REPLACE TRIGGER '));
    };
    await pin(false);
    const pinnedWhileUnpinned = await pinnedCount(client, L);
    await pin(true);
    const pinning = await phase('pinning', pin);

    const kinds: Record<string, AroundKindResult> = {};
    for (const w of writes) {
      const [b, a, p] = [before, after, pinning].map((x) => x.kinds[w.kind]!);
      kinds[w.kind] = {
        beforeAddedUs: b!.addedUs,
        afterAddedUs: a!.addedUs,
        pinnedMinusUnpinnedUs: p!.addedUs,
        beforeRatio: b!.ratio,
        afterRatio: a!.ratio,
        beforeWithUs: b!.withUs,
        afterWithUs: a!.withUs,
      };
    }
    return {
      statements,
      aroundMs,
      definitionsUnchanged: JSON.stringify(withoutCasts(definedBefore)) === JSON.stringify(withoutCasts(definedAfter)),
      definitionsPrintedDifferently: [...definedAfter.triggers, ...definedAfter.functions].filter(
        (d) => !definedBefore.triggers.includes(d) && !definedBefore.functions.includes(d),
      ).length,
      updateTriggers: { pinnedBefore, pinnedAfter, pinnedWhileUnpinned },
      kinds,
      before,
      after,
      pinning,
    };
  } finally {
    await client.end();
  }
}

/** Every Worker trigger on the app's tables and every function in spacerr_jobs, as Postgres prints them. */
async function definitions(client: pg.Client, L: BenchLayout): Promise<{ triggers: string[]; functions: string[] }> {
  const triggers = await client.query<{ def: string }>(
    `SELECT pg_get_triggerdef(t.oid) AS def FROM pg_trigger t
     JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace s ON s.oid = r.relnamespace
     WHERE s.nspname = $1 AND t.tgname LIKE 'spacerr\\_jobs\\_%' AND NOT t.tgisinternal ORDER BY 1`,
    [L.map.schema],
  );
  const functions = await client.query<{ def: string }>(
    `SELECT pg_get_functiondef(p.oid) AS def FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace
     WHERE s.nspname = 'spacerr_jobs' ORDER BY p.proname`,
  );
  return { triggers: triggers.rows.map((r) => r.def), functions: functions.rows.map((r) => r.def) };
}

/**
 * The definitions without the casts Postgres prints where a column's new type meets the operator
 * of its old one (`(old."chatId")::text` once `chatId` is varchar): the Worker installed the same
 * SQL, and only the app's types changed.
 */
function withoutCasts(defined: { triggers: string[]; functions: string[] }) {
  const strip = (d: string) =>
    d.replace(
      /\(((?:old|new|[a-z]\w*)\.(?:"[^"]+"|\w+))\)::(?:character varying|timestamp(?:\(\d\))? with(?:out)? time zone|[a-z]+)/g,
      '$1',
    );
  return { triggers: defined.triggers.map(strip), functions: defined.functions.map(strip) };
}

/** The Worker's row-level UPDATE triggers, and how many of them name their columns. */
async function pinnedCount(client: pg.Client, L: BenchLayout): Promise<{ total: number; pinned: number }> {
  const defs = await workerUpdateTriggers(client, L.map.schema);
  return { total: defs.length, pinned: defs.filter(isPinned).length };
}
