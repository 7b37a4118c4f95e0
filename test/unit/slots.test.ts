// Which runs a cron delivery makes for missed slots (src/chain/slots.ts), and the pause alarm's
// threshold (src/run/pauses.ts): pure functions of the jobs, the latest slots and the time.
import { describe, expect, it } from 'vitest';
import { pauseAlarms } from '../../src/run/pauses.ts';
import { JOBS } from '../../src/jobs/index.ts';
import { MISSED_LIMIT, planRuns, tracksSlots } from '../../src/chain/slots.ts';

const DELETING = JOBS.filter(tracksSlots);
const byCron = (cron: string) => JOBS.filter((job) => job.cron === cron);
const ACCOUNTS = 'delete-stale-deactivated-accounts';
const CHATS = 'delete-stale-empty-chats';
const at = (iso: string) => new Date(iso);
const plan = (cron: string, latest: Record<string, string>, now: string) =>
  planRuns(byCron(cron), DELETING, new Map(Object.entries(latest).map(([job, iso]) => [job, at(iso)])), at(now)).map((r) => ({
    job: r.job.name,
    slot: r.slot.toISOString(),
    missed: r.missed,
    catchUp: r.catchUp,
  }));

describe('planRuns', () => {
  it('the deleting jobs are the ones that are not sweeps', () => {
    expect(DELETING.map((job) => job.name)).toEqual([ACCOUNTS, CHATS]);
  });

  it('runs a catch-up first, for the latest missed slot of another cron, naming every slot missed', () => {
    expect(
      plan('0 */12 * * *', { [ACCOUNTS]: '2099-10-01T00:00:00.000Z', [CHATS]: '2099-12-01T00:00:00.000Z' }, '2099-12-01T12:00:00.000Z'),
    ).toEqual([
      { job: ACCOUNTS, slot: '2099-12-01T00:00:00.000Z', missed: ['2099-11-01T00:00:00.000Z', '2099-12-01T00:00:00.000Z'], catchUp: true },
      { job: CHATS, slot: '2099-12-01T12:00:00.000Z', missed: [], catchUp: false },
    ]);
  });

  it('takes no slot of the same minute for missed, nor anything of a job that has no slot yet', () => {
    expect(plan('0 */12 * * *', { [ACCOUNTS]: '2099-11-01T00:00:00.000Z' }, '2099-12-01T00:00:00.000Z')).toEqual([
      { job: CHATS, slot: '2099-12-01T00:00:00.000Z', missed: [], catchUp: false },
    ]);
  });

  it("records the slots of the delivery's own cron missed since its last, and gives its sweeps none", () => {
    expect(
      plan('0 */12 * * *', { [ACCOUNTS]: '2099-12-01T00:00:00.000Z', [CHATS]: '2099-11-30T00:00:00.000Z' }, '2099-12-01T12:00:00.000Z'),
    ).toEqual([
      { job: CHATS, slot: '2099-12-01T12:00:00.000Z', missed: ['2099-11-30T12:00:00.000Z', '2099-12-01T00:00:00.000Z'], catchUp: false },
    ]);
    const tick = plan(
      '*/10 * * * *',
      { [ACCOUNTS]: '2099-12-01T00:00:00.000Z', [CHATS]: '2099-12-01T00:00:00.000Z' },
      '2099-12-01T00:30:00.000Z',
    );
    expect(tick.every((r) => r.missed.length === 0 && !r.catchUp)).toBe(true);
  });

  it('keeps the latest MISSED_LIMIT slots of a long outage', () => {
    const [run] = plan('0 */12 * * *', { [CHATS]: '2099-01-01T00:00:00.000Z' }, '2099-12-01T12:00:00.000Z');
    expect(run?.missed).toHaveLength(MISSED_LIMIT);
    expect(run?.missed.at(-1)).toBe('2099-12-01T00:00:00.000Z');
  });
});

describe('pauseAlarms', () => {
  const pause = { job: CHATS, reason: 'incident', by: null, since: '2099-12-01T00:00:00.000Z' };
  it('raises job_paused once the pause has stood PAUSE_ALARM_HOURS, not before', () => {
    expect(pauseAlarms([pause], { pauseAlarmHours: 24 }, at('2099-12-01T23:59:59.999Z'))).toEqual([]);
    expect(pauseAlarms([pause], { pauseAlarmHours: 24 }, at('2099-12-02T00:00:00.000Z'))).toMatchObject([
      { code: 'job_paused', job: CHATS },
    ]);
  });
});
