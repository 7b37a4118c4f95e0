/**
 * What the app's writes cost before and after its own migration runs through `npm run db:migrate
 * -- --around "<command>"` (scripts/db/around.ts): a migration that changes the type of the columns
 * the Worker's update triggers watch (test/support/app-migration.ts), which Postgres refuses while
 * the triggers name them. The command swaps the triggers for their unpinned forms, runs the
 * migration and pins them again. Then, on the same clone, the triggers left unpinned: what the
 * other way out (never naming the columns) would cost every update. Each phase times the app's
 * writes inside Postgres as bench/server-writes.ts does, the triggers off and on in interleaved
 * blocks, so each phase's added µs is measured against its own baseline in the same minutes.
 */
import pg from 'pg';
import { unpinAppTriggers } from '../scripts/db/app-objects.ts';
import { migrateAround } from '../scripts/db/around.ts';
import { alterStatement, appMigrationCommand, typeChanges } from '../test/support/app-migration.ts';
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
    const set = triggerSwitch(client, triggers);
    const phase = async (label: string): Promise<ServerWritesResult> => {
      // The phase before left dead rows (its turns insert and delete empty_chats rows, which only
      // the triggers-on blocks pay for): each phase starts from tables vacuumed alike.
      await client.query('VACUUM (ANALYZE)');
      const timed = await serverWriteCost(client, writes, set, n, label);
      await set(true);
      return timed;
    };

    const before = await phase('before');
    const pinnedBefore = await pinnedUpdateTriggers(client, L);
    const statements = typeChanges(L.map).map((c) => alterStatement(L.map, c));
    const started = performance.now();
    const exitCode = await migrateAround(url, L.map, appMigrationCommand(statements));
    const aroundMs = performance.now() - started;
    if (exitCode !== 0) throw new Error(`db:migrate --around: the app's migration exited with ${exitCode}`);
    const pinnedAfter = await pinnedUpdateTriggers(client, L);
    const after = await phase('after');

    await unpinAppTriggers(client, L.map);
    const pinnedWhileUnpinned = await pinnedUpdateTriggers(client, L);
    const unpinned = await phase('unpinned');

    const kinds: Record<string, AroundKindResult> = {};
    for (const w of writes) {
      const [b, a, u] = [before, after, unpinned].map((p) => p.kinds[w.kind]!);
      kinds[w.kind] = {
        beforeAddedUs: b!.addedUs,
        afterAddedUs: a!.addedUs,
        unpinnedAddedUs: u!.addedUs,
        beforeWithUs: b!.withUs,
        afterWithUs: a!.withUs,
        afterOverBefore: a!.withUs / b!.withUs,
      };
    }
    return {
      statements,
      aroundMs,
      updateTriggers: { pinnedBefore, pinnedAfter, pinnedWhileUnpinned },
      kinds,
      before,
      after,
      unpinned,
    };
  } finally {
    await client.end();
  }
}

/** The Worker's row-level UPDATE triggers, and how many of them name their columns (`UPDATE OF`). */
async function pinnedUpdateTriggers(client: pg.Client, L: BenchLayout): Promise<{ total: number; pinned: number }> {
  const { rows } = await client.query<{ def: string }>(
    `SELECT pg_get_triggerdef(t.oid) AS def FROM pg_trigger t
     JOIN pg_class r ON r.oid = t.tgrelid JOIN pg_namespace s ON s.oid = r.relnamespace
     WHERE s.nspname = $1 AND t.tgname LIKE 'spacerr\\_jobs\\_%' AND t.tgname LIKE '%\\_updated'`,
    [L.map.schema],
  );
  return { total: rows.length, pinned: rows.filter((r) => /AFTER UPDATE OF .* WHEN /.test(r.def)).length };
}
