// The cron table in code and the triggers in wrangler.toml must agree, both ways, and stay within
// a Free account's five cron triggers.
import { describe, expect, it } from 'vitest';
import { cronComments, wranglerConfig } from '../../scripts/wrangler-config.ts';
import { VAR_DEFAULTS } from '../../src/settings.ts';
import { JOBS } from '../../src/jobs/index.ts';
import { CRONS } from '../support/crons.ts';

const { crons: configured, vars } = wranglerConfig();

describe('cron wiring', () => {
  it('wrangler.toml declares exactly the expressions the registry maps, three at most', () => {
    expect([...configured].sort()).toEqual(Object.keys(CRONS).sort());
    expect(configured.length).toBeLessThanOrEqual(3);
  });

  it('every job is run by exactly one cron expression', () => {
    const scheduled = Object.values(CRONS).flat();
    expect(scheduled.sort()).toEqual(JOBS.map((j) => j.name).sort());
  });

  it("names after each cron the jobs it runs, in the list's order", () => {
    expect(cronComments()).toEqual(CRONS);
  });

  it('declares every threshold in [vars] with its documented default', () => {
    for (const [name, value] of Object.entries({
      ACCOUNT_RETENTION_DAYS: '30',
      EMPTY_CHAT_MIN_AGE_MINUTES: '15',
      STALE_STREAM_AFTER_MINUTES: '10',
    })) {
      expect(vars[name]).toBe(value);
    }
    // …and every var setting of the settings table with a default, at it, and nothing else.
    expect(vars).toEqual(VAR_DEFAULTS);
  });
});
