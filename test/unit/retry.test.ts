// How often failures are retried, and that every attempt is counted against the budget (which
// failures are transient: transient.test.ts).
import { describe, expect, it } from 'vitest';
import { Budget, MAX_ATTEMPTS } from '../../src/run/budget.ts';
import { retryTransient } from '../../src/run/retry.ts';

const noSleep = async () => {};
/** A failure of the service (HTTP 502), and a failure of the statement (SQLSTATE 42601). */
const unavailable = () => Object.assign(new Error('bad gateway'), { status: 502 });
const syntaxError = () => Object.assign(new Error('syntax error'), { name: 'NeonDbError', code: '42601' });

describe('retryTransient', () => {
  it('retries a transient failure after 200 ms, then 400 ms, and gives up after the last attempt', async () => {
    const waits: number[] = [];
    let calls = 0;
    const send = async () => {
      calls++;
      throw unavailable();
    };
    await expect(retryTransient(send, { attempts: 3, sleep: async (ms) => void waits.push(ms) })).rejects.toThrow('bad gateway');
    expect([calls, waits]).toEqual([3, [200, 400]]);
  });

  it('throws a permanent failure at once, and returns the first success', async () => {
    let calls = 0;
    const permanent = async () => {
      calls++;
      throw syntaxError();
    };
    await expect(retryTransient(permanent, { attempts: 3, sleep: noSleep })).rejects.toThrow('syntax error');
    expect(calls).toBe(1);
    let n = 0;
    expect(
      await retryTransient(async () => (++n < 2 ? Promise.reject(new TypeError('fetch failed')) : 'ok'), { attempts: 3, sleep: noSleep }),
    ).toBe('ok');
  });
});

describe('Budget', () => {
  it('counts every attempt of a request and stops retrying when no subrequest is left', async () => {
    const budget = new Budget({ subrequests: 2, timeMs: 1000, clock: () => 0, sleep: noSleep });
    await expect(budget.request(() => Promise.reject(unavailable()))).rejects.toThrow('bad gateway');
    expect(budget.used).toBe(2);
    expect(budget.canAfford(1)).toBe(false);
    expect(MAX_ATTEMPTS).toBe(3);
  });

  it('refuses what it cannot afford once the wall-time deadline has passed', () => {
    let now = 0;
    const budget = new Budget({ subrequests: 10, timeMs: 100, clock: () => now });
    expect(budget.canAfford(1)).toBe(true);
    now = 100;
    expect(budget.canAfford(1)).toBe(false);
    expect(() => budget.spend(11)).toThrow(/subrequest budget of 10 exceeded/);
  });
});
