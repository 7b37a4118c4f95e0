// Two decisions no other test pinned (issue 21, item 11): whether the */10 tick runs the sweeps,
// and whether a failed scheduled run is retried before its job's next cron.
import { describe, expect, it } from 'vitest';
import { RECOVERY_STEPS, recoveryDelay } from '../../src/run/recovery.ts';
import { nextRunAt } from '../../src/run/schedule.ts';
import { decide } from '../../src/run/tick.ts';

describe('the tick', () => {
  it('treats the app as active with a single fresh heartbeat: one user chatting gets the sweeps now', () => {
    expect(decide(0, 1)).toEqual({ sweep: true, reason: 'active' });
    expect(decide(0, 0)).toEqual({ sweep: false, reason: 'idle' });
  });
});

describe('recovery of a failed scheduled run', () => {
  const config = { recoveryDelaySeconds: 60 };
  const HOURLY = '0 * * * *';

  it('waits its step when the next cron is further away', () => {
    const now = new Date('2026-12-01T10:00:05Z');
    expect(recoveryDelay(1, config, now, nextRunAt(HOURLY, now))).toBe(RECOVERY_STEPS[0] * 60);
  });

  it("makes no attempt that would land at or after the job's next cron: that run is the retry", () => {
    const now = new Date('2026-12-01T10:59:30Z'); // the next cron is 30 s away, the first step 60 s
    expect(recoveryDelay(1, config, now, nextRunAt(HOURLY, now))).toBeUndefined();
    const exactly = new Date('2026-12-01T10:59:00Z'); // lands exactly on it
    expect(recoveryDelay(1, config, exactly, nextRunAt(HOURLY, exactly))).toBeUndefined();
  });

  it('stops after its last step', () => {
    expect(recoveryDelay(RECOVERY_STEPS.length + 1, config, new Date('2026-12-01T10:00:00Z'), null)).toBeUndefined();
  });
});
