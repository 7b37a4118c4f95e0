/**
 * A local stand-in for the part of Stripe's API the Worker (and a local app) uses: customers and
 * their subscriptions, in memory, for one account. It answers as Stripe's API reference and
 * stripe-node (src/RequestSender.ts, src/Error.ts) describe it:
 * - Auth: `Authorization: Bearer <secret key>`, or basic auth with the key as the user name and
 *   no password (curl's `-u sk_test_…:`). Missing: 401 "You did not provide an API key"; a key the
 *   account does not have: 401 "Invalid API Key provided", the key masked.
 * - Errors are Stripe's error object, `{ "error": { "type", "code"?, "message", "param"?, "doc_url"? } }`;
 *   every reply carries a `Request-Id: req_…` header.
 * - `POST /v1/customers` (form-encoded `email`, `name`, `metadata[k]`) creates a customer;
 *   `GET /v1/customers/{id}` retrieves it (a deleted one as `{ id, object, deleted: true }`);
 *   `DELETE /v1/customers/{id}` deletes it and cancels its subscriptions, answering
 *   `{ id, object: "customer", deleted: true }`; an unknown or already deleted id is 404
 *   `resource_missing`, param `id`.
 * - `POST /v1/subscriptions` (`customer`) creates an active subscription; `GET /v1/subscriptions/{id}`.
 * - An Idempotency-Key is accepted and ignored on DELETE, as Stripe's idempotency docs say keys
 *   have no effect on GET and DELETE.
 * Faults at a known request (see {@link StripeFault}). Standalone: `node scripts/stack/stripe.ts --port 12111`.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * `http500`: 500 `api_error`, nothing done. `rate-limit`: 429 `rate_limit`. `lock-timeout`: 429
 * `lock_timeout` (another request holds the object). `reset`: the connection is dropped before
 * the request is handled. `done-then-drop`: the request is handled to its end (a customer is
 * deleted) and then the connection is dropped, so its reply is lost.
 */
export const STRIPE_FAULTS = ['none', 'http500', 'rate-limit', 'lock-timeout', 'reset', 'done-then-drop'] as const;
export type StripeFault = (typeof STRIPE_FAULTS)[number];

export interface StripeFaultSchedule {
  /** The fault starts after this many more requests were served (0: the next request). */
  afterRequests?: number;
  /** It lasts this many requests, then the endpoint answers normally again (default: until changed). */
  count?: number;
}

export interface StripeCustomer {
  id: string;
  object: 'customer';
  created: number;
  email: string | null;
  name: string | null;
  livemode: false;
  metadata: Record<string, string>;
}

export interface StripeServer {
  url: string;
  /** A secret key the account accepts (`sk_test_…`). */
  readonly key: string;
  setFault(fault: StripeFault, schedule?: StripeFaultSchedule): void;
  /** Requests received so far (tests compare it with the Worker's subrequest count). */
  readonly requests: number;
  /** Every request as received: method, path, and the Idempotency-Key if sent. */
  readonly log: ReadonlyArray<{ method: string; path: string; idempotencyKey: string | null }>;
  /** Live customers' ids, and the ids deleted so far, in order. */
  customers(): { live: string[]; deleted: string[] };
  close(): Promise<void>;
}

const DOCS = 'https://stripe.com/docs/error-codes';

export async function startStripe(opts: { port?: number; key?: string } = {}): Promise<StripeServer> {
  const key = opts.key ?? `sk_test_${randomBytes(12).toString('hex')}`;
  const customers = new Map<string, StripeCustomer>();
  const deleted: string[] = [];
  const subscriptions = new Map<string, { id: string; object: 'subscription'; customer: string; status: 'active' | 'canceled' }>();
  const log: Array<{ method: string; path: string; idempotencyKey: string | null }> = [];
  let requests = 0;
  let fault: StripeFault = 'none';
  let scheduled: { fault: StripeFault; after: number; count: number | undefined } | undefined;

  /** The fault for the request being received now (advances the schedule). */
  function faultNow(): StripeFault {
    if (!scheduled) return fault;
    if (scheduled.after > 0) {
      scheduled.after--;
      return 'none';
    }
    const f = scheduled.fault;
    if (scheduled.count !== undefined && --scheduled.count <= 0) scheduled = undefined;
    return f;
  }

  async function handle(req: IncomingMessage, res: ServerResponse, now: StripeFault): Promise<void> {
    const requestId = `req_${randomBytes(7).toString('hex')}`;
    const send = (status: number, body: unknown) => {
      const json = JSON.stringify(body);
      if (now === 'done-then-drop') {
        req.socket.destroy();
        return;
      }
      res.writeHead(status, { 'content-type': 'application/json', 'request-id': requestId }).end(json);
    };
    const fail = (status: number, error: { type: string; code?: string; message: string; param?: string }) =>
      send(status, { error: { ...error, ...(error.code ? { doc_url: `${DOCS}/${error.code.replaceAll('_', '-')}` } : {}) } });

    const url = new URL(req.url ?? '/', 'http://x');
    const body = new URLSearchParams(await readBody(req));
    log.push({ method: req.method ?? '', path: url.pathname, idempotencyKey: header(req, 'idempotency-key') });

    const given = apiKey(req);
    if (given === undefined) {
      return fail(401, {
        type: 'invalid_request_error',
        message:
          "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
      });
    }
    if (given !== key) {
      return fail(401, { type: 'invalid_request_error', message: `Invalid API Key provided: ${mask(given)}` });
    }
    if (now === 'http500') return fail(500, { type: 'api_error', message: 'An unknown error occurred' });
    if (now === 'rate-limit') {
      return fail(429, {
        type: 'invalid_request_error',
        code: 'rate_limit',
        message: 'Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.',
      });
    }
    if (now === 'lock-timeout') {
      return fail(429, {
        type: 'invalid_request_error',
        code: 'lock_timeout',
        message:
          'This object cannot be accessed right now because another API request or Stripe process is currently accessing it. If you see this error intermittently, retry the request. If you see this error frequently and are making multiple concurrent requests to a single object, make your requests serially or at a lower rate.',
      });
    }

    const missing = (what: string, id: string) =>
      fail(404, { type: 'invalid_request_error', code: 'resource_missing', param: 'id', message: `No such ${what}: '${id}'` });
    const route = `${req.method} ${url.pathname.replace(/^(\/v1\/\w+)\/[^/]+$/, '$1/{id}')}`;
    const id = decodeURIComponent(url.pathname.split('/')[3] ?? '');
    switch (route) {
      case 'POST /v1/customers': {
        const customer: StripeCustomer = {
          id: `cus_${randomBytes(7).toString('hex')}`,
          object: 'customer',
          created: Math.floor(Date.now() / 1000),
          email: body.get('email'),
          name: body.get('name'),
          livemode: false,
          metadata: Object.fromEntries([...body].flatMap(([k, v]) => (k.startsWith('metadata[') ? [[k.slice(9, -1), v]] : []))),
        };
        customers.set(customer.id, customer);
        return send(200, customer);
      }
      case 'GET /v1/customers/{id}': {
        const customer = customers.get(id);
        if (customer) return send(200, customer);
        if (deleted.includes(id)) return send(200, { id, object: 'customer', deleted: true });
        return missing('customer', id);
      }
      case 'DELETE /v1/customers/{id}': {
        if (!customers.has(id)) return missing('customer', id);
        customers.delete(id);
        deleted.push(id);
        for (const s of subscriptions.values()) if (s.customer === id) s.status = 'canceled';
        return send(200, { id, object: 'customer', deleted: true });
      }
      case 'POST /v1/subscriptions': {
        const customer = body.get('customer') ?? '';
        if (!customers.has(customer)) {
          return fail(400, {
            type: 'invalid_request_error',
            code: 'resource_missing',
            param: 'customer',
            message: `No such customer: '${customer}'`,
          });
        }
        const sub = { id: `sub_${randomBytes(7).toString('hex')}`, object: 'subscription' as const, customer, status: 'active' as const };
        subscriptions.set(sub.id, sub);
        return send(200, sub);
      }
      case 'GET /v1/subscriptions/{id}': {
        const sub = subscriptions.get(id);
        return sub ? send(200, sub) : missing('subscription', id);
      }
      default:
        return fail(404, {
          type: 'invalid_request_error',
          message: `Unrecognized request URL (${req.method}: ${url.pathname}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
        });
    }
  }

  const server = createServer((req, res) => {
    requests++;
    const now = faultNow();
    if (now === 'reset') {
      req.socket.destroy();
      return;
    }
    handle(req, res, now).catch((err: Error) => {
      if (!res.headersSent)
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: { type: 'api_error', message: err.message } }));
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    key,
    setFault(next, schedule) {
      if (schedule?.afterRequests !== undefined || schedule?.count !== undefined) {
        scheduled = { fault: next, after: schedule.afterRequests ?? 0, count: schedule.count };
        fault = 'none';
      } else {
        scheduled = undefined;
        fault = next;
      }
    },
    get requests() {
      return requests;
    },
    log,
    customers: () => ({ live: [...customers.keys()], deleted: [...deleted] }),
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The secret key of a request: `Bearer <key>`, or basic auth `<key>:` (the password ignored, as Stripe does). */
function apiKey(req: IncomingMessage): string | undefined {
  const auth = header(req, 'authorization');
  if (!auth) return undefined;
  const [scheme, value = ''] = auth.split(' ', 2);
  if (scheme?.toLowerCase() === 'bearer') return value || undefined;
  if (scheme?.toLowerCase() === 'basic') return Buffer.from(value, 'base64').toString('utf8').split(':')[0] || undefined;
  return undefined;
}

/** As Stripe shows a refused key: its prefix and last four characters. */
function mask(key: string): string {
  const prefix = /^[a-z]{2}_(live|test)_/.exec(key)?.[0] ?? '';
  return `${prefix}${'*'.repeat(Math.max(0, key.length - prefix.length - 4))}${key.slice(-4)}`;
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '12111' }, key: { type: 'string' } } });
  const server = await startStripe({ port: Number(values.port), ...(values.key ? { key: values.key } : {}) });
  console.log(`Stripe endpoint on ${server.url}, key ${server.key}`);
}
