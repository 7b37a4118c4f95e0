/**
 * Installs (or removes) what the Worker puts on the app's tables, from the app map
 * (src/app-map/triggers.ts), online: every step that locks an app table runs in a transaction of
 * its own under a short lock_timeout and is retried when the app holds the table, so an app write
 * waits at most that long behind it; indexes are built CONCURRENTLY, outside any transaction.
 */
import pg from 'pg';
import { type InstallStep, installSteps, uninstallSteps, unpinSteps } from '../../src/app-map/triggers.ts';
import type { AppMap } from '../../src/app-map/types.ts';

/** How long one step may wait for a lock on an app table before it lets the app go first. */
export const LOCK_TIMEOUT_MS = 50;
const ATTEMPTS = 40;

/** When one step ran (performance.now() ms of this process), for telling what an app write waited behind. */
export interface StepTiming {
  what: string;
  startMs: number;
  endMs: number;
  retries: number;
  /** The longest of the step's transactions (a backfill has one per batch; other steps one). */
  longestTransactionMs: number;
}

export interface InstallReport {
  steps: number;
  skipped: number;
  /** Lock timeouts the installer gave way on (each retried). */
  retries: number;
}

/** Runs every install step of `map` on `client` (a session of its own: no transaction open). */
export async function installAppObjects(
  client: pg.Client,
  map: AppMap,
  log: (line: string) => void = () => {},
  onStep?: (timing: StepTiming) => void,
): Promise<InstallReport> {
  return runSteps(client, installSteps(map), log, onStep);
}

/**
 * Swaps each installed trigger that pins column types for its unpinned form (src/app-map/triggers.ts,
 * `unpinSteps`), under the same lock_timeout discipline: `installAppObjects` pins them again.
 */
export async function unpinAppTriggers(client: pg.Client, map: AppMap, log: (line: string) => void = () => {}): Promise<InstallReport> {
  return runSteps(client, unpinSteps(map), log);
}

/** Removes every trigger, function, index and table the Worker installed. */
export async function uninstallAppObjects(client: pg.Client, map: AppMap, log: (line: string) => void = () => {}): Promise<InstallReport> {
  return runSteps(client, uninstallSteps(map), log);
}

async function runSteps(
  client: pg.Client,
  steps: InstallStep[],
  log: (line: string) => void,
  onStep?: (timing: StepTiming) => void,
): Promise<InstallReport> {
  const report: InstallReport = { steps: 0, skipped: 0, retries: 0 };
  for (const step of steps) {
    const startMs = performance.now();
    if (step.unless) {
      const { rows } = await client.query<{ present: boolean }>(step.unless);
      if (rows[0]?.present) {
        report.skipped++;
        continue;
      }
    }
    const { retries, longestTransactionMs } = await runStep(client, step);
    report.retries += retries;
    report.steps++;
    onStep?.({ what: step.what, startMs, endMs: performance.now(), retries, longestTransactionMs });
    log(step.what);
  }
  return report;
}

interface StepRun {
  retries: number;
  longestTransactionMs: number;
}

async function runStep(client: pg.Client, step: InstallStep): Promise<StepRun> {
  if (step.backfill) return backfill(client, step.backfill, step.what);
  const started = performance.now();
  if (step.concurrently) {
    // CREATE INDEX CONCURRENTLY waits for transactions to end rather than locking writes out.
    for (const statement of step.sql.split(/;\n/)) await client.query(statement);
    return { retries: 0, longestTransactionMs: performance.now() - started };
  }
  const { retries, ms } = await underLockTimeout(client, step.what, () => client.query(step.sql));
  return { retries, longestTransactionMs: ms };
}

/** Keyset batches, each under the short lock_timeout and retried like any step (see InstallStep.backfill). */
async function backfill(client: pg.Client, step: { lock: string; fill: string }, what: string): Promise<StepRun> {
  const run: StepRun = { retries: 0, longestTransactionMs: 0 };
  for (let last = ''; ;) {
    const batch = await underLockTimeout(client, what, async () => {
      const ids = (await client.query<{ id: string }>(step.lock, [last])).rows.map((r) => r.id);
      if (ids.length > 0) await client.query(step.fill, [ids]);
      return ids;
    });
    run.retries += batch.retries;
    run.longestTransactionMs = Math.max(run.longestTransactionMs, batch.ms);
    if (batch.value.length === 0) return run;
    last = batch.value.at(-1)!;
  }
}

/**
 * Runs `body` in a transaction of its own under LOCK_TIMEOUT_MS, again (after a short pause) while
 * it gives way to the app holding a table, up to ATTEMPTS times. Returns its value, the retries and
 * how long the transaction that committed took.
 */
async function underLockTimeout<T>(
  client: pg.Client,
  what: string,
  body: () => Promise<T>,
): Promise<{ value: T; retries: number; ms: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      const started = performance.now();
      await client.query(`BEGIN; SET LOCAL lock_timeout = '${LOCK_TIMEOUT_MS}ms'`);
      const value = await body();
      await client.query('COMMIT');
      return { value, retries: attempt - 1, ms: performance.now() - started };
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
