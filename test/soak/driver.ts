/**
 * The soak: app traffic on several connections and every job, over and over, at the same time for
 * a bounded time; then a final quiet run and the invariants (test/soak/invariants.ts). Returns a
 * summary: operations per kind, runs per job and status, and every invariant with what it checked.
 */
import { vi } from 'vitest';
import type { TestEnv } from '../worker/support';
import { AppConnection } from './app-traffic';
import { blobsOfLiveRows, type Check, finalChecks } from './invariants';
import { playJobs, quietRun } from './job-traffic';
import { newTally } from './job-traffic';
import { newLedger } from './ledger';

export interface SoakOptions {
  seconds: number;
  /** App connections (each a dedicated Postgres connection). */
  connections: number;
  /** How often the blob invariant is checked while everything runs. */
  checkEveryMs?: number;
}

export interface SoakSummary {
  seconds: number;
  connections: number;
  ops: Record<string, number>;
  totalOps: number;
  runs: Record<string, Record<string, number>>;
  crons: Record<string, Record<string, number>>;
  /** What the HTTP runs deleted, per job and table (scheduled runs delete more, not counted here). */
  deleted: Record<string, Record<string, number>>;
  totalRuns: number;
  failures: string[];
  /** Log lines of the Worker by event, and the error-level lines themselves. */
  logEvents: Record<string, number>;
  checks: Check[];
}

/**
 * Soaks env `e`, whose thresholds must be at their minimums (EMPTY_CHAT_MIN_AGE_MINUTES=1,
 * STALE_STREAM_AFTER_MINUTES=1, ACCOUNT_RETENTION_DAYS=1) so the app's backdated rows are stale.
 */
export async function soak(e: TestEnv, opts: SoakOptions): Promise<SoakSummary> {
  const ledger = newLedger();
  const tally = newTally();
  const logEvents: Record<string, number> = {};
  // Thousands of job_run lines: count them by event instead of printing them.
  const spies = (['log', 'warn', 'error'] as const).map((level) =>
    vi.spyOn(console, level).mockImplementation((line: unknown) => {
      let event = `${level}:unparsed`;
      try {
        event = `${level}:${(JSON.parse(String(line)) as { event?: string }).event}`;
      } catch {}
      logEvents[event] = (logEvents[event] ?? 0) + 1;
    }),
  );
  const tag = `s${Date.now().toString(36)}`;
  const apps = await Promise.all(Array.from({ length: opts.connections }, (_, i) => AppConnection.open(e, ledger, `${tag}k${i}`)));
  const during: Check = { name: 'no blob deleted while its row exists (during)', checked: 0, violations: [] };
  try {
    const stopAt = Date.now() + opts.seconds * 1000;
    const checking = (async () => {
      while (Date.now() < stopAt) {
        await new Promise((r) => setTimeout(r, opts.checkEveryMs ?? 5000));
        const check = await blobsOfLiveRows(e);
        during.checked += check.checked;
        during.violations.push(...check.violations);
      }
    })();
    await Promise.all([...apps.map((a) => a.play(stopAt)), playJobs(e, tally, stopAt), checking]);
    const finalRunAt = Date.now();
    await quietRun(e, tally);
    const checks = [during, ...(await finalChecks(e, ledger, finalRunAt))];
    const count = (t: Record<string, Record<string, number>>) =>
      Object.values(t).reduce((n, row) => n + Object.values(row).reduce((a, b) => a + b, 0), 0);
    return {
      seconds: opts.seconds,
      connections: opts.connections,
      ops: ledger.ops,
      totalOps: Object.entries(ledger.ops)
        .filter(([k]) => !k.startsWith('error:'))
        .reduce((n, [, v]) => n + v, 0),
      runs: tally.runs,
      crons: tally.crons,
      deleted: tally.deleted,
      totalRuns: count(tally.runs),
      failures: tally.failures,
      logEvents,
      checks,
    };
  } finally {
    for (const spy of spies) spy.mockRestore();
    await Promise.all(apps.map((a) => a.close()));
  }
}
