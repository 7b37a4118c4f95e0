/**
 * What a request to pause a job must hold, checked the same way by the HTTP route
 * (`POST /api/internal/jobs/<job>/pause`) and the status page's Pause action: a non-empty reason,
 * optionally who paused it, nothing else. Expected outcomes are values: `{ ok: false, message }`
 * for the caller to answer as its own 400.
 */
import type { Checked } from './hold-input';

/** Longest `reason` and `by` a pause takes (they are shown in run records and alarms). */
export const PAUSE_LIMITS = { reason: 500, by: 100 } as const;

export interface PauseRequest {
  reason: string;
  by?: string;
}

/** Checks a pause request (parsed JSON, or the page's form fields) against the pause route's contract. */
export function checkPauseRequest(body: unknown): Checked<PauseRequest> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, message: 'The body must be a JSON object with a reason.' };
  }
  const { reason, by, ...rest } = body as Record<string, unknown>;
  const unknown = Object.keys(rest);
  if (unknown.length > 0) {
    return { ok: false, message: `Unknown field ${JSON.stringify(unknown[0]?.slice(0, 40))}; only reason and by are accepted.` };
  }
  if (typeof reason !== 'string' || reason.trim() === '') return { ok: false, message: 'reason is required: say why the job is paused.' };
  if (reason.length > PAUSE_LIMITS.reason) return { ok: false, message: `reason is longer than ${PAUSE_LIMITS.reason} characters.` };
  if (by === undefined || by === null) return { ok: true, value: { reason: reason.trim() } };
  if (typeof by !== 'string' || by.trim() === '' || by.length > PAUSE_LIMITS.by) {
    return { ok: false, message: `by, when given, must be a name of 1 to ${PAUSE_LIMITS.by} characters.` };
  }
  return { ok: true, value: { reason: reason.trim(), by: by.trim() } };
}
