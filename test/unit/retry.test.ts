// Which failures are retried, how often, and that every attempt is counted against the budget.
import { describe, expect, it } from 'vitest';
import { Budget, MAX_ATTEMPTS } from '../../src/run/budget.ts';
import { isTransient, retryTransient } from '../../src/run/retry.ts';

const noSleep = async () => {};

describe('isTransient', () => {
  it.each([
    new Error('Server error (HTTP status 503): unavailable'),
    new Error('Error connecting to database: fetch failed'),
    Object.assign(new Error('fetch failed'), { cause: new Error('ECONNRESET') }),
    new Error('The operation timed out'),
    new Error('The operation was aborted'),
  ])('retries a failure of the transport or the service: %s', (err) => {
    expect(isTransient(err)).toBe(true);
  });

  it.each([
    new Error('duplicate key value violates unique constraint "users_pkey"'),
    new Error('syntax error at or near "SELEC"'),
    new Error('Server error (HTTP status 400): bad request'),
  ])('does not retry a failure of the statement: %s', (err) => {
    expect(isTransient(err)).toBe(false);
  });
});

describe('retryTransient', () => {
  it('retries a transient failure after 200 ms, then 400 ms, and gives up after the last attempt', async () => {
    const waits: number[] = [];
    let calls = 0;
    const send = async () => {
      calls++;
      throw new Error('HTTP status 502');
    };
    await expect(retryTransient(send, { attempts: 3, sleep: async (ms) => void waits.push(ms) })).rejects.toThrow('502');
    expect([calls, waits]).toEqual([3, [200, 400]]);
  });

  it('throws a permanent failure at once, and returns the first success', async () => {
    let calls = 0;
    const permanent = async () => {
      calls++;
      throw new Error('syntax error');
    };
    await expect(retryTransient(permanent, { attempts: 3, sleep: noSleep })).rejects.toThrow('syntax error');
    expect(calls).toBe(1);
    let n = 0;
    expect(
      await retryTransient(async () => (++n < 2 ? Promise.reject(new Error('fetch failed')) : 'ok'), { attempts: 3, sleep: noSleep }),
    ).toBe('ok');
  });
});

describe('Budget', () => {
  it('counts every attempt of a request and stops retrying when no subrequest is left', async () => {
    const budget = new Budget({ subrequests: 2, timeMs: 1000, clock: () => 0, sleep: noSleep });
    await expect(budget.request(() => Promise.reject(new Error('HTTP status 503')))).rejects.toThrow('503');
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
