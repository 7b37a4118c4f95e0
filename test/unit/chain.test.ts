// The chain's message (src/chain/chain.ts): the queue's shape read and written, and the one
// decision of what follows a run, as pure functions of the run's report.
import { describe, expect, it } from 'vitest';
import { type ChainMessage, nextMessage, parseMessage, toWire } from '../../src/chain/chain.ts';
import type { RunReport } from '../../src/run/report.ts';
import { findJob } from '../../src/jobs/index.ts';

const CHATS = findJob('delete-stale-empty-chats')!;
const config = { continuationMaxHops: 2, recoveryDelaySeconds: 60 };
const NOW = new Date('2026-11-01T12:00:05.000Z');
const report = (fields: Partial<RunReport>): RunReport => ({
  job: CHATS.name,
  runId: 'r',
  trigger: 'queue',
  status: 'succeeded',
  dryRun: false,
  counts: {},
  more: false,
  subrequests: 3,
  durationMs: 1,
  ...fields,
});
const after = (fields: Partial<RunReport>, position = 1, followUps: string[] = ['a', 'b']) =>
  nextMessage({ job: CHATS, report: report(fields), position, followUps }, config, NOW);

describe('the queue shape', () => {
  it('reads a continuation at hop + 1 and a recovery at hop, and writes them back as they came', () => {
    const bodies = [
      { job: 'j', continues: 'r', hop: 1 },
      { job: 'j', continues: 'r', hop: 2, then: ['a'] },
      { job: 'j', continues: 'r', hop: 1, recovery: true as const, then: ['a', 'b'] },
    ];
    const read = bodies.map(parseMessage);
    expect(read.map((m) => [m?.position, m?.why, m?.followUps])).toEqual([
      [2, 'continue', []],
      [3, 'continue', ['a']],
      [1, 'recover', ['a', 'b']],
    ]);
    expect(read.map((m) => toWire(m!))).toEqual(bodies);
  });

  it('refuses what this Worker did not send', () => {
    for (const body of [
      null,
      'x',
      { job: 'j' },
      { job: 'j', continues: 'r', hop: 0 },
      { job: 'j', continues: 'r', hop: 1, recovery: false },
    ]) {
      expect(parseMessage(body)).toBeUndefined();
    }
  });
});

describe('what follows a run', () => {
  it('work left: the same job at the next position, with the same follow-ups, up to CONTINUATION_MAX_HOPS', () => {
    expect(after({ more: true }, 2)).toEqual<ChainMessage>({
      job: CHATS.name,
      continues: 'r',
      position: 3,
      why: 'continue',
      followUps: ['a', 'b'],
    });
    expect(after({ more: true }, 3)).toBeUndefined();
  });

  it('done, or paused: the first follow-up, with the rest; failed or a duplicate: nothing', () => {
    expect(after({})).toEqual({ job: 'a', continues: 'r', position: 2, why: 'follow', followUps: ['b'] });
    expect(after({ status: 'skipped', paused: { job: CHATS.name, reason: 'x', by: 'y', since: '' } })).toMatchObject({
      job: 'a',
      why: 'follow',
    });
    expect(after({ status: 'skipped', duplicate: true })).toBeUndefined();
    expect(after({ status: 'failed', more: true })).toBeUndefined();
    expect(after({}, 1, [])).toBeUndefined();
  });

  it('a failed scheduled run: recovered at its own position after the first delay, with its follow-ups', () => {
    expect(after({ status: 'failed', more: true, trigger: 'scheduled' })).toEqual({
      job: CHATS.name,
      continues: 'r',
      position: 1,
      why: 'recover',
      followUps: ['a', 'b'],
      delaySeconds: 60,
    });
  });

  it('a dry run: nothing', () => {
    expect(after({ dryRun: true, more: true })).toBeUndefined();
  });
});
