// A decision no other test pinned: whether the */10 tick runs the sweeps.
// (Its companion, no recovery attempt after the job's next cron, is in test/worker/recovery.test.ts:
// recovery.ts needs the Worker's types.)
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/chain/tick.ts';

describe('the tick', () => {
  it('treats the app as active with a single fresh heartbeat: one user chatting gets the sweeps now', () => {
    expect(decide(0, 1)).toEqual({ sweep: true, reason: 'active' });
    expect(decide(0, 0)).toEqual({ sweep: false, reason: 'idle' });
  });
});
