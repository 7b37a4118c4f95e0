/** The checks a hold's `until` and body pass before anything is written (src/http/hold-input.ts). */
import { describe, expect, it } from 'vitest';
import { checkHoldRequest, parseUntil } from '../../src/http/hold-input';

const NOW = new Date('2026-12-02T00:00:00Z');

describe('parseUntil', () => {
  it.each([
    ['2027-06-30', '2027-06-30T00:00:00.000Z'],
    ['2027-06-30T12:00:00Z', '2027-06-30T12:00:00.000Z'],
    ['2027-06-30T12:00Z', '2027-06-30T12:00:00.000Z'],
    ['2027-06-30T12:00:00.250+02:00', '2027-06-30T10:00:00.250Z'],
    ['2028-02-29', '2028-02-29T00:00:00.000Z'],
  ])('reads %s as %s', (raw, iso) => {
    expect(parseUntil(raw, NOW)).toEqual({ ok: true, value: new Date(iso) });
  });

  it.each(['2027-02-29', '2027-13-01', '2027-06-31', '2027-06-30T24:00:00Z', '2027-06-30T12:00:00', '30/06/2027', 'tomorrow', ''])(
    'refuses %j as not a date',
    (raw) => {
      expect(parseUntil(raw, NOW)).toEqual({ ok: false, message: expect.stringContaining('ISO 8601') });
    },
  );

  it('refuses the present and the past', () => {
    expect(parseUntil('2026-12-02', NOW)).toEqual({ ok: false, message: expect.stringContaining('in the future') });
    expect(parseUntil('2026-01-01', NOW)).toEqual({ ok: false, message: expect.stringContaining('in the future') });
  });
});

describe('checkHoldRequest', () => {
  it('keeps the fields given, trimmed', () => {
    expect(checkHoldRequest({ userId: ' u1 ', reason: 'dispute', by: 'ana', until: '2027-01-01' }, NOW)).toEqual({
      ok: true,
      value: { userId: 'u1', reason: 'dispute', by: 'ana', until: new Date('2027-01-01T00:00:00Z') },
    });
    expect(checkHoldRequest({ userId: 'u1', reason: 'dispute', by: null, until: null }, NOW)).toEqual({
      ok: true,
      value: { userId: 'u1', reason: 'dispute' },
    });
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'JSON object'],
    ['no reason', { userId: 'u1' }, 'reason is required'],
    ['an empty userId', { userId: '', reason: 'r' }, 'userId is required'],
    ['an unknown field', { userId: 'u1', reason: 'r', placedBy: 'x' }, 'Unknown field "placedBy"'],
    ['an empty by', { userId: 'u1', reason: 'r', by: ' ' }, 'by is required'],
    ['a long userId', { userId: 'u'.repeat(201), reason: 'r' }, 'longer than 200'],
  ])('refuses %s', (_name, body, message) => {
    expect(checkHoldRequest(body, NOW)).toEqual({ ok: false, message: expect.stringContaining(message) });
  });
});
