/** Durations in milliseconds, written once for the whole Worker. */
export const SECOND_MS = 1_000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The instant `count` units of `unitMs` before `at` (a cutoff: "older than 30 days"). */
export function before(at: Date, count: number, unitMs: number): Date {
  return new Date(at.getTime() - count * unitMs);
}
