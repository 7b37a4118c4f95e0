// When crons fire, and when data past a job's cutoff becomes overdue (the deadline alarm).
import { describe, expect, it } from 'vitest';
import { parseConfig, VAR_DEFAULTS } from '../../src/settings.ts';
import { overdueBefore } from '../../src/run/deadline.ts';
import type { AsOf } from '../../src/run/job.ts';
import { nextRunAt, previousRunAt } from '../../src/run/schedule.ts';
import { DAY_MS } from '../../src/time.ts';
import { AWKWARD_INSTANTS, testInstants, waitingForItsRun } from '../support/instants.ts';

const config = parseConfig({
  ...VAR_DEFAULTS,
  DATABASE_URL: 'postgres://x/y',
  UPSTASH_REDIS_REST_URL: 'https://r',
  UPSTASH_REDIS_REST_TOKEN: 't',
  BLOB_STORE: 'r2',
});
const MONTHLY = '0 0 1 * *';
const thirtyDays = ({ config, now }: AsOf) => new Date(now.getTime() - config.accountRetentionDays * DAY_MS);

describe('schedule', () => {
  it('computes the next and the previous firing of a cron in UTC', () => {
    const now = new Date('2026-11-15T10:07:00Z');
    expect(nextRunAt(MONTHLY, now)?.toISOString()).toBe('2026-12-01T00:00:00.000Z');
    expect(previousRunAt(MONTHLY, now)?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    expect(nextRunAt('*/10 * * * *', now)?.toISOString()).toBe('2026-11-15T10:10:00.000Z');
    expect(nextRunAt('0 */12 * * *', now)?.toISOString()).toBe('2026-11-15T12:00:00.000Z');
  });

  it('fires strictly before `before`: a run at exactly that instant is not its previous run', () => {
    expect(previousRunAt(MONTHLY, new Date('2026-11-01T00:00:00Z'))?.toISOString()).toBe('2026-10-01T00:00:00.000Z');
  });
});

describe('deadline', () => {
  it('is the cutoff as of the last scheduled run more than DEADLINE_GRACE_HOURS ago', () => {
    // 3 h after the Nov 1 run: within the 6 h grace, so the Oct 1 run is the one that counts.
    expect(overdueBefore(MONTHLY, thirtyDays, { config, now: new Date('2026-11-01T03:00:00Z') })?.toISOString()).toBe(
      '2026-09-01T00:00:00.000Z',
    );
    // 7 h after: the Nov 1 run should have deleted everything past retention on Nov 1.
    expect(overdueBefore(MONTHLY, thirtyDays, { config, now: new Date('2026-11-01T07:00:00Z') })?.toISOString()).toBe(
      '2026-10-02T00:00:00.000Z',
    );
  });
});

describe('runsWithin (the account job runs a notice window covers)', () => {
  it('lists the monthly runs within the window, in order', async () => {
    const { runsWithin } = await import('../../src/events/account-events.ts');
    const at = (s: string) => new Date(s);
    expect(runsWithin('0 0 1 * *', at('2026-03-28T12:00:00Z'), 7)).toEqual([at('2026-04-01T00:00:00Z')]);
    expect(runsWithin('0 0 1 * *', at('2026-03-20T12:00:00Z'), 7)).toEqual([]);
    expect(runsWithin('0 0 1 * *', at('2026-03-20T12:00:00Z'), 45)).toEqual([at('2026-04-01T00:00:00Z'), at('2026-05-01T00:00:00Z')]);
    expect(runsWithin('0 0 1 * *', at('2026-03-28T12:00:00Z'), 0)).toEqual([]);
  });
});

describe('test data placed by the schedule (test/support/instants.ts)', () => {
  const cutoffAt = (now: Date) => thirtyDays({ config, now });
  const overdueAt = (now: Date) => overdueBefore(MONTHLY, thirtyDays, { config, now }) ?? new Date(0);

  it.each(AWKWARD_INSTANTS)('at %s, waitingForItsRun is eligible and not overdue for the next 30 minutes', (iso) => {
    const now = new Date(iso);
    const at = waitingForItsRun(now, config);
    expect(at < cutoffAt(now)).toBe(true);
    for (const later of [0, 10, 29]) expect(at >= overdueAt(new Date(now.getTime() + later * 60_000))).toBe(true);
  });

  it('is needed: a day past the window is overdue from the end of the grace on the 1st', () => {
    const dayPast = (now: Date) => new Date(cutoffAt(now).getTime() - DAY_MS);
    const overdue = (iso: string) => dayPast(new Date(iso)) < overdueAt(new Date(iso));
    expect(AWKWARD_INSTANTS.filter(overdue)).toEqual(['2026-12-01T06:00:30Z', '2026-12-01T21:50:00Z', '2027-03-01T06:00:30Z']);
  });

  it('adds TEST_NOW to the instants, and refuses one that is not an instant', () => {
    expect(testInstants(undefined)).toEqual([...AWKWARD_INSTANTS]);
    expect(testInstants('2028-02-29T06:00:01Z').at(-1)).toBe('2028-02-29T06:00:01.000Z');
    expect(() => testInstants('tomorrow')).toThrow(/TEST_NOW must be an ISO instant/);
  });
});
