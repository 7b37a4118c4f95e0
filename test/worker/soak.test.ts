/**
 * Soak against live app traffic (test/soak/driver.ts): the app on several Postgres connections,
 * R2 and Redis, while every job runs over and over through the Worker's fetch and scheduled
 * handlers; then a final quiet run and the invariants. `npm test` soaks about a minute;
 * `npm run soak -- --seconds N` soaks longer.
 */
import { expect, inject, it } from 'vitest';
import { soak } from '../soak/driver';
import { provisionEnv } from './support';

const SECONDS = inject('soakSeconds');
const CONNECTIONS = 4;

it(`keeps every invariant under ${SECONDS} s of app traffic and repeated runs`, { timeout: (SECONDS + 120) * 1000 }, async () => {
  const e = await provisionEnv({
    // Stale within the soak: the app backdates the rows it wants stale past these minimums.
    ACCOUNT_RETENTION_DAYS: '1',
    EMPTY_CHAT_MIN_AGE_MINUTES: '1',
    STALE_STREAM_AFTER_MINUTES: '1',
    // Small batches: runs take several statements and stop with `more`, as under a real backlog.
    DELETE_BATCH_SIZE: '10',
    EMPTY_CHAT_BATCH_SIZE: '10',
    CONTINUATION_MAX_HOPS: '0',
  });
  const summary = await soak(e, { seconds: SECONDS, connections: CONNECTIONS });
  console.log(JSON.stringify({ event: 'soak_summary', ...summary }, null, 1));

  expect(summary.failures).toEqual([]);
  expect(Object.keys(summary.ops).filter((k) => k.startsWith('error'))).toEqual([]);
  for (const check of summary.checks) {
    expect({ check: check.name, violations: check.violations }).toEqual({ check: check.name, violations: [] });
    expect(check.checked, check.name).toBeGreaterThan(0);
  }
  // The soak exercised what it claims: the races happened and every job did real work.
  for (const kind of ['first_message', 'attachment', 'reactivate', 'delete_project', 'heartbeat'])
    expect(summary.ops[kind]).toBeGreaterThan(0);
  for (const [job, outcomes] of Object.entries(summary.runs)) expect(outcomes.succeeded, job).toBeGreaterThan(1);
});
