/**
 * Account lifecycle events (Standard Webhooks): what is shared by the account job, which records
 * `account.erased` in its delete statement, and the delivery job, which records the notices
 * and delivers both. Events carry ids and times only, never an email address or a name.
 */
import { type SQL, sql } from 'drizzle-orm';
import { Webhook } from 'standardwebhooks';
import type { AccountEventsTarget } from '../config/values';
import type { AccountEventType } from '../db/schema';
import { nextRunAt } from '../run/schedule';
import { DAY_MS } from '../time';

/** A fresh `webhook-id`, made by Postgres as the row is written: `msg_` and 32 hex digits. */
export const EVENT_ID = sql`'msg_' || replace(gen_random_uuid()::text, '-', '')`;

/** A timestamptz expression as an ISO 8601 UTC string with milliseconds, as JavaScript writes it. */
export function iso(expr: SQL): SQL {
  return sql`to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/**
 * The account job's runs at most `noticeDays` after `now`, in order: a deactivated user is
 * deleted by the first of them after its `deleteAfter` (deactivated_at + retention), since that
 * run deletes users deactivated before its time minus the retention.
 */
export function runsWithin(cron: string, now: Date, noticeDays: number): Date[] {
  const end = now.getTime() + noticeDays * DAY_MS;
  const runs: Date[] = [];
  for (let at = nextRunAt(cron, now); at && at.getTime() <= end; at = nextRunAt(cron, at)) runs.push(at);
  return runs;
}

/** One event as the receiver gets it. */
export interface AccountEvent {
  id: string;
  type: AccountEventType;
  /** When the event happened (it was recorded): the same on every attempt. */
  timestamp: string;
  data: Record<string, unknown>;
}

/** The outcome of one delivery attempt. */
export type Delivery = { id: string; ok: true } | { id: string; ok: false; error: string };

/** A receiver that does not answer within this is a failed attempt (retried later). */
const DELIVERY_TIMEOUT_MS = 10_000;

/**
 * POSTs one event, signed: headers webhook-id, webhook-timestamp, webhook-signature; body
 * `{ type, timestamp, data }`. Any 2xx is delivered; anything else, or no answer, is a failure.
 */
export async function deliver(target: AccountEventsTarget, event: AccountEvent, sentAt: Date): Promise<Delivery> {
  const body = JSON.stringify({ type: event.type, timestamp: event.timestamp, data: event.data });
  const signature = new Webhook(target.secret).sign(event.id, sentAt, body);
  try {
    const res = await fetch(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': event.id,
        'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
      signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
    });
    // Read (and drop) the body so the connection is released.
    await res.arrayBuffer().catch(() => undefined);
    return res.ok ? { id: event.id, ok: true } : { id: event.id, ok: false, error: `HTTP ${res.status}` };
  } catch (err) {
    return { id: event.id, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}
