// The cron table in code and the triggers in wrangler.toml must agree, both ways, and stay within
// a Free account's five cron triggers.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CRONS, JOBS } from '../../src/run/registry.ts';

const toml = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8');
const cronsBlock = /\[triggers\][\s\S]*?crons\s*=\s*\[([\s\S]*?)\]/.exec(toml)?.[1] ?? '';
const configured = [...cronsBlock.matchAll(/"([^"]+)"/g)].map((m) => m[1]);

describe('cron wiring', () => {
  it('wrangler.toml declares exactly the expressions the registry maps, three at most', () => {
    expect(configured.sort()).toEqual(Object.keys(CRONS).sort());
    expect(configured.length).toBeLessThanOrEqual(3);
  });

  it('every job is run by exactly one cron expression', () => {
    const scheduled = Object.values(CRONS).flat();
    expect(scheduled.sort()).toEqual(JOBS.map((j) => j.name).sort());
  });

  it('declares every threshold in [vars] with its documented default', () => {
    for (const [name, value] of Object.entries({
      ACCOUNT_RETENTION_DAYS: '30',
      EMPTY_CHAT_MIN_AGE_MINUTES: '15',
      STALE_STREAM_AFTER_MINUTES: '10',
    })) {
      expect(toml).toMatch(new RegExp(`^${name} = "${value}"$`, 'm'));
    }
  });
});
