/**
 * What a request to place a hold must hold, checked the same way by the HTTP route and the CLI
 * (`npm run hold -- add`), and the status page's hold actions: a user id, a reason, optionally who placed it and when it ends.
 * Expected outcomes are values: `{ ok: false, message }` for the caller to show as it is.
 */

/** The longest user id, reason and name accepted. */
export const HOLD_LIMITS = { userId: 200, reason: 1000, by: 200 } as const;

/** An ISO 8601 date (`2027-06-30`, midnight UTC) or date and time with a zone (`…T12:00:00Z`, `…+02:00`). */
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2}))?$/;

export interface HoldRequest {
  userId: string;
  reason: string;
  by?: string;
  until?: Date;
}

export type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

/** Parses `until` as given: a real calendar date and time in ISO 8601, later than `now`. */
export function parseUntil(raw: string, now: Date): Checked<Date> {
  const written = raw.trim();
  const m = ISO_DATE.exec(written);
  const at = m && realDate(m) ? new Date(m[4] === undefined ? `${written}T00:00:00Z` : written) : undefined;
  if (!at || Number.isNaN(at.getTime())) {
    return { ok: false, message: `until must be an ISO 8601 date such as 2027-06-30 or 2027-06-30T12:00:00Z, got ${quote(raw)}` };
  }
  if (at.getTime() <= now.getTime()) {
    return { ok: false, message: `until must be in the future (it is now ${now.toISOString()}), got ${quote(raw)}` };
  }
  return { ok: true, value: at };
}

/** Checks a request body (parsed JSON) against the holds API's contract. */
export function checkHoldRequest(body: unknown, now: Date): Checked<HoldRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'Send a JSON object: { "userId", "reason", "until"?, "by"? }.' };
  }
  const fields = body as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((k) => !['userId', 'reason', 'until', 'by'].includes(k));
  if (unknown.length > 0)
    return { ok: false, message: `Unknown field ${quote(unknown[0]!)}; only userId, reason, until and by are accepted.` };
  const userId = text(fields.userId, 'userId', HOLD_LIMITS.userId);
  if (!userId.ok) return userId;
  const reason = text(fields.reason, 'reason', HOLD_LIMITS.reason);
  if (!reason.ok) return reason;
  const out: HoldRequest = { userId: userId.value, reason: reason.value };
  if (fields.by !== undefined && fields.by !== null) {
    const by = text(fields.by, 'by', HOLD_LIMITS.by);
    if (!by.ok) return by;
    out.by = by.value;
  }
  if (fields.until !== undefined && fields.until !== null) {
    if (typeof fields.until !== 'string') return { ok: false, message: 'until must be a string (an ISO 8601 date).' };
    const until = parseUntil(fields.until, now);
    if (!until.ok) return until;
    out.until = until.value;
  }
  return { ok: true, value: out };
}

/** Checks the account id of a request to lift a hold (the route's path, the page's form). */
export function checkLiftRequest(userId: string): Checked<string> {
  if (userId.length > HOLD_LIMITS.userId) return { ok: false, message: `userId is longer than ${HOLD_LIMITS.userId} characters.` };
  return { ok: true, value: userId };
}

function text(value: unknown, name: string, max: number): Checked<string> {
  if (typeof value !== 'string' || value.trim() === '') return { ok: false, message: `${name} is required (a non-empty string).` };
  if (value.length > max) return { ok: false, message: `${name} is longer than ${max} characters.` };
  return { ok: true, value: value.trim() };
}

/** The calendar date exists (Date would roll 2027-02-30 over to March) and the time of day is one. */
function realDate(m: RegExpExecArray): boolean {
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const day = new Date(Date.UTC(y, mo - 1, d));
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo - 1 || day.getUTCDate() !== d) return false;
  return m[4] === undefined || (Number(m[4]) <= 23 && Number(m[5]) <= 59 && Number(m[6] ?? 0) <= 59);
}

function quote(s: string): string {
  return JSON.stringify(s.slice(0, 60));
}
