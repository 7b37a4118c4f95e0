/**
 * The local Stripe endpoint (scripts/stack/stripe.ts) answers as Stripe does for what the Worker
 * sends, and the Worker's client (src/stripe/client.ts) reads those answers as stripe-node would.
 * Sources: Stripe's API reference ("Errors": the error object `type`, `code`, `message`, `param`,
 * `doc_url`; "Delete a customer": `{ id, object: "customer", deleted: true }`, subscriptions
 * canceled; "Authentication": Bearer or basic auth with the key as user name; "Idempotent requests":
 * keys have no effect on DELETE), Stripe's rate-limit docs (429, `rate_limit`, `lock_timeout`), and
 * stripe-node: src/Error.ts `generateV1Error` (by status: 429 rate limit, 400/404 invalid request,
 * 401 authentication, other API errors), src/RequestSender.ts (`request-id` header,
 * `_defaultIdempotencyKey`: v1 keys only POSTs).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStripe, type StripeServer } from '../../scripts/stack/stripe.ts';
import { createStripe } from '../../src/stripe/client.ts';

let stripe: StripeServer;
beforeAll(async () => {
  stripe = await startStripe();
});
afterAll(() => stripe.close());

const bearer = () => ({ Authorization: `Bearer ${stripe.key}` });
async function call(method: string, path: string, init: { headers?: Record<string, string>; form?: Record<string, string> } = {}) {
  const res = await fetch(`${stripe.url}${path}`, {
    method,
    headers: { ...(init.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...(init.headers ?? bearer()) },
    ...(init.form ? { body: new URLSearchParams(init.form).toString() } : {}),
  });
  return { status: res.status, requestId: res.headers.get('request-id'), body: (await res.json()) as any };
}
const newCustomer = async () => (await call('POST', '/v1/customers', { form: { email: 'a@example.com', 'metadata[userId]': 'u1' } })).body;

describe('local Stripe endpoint', () => {
  it('authenticates with Bearer or basic auth (key as user name), refuses a missing or unknown key with 401', async () => {
    const missing = await call('GET', '/v1/customers/cus_x', { headers: {} });
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('Bearer auth') });
    const wrong = await call('GET', '/v1/customers/cus_x', { headers: { Authorization: 'Bearer sk_test_0000000000001234' } });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.message).toBe('Invalid API Key provided: sk_test_************1234');
    const basic = await call('GET', '/v1/customers/cus_x', {
      headers: { Authorization: `Basic ${Buffer.from(`${stripe.key}:`).toString('base64')}` },
    });
    expect(basic.status).toBe(404); // authenticated: the customer is what is missing
    expect(basic.requestId).toMatch(/^req_/);
  });

  it('deletes a customer, cancelling its subscriptions; a second delete is 404 resource_missing', async () => {
    const customer = await newCustomer();
    expect(customer).toMatchObject({ id: expect.stringMatching(/^cus_/), object: 'customer', metadata: { userId: 'u1' } });
    const sub = (await call('POST', '/v1/subscriptions', { form: { customer: customer.id } })).body;
    expect(sub.status).toBe('active');

    expect(await call('DELETE', `/v1/customers/${customer.id}`)).toMatchObject({
      status: 200,
      body: { id: customer.id, object: 'customer', deleted: true },
    });
    expect((await call('GET', `/v1/subscriptions/${sub.id}`)).body.status).toBe('canceled');
    expect((await call('GET', `/v1/customers/${customer.id}`)).body).toEqual({ id: customer.id, object: 'customer', deleted: true });
    expect(await call('DELETE', `/v1/customers/${customer.id}`)).toMatchObject({
      status: 404,
      body: {
        error: {
          type: 'invalid_request_error',
          code: 'resource_missing',
          param: 'id',
          message: `No such customer: '${customer.id}'`,
          doc_url: 'https://stripe.com/docs/error-codes/resource-missing',
        },
      },
    });
  });

  it('answers the documented errors at a known request: 500 api_error, 429 rate_limit and lock_timeout', async () => {
    const customer = await newCustomer();
    stripe.setFault('http500', { afterRequests: 1, count: 1 });
    expect((await call('GET', `/v1/customers/${customer.id}`)).status).toBe(200); // the one before the fault
    expect(await call('DELETE', `/v1/customers/${customer.id}`)).toMatchObject({ status: 500, body: { error: { type: 'api_error' } } });
    stripe.setFault('rate-limit', { count: 1 });
    expect(await call('DELETE', `/v1/customers/${customer.id}`)).toMatchObject({
      status: 429,
      body: { error: { type: 'invalid_request_error', code: 'rate_limit' } },
    });
    stripe.setFault('lock-timeout', { count: 1 });
    expect(await call('DELETE', `/v1/customers/${customer.id}`)).toMatchObject({ status: 429, body: { error: { code: 'lock_timeout' } } });
    // None of the faulted requests deleted anything.
    expect(stripe.customers().live).toContain(customer.id);
  });

  it('drops the connection before handling a request, or after deleting (the reply lost)', async () => {
    const [a, b] = [await newCustomer(), await newCustomer()];
    stripe.setFault('reset', { count: 1 });
    await expect(call('DELETE', `/v1/customers/${a.id}`)).rejects.toThrow();
    expect(stripe.customers().live).toContain(a.id);
    stripe.setFault('done-then-drop', { count: 1 });
    await expect(call('DELETE', `/v1/customers/${b.id}`)).rejects.toThrow();
    expect(stripe.customers().deleted).toContain(b.id);
  });
});

describe("the Worker's Stripe client", () => {
  const client = () => createStripe({ key: stripe.key, apiUrl: stripe.url });

  it('deleted, then missing on a repeat; sends Bearer auth and no Idempotency-Key on DELETE', async () => {
    const customer = await newCustomer();
    const before = stripe.log.length;
    expect(await client().deleteCustomer(customer.id)).toEqual({ status: 'deleted' });
    expect(await client().deleteCustomer(customer.id)).toEqual({ status: 'missing' });
    expect(stripe.log.slice(before)).toEqual([
      { method: 'DELETE', path: `/v1/customers/${customer.id}`, idempotencyKey: null },
      { method: 'DELETE', path: `/v1/customers/${customer.id}`, idempotencyKey: null },
    ]);
  });

  it('a refused key, a 5xx, a 429 and a dropped connection are failures naming what Stripe said', async () => {
    const customer = await newCustomer();
    const refused = await createStripe({ key: 'sk_test_0000000000009999', apiUrl: stripe.url }).deleteCustomer(customer.id);
    expect(refused).toEqual({
      status: 'failed',
      error: 'Stripe 401 invalid_request_error: Invalid API Key provided: sk_test_************9999',
    });
    for (const [fault, error] of [
      ['http500', /^Stripe 500 api_error: /],
      ['rate-limit', /^Stripe 429 invalid_request_error\/rate_limit: Request rate limit exceeded/],
      ['lock-timeout', /^Stripe 429 invalid_request_error\/lock_timeout: /],
      ['reset', /^Stripe unreachable: /],
    ] as const) {
      stripe.setFault(fault, { count: 1 });
      expect(await client().deleteCustomer(customer.id)).toEqual({ status: 'failed', error: expect.stringMatching(error) });
    }
    expect(stripe.customers().live).toContain(customer.id);
  });
});
