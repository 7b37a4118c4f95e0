/**
 * `npm run hold -- add|remove|list`: legal holds through the Worker's holds API
 * (/api/internal/holds), one request each.
 */
import { CliError } from './errors.ts';
import { apiError, callWorker } from './http.ts';
import type { Secret } from './secret.ts';
import { renderTable } from './table.ts';

interface HoldRow {
  userId: string;
  reason: string;
  by: string | null;
  since: string;
  until: string | null;
}

const PATH = '/api/internal/holds';

/** Places a hold and returns the line to print. */
export async function addHold(
  url: string,
  secret: Secret,
  h: { userId: string; reason: string; until?: string; by?: string },
): Promise<string> {
  const answer = await callWorker(url, PATH, secret, 'POST', h);
  if (answer.status !== 201) throw apiError(`${url}${PATH}`, answer);
  const hold = answer.body.hold as HoldRow | undefined;
  if (!hold || typeof hold.userId !== 'string') throw new CliError(`unexpected answer from ${url}${PATH}: ${JSON.stringify(answer.body)}`);
  return `${hold.userId}: held ${hold.until ? `until ${hold.until}` : 'until lifted'} (${hold.reason}${hold.by ? `, by ${hold.by}` : ''}); no job deletes this account or anything it owns`;
}

/** Lifts a hold and returns the line to print; an account without an active hold is an error (exit 2). */
export async function removeHold(url: string, secret: Secret, userId: string): Promise<string> {
  const path = `${PATH}/${encodeURIComponent(userId)}`;
  const answer = await callWorker(url, path, secret, 'DELETE');
  if (answer.status !== 200 || answer.body.lifted !== true) throw apiError(`${url}${path}`, answer);
  return `${userId}: hold lifted; if the account is past retention, the account job's next run deletes it (with account events on, once its deletion notice has been out DELETION_NOTICE_DAYS)`;
}

/** Lists the holds (active first, then ended) as a table. */
export async function listHoldsTable(url: string, secret: Secret, now: Date): Promise<string> {
  const answer = await callWorker(url, PATH, secret, 'GET');
  if (answer.status !== 200 || !Array.isArray(answer.body.holds)) throw apiError(`${url}${PATH}`, answer);
  return renderHolds(answer.body.holds as HoldRow[], now);
}

export function renderHolds(holds: HoldRow[], now: Date): string {
  if (holds.length === 0) return 'no holds';
  const active = (h: HoldRow) => h.until === null || Date.parse(h.until) > now.getTime();
  const rows = [...holds.filter(active), ...holds.filter((h) => !active(h))].map((h) => [
    h.userId,
    active(h) ? 'active' : 'ended',
    h.since,
    h.until ?? '-',
    h.by ?? '-',
    h.reason,
  ]);
  return renderTable(['user', 'state', 'since', 'until', 'by', 'reason'], rows);
}
