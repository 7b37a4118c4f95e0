/**
 * Installs (or removes) what the Worker puts on the app's tables, from the app map
 * (src/app-map/triggers.ts), online: every step that locks an app table runs in a transaction of
 * its own under a short lock_timeout and is retried when the app holds the table, so an app write
 * waits at most that long behind it; indexes are built CONCURRENTLY, outside any transaction.
 */
import pg from 'pg';
import { type InstallStep, installSteps, uninstallSteps } from '../../src/app-map/triggers.ts';
import type { AppMap } from '../../src/app-map/types.ts';

/** How long one step may wait for a lock on an app table before it lets the app go first. */
export const LOCK_TIMEOUT_MS = 50;
const ATTEMPTS = 40;

export interface InstallReport {
  steps: number;
  skipped: number;
  /** Lock timeouts the installer gave way on (each retried). */
  retries: number;
}

/** Runs every install step of `map` on `client` (a session of its own: no transaction open). */
export async function installAppObjects(client: pg.Client, map: AppMap, log: (line: string) => void = () => {}): Promise<InstallReport> {
  return runSteps(client, installSteps(map), log);
}

/** Removes every trigger, function, index and table the Worker installed. */
export async function uninstallAppObjects(client: pg.Client, map: AppMap, log: (line: string) => void = () => {}): Promise<InstallReport> {
  return runSteps(client, uninstallSteps(map), log);
}

async function runSteps(client: pg.Client, steps: InstallStep[], log: (line: string) => void): Promise<InstallReport> {
  const report: InstallReport = { steps: 0, skipped: 0, retries: 0 };
  for (const step of steps) {
    if (step.unless) {
      const { rows } = await client.query<{ present: boolean }>(step.unless);
      if (rows[0]?.present) {
        report.skipped++;
        continue;
      }
    }
    report.retries += await runStep(client, step);
    report.steps++;
    log(step.what);
  }
  return report;
}

async function runStep(client: pg.Client, step: InstallStep): Promise<number> {
  if (step.backfill) return backfill(client, step.backfill, step.what);
  if (step.concurrently) {
    // CREATE INDEX CONCURRENTLY waits for transactions to end rather than locking writes out.
    for (const statement of step.sql.split(/;\n/)) await client.query(statement);
    return 0;
  }
  return (await underLockTimeout(client, step.what, () => client.query(step.sql))).retries;
}

/** Keyset batches, each under the short lock_timeout and retried like any step (see InstallStep.backfill). */
async function backfill(client: pg.Client, step: { lock: string; fill: string }, what: string): Promise<number> {
  let retries = 0;
  for (let last = ''; ;) {
    const batch = await underLockTimeout(client, what, async () => {
      const ids = (await client.query<{ id: string }>(step.lock, [last])).rows.map((r) => r.id);
      if (ids.length > 0) await client.query(step.fill, [ids]);
      return ids;
    });
    retries += batch.retries;
    if (batch.value.length === 0) return retries;
    last = batch.value.at(-1)!;
  }
}

/**
 * Runs `body` in a transaction of its own under LOCK_TIMEOUT_MS, again (after a short pause) while
 * it gives way to the app holding a table, up to ATTEMPTS times. Returns its value and the retries.
 */
async function underLockTimeout<T>(client: pg.Client, what: string, body: () => Promise<T>): Promise<{ value: T; retries: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT_MS}ms'`);
      const value = await body();
      await client.query('COMMIT');
      return { value, retries: attempt - 1 };
    } catch (err) {
      await client.query('ROLLBACK');
      // 55P03 lock_not_available: the app holds the table; let it finish and try again.
      if ((err as { code?: string }).code !== '55P03' || attempt >= ATTEMPTS) {
        throw new Error(`${what}: ${(err as Error).message}`, { cause: err });
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, 20 * attempt)));
    }
  }
}
