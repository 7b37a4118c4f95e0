/**
 * The one Stripe call the Worker makes: `DELETE /v1/customers/{id}`, which deletes the customer
 * and cancels its active subscriptions at once (Stripe's API reference, "Delete a customer").
 * Plain `fetch` rather than the `stripe` package: this is one route, and the package's retries,
 * telemetry and resource tree would grow the bundle for none of it; the outbox's attempts and
 * backoff are the retry here (one attempt per call, like R2's).
 *
 * No Idempotency-Key: Stripe's idempotency docs say keys have no effect on GET and DELETE, which
 * are idempotent by definition, and stripe-node (src/RequestSender.ts, `_defaultIdempotencyKey`)
 * sends one on v1 POSTs only. A DELETE sent again after its reply was lost finds the customer gone
 * (404 `resource_missing`), which counts as done.
 */
import type { StripeTarget } from '../config/values';

/** A call Stripe does not answer within this is a failed attempt (retried later by the outbox). */
const REQUEST_TIMEOUT_MS = 10_000;

/** The outcome of one delete: gone now, already gone, or failed (the error as the outbox records it). */
export type CustomerDeletion = { status: 'deleted' } | { status: 'missing' } | { status: 'failed'; error: string };

export interface StripeClient {
  deleteCustomer(id: string): Promise<CustomerDeletion>;
}

/** Stripe's error object (docs.stripe.com/api/errors): `{ error: { type, code?, message?, param?, doc_url? } }`. */
interface StripeErrorBody {
  error?: { type?: string; code?: string; message?: string };
}

export function createStripe(target: StripeTarget): StripeClient {
  return {
    async deleteCustomer(id) {
      let res: Response;
      try {
        res = await fetch(`${target.apiUrl}/v1/customers/${encodeURIComponent(id)}`, {
          method: 'DELETE',
          headers: { Authorization: `Bearer ${target.key}`, Accept: 'application/json' },
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
      } catch (err) {
        return { status: 'failed', error: `Stripe unreachable: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}` };
      }
      const text = await res.text().catch(() => '');
      const body = parse(text);
      if (res.ok && (body as { deleted?: unknown } | undefined)?.deleted === true) return { status: 'deleted' };
      const error = (body as StripeErrorBody | undefined)?.error;
      if (res.status === 404 && error?.code === 'resource_missing') return { status: 'missing' };
      return { status: 'failed', error: describe(res, error) };
    },
  };
}

/** `Stripe 429 invalid_request_error/lock_timeout: This object cannot be accessed…` (the key never appears). */
function describe(res: Response, error: StripeErrorBody['error']): string {
  if (!error) return `Stripe ${res.status}: ${res.ok ? 'the reply is not a deleted customer' : 'no error object in the reply'}`;
  const kind = [error.type, error.code].filter(Boolean).join('/');
  return `Stripe ${res.status} ${kind}: ${error.message ?? ''}`.trim();
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
