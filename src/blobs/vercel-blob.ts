/**
 * Vercel Blob through its HTTP API, with `fetch`: the two calls the purge job makes, `del`
 * (`POST <api>/delete`, body `{ urls }`) and `list` (`GET <api>?prefix=&cursor=&limit=`), with the
 * headers `@vercel/blob` 2.8 sends (packages/blob/src/api.ts, `requestApi`): `authorization:
 * Bearer <BLOB_READ_WRITE_TOKEN>`, `x-api-version: 12`, `x-vercel-blob-store-id`,
 * `x-api-blob-request-id` and `x-api-blob-request-attempt`.
 *
 * Not `@vercel/blob` itself, although it runs in workerd (in the vitest workerd pool its `put`,
 * `list` and `del` work against the local API): its `requestApi` retries every call up to
 * VERCEL_BLOB_RETRIES times (10 unless that environment variable says otherwise) with
 * exponential sleeps, inside one `del` or `list`. Those attempts are subrequests the run's budget
 * (RUN_SUBREQUEST_BUDGET) cannot count, and the sleeps spend the run's wall time: in the same pool
 * one `list` against an unreachable API had not returned after 30 s. It also takes the API URL
 * from `process.env` only, not from the settings the Worker checks. Here each call is one
 * request, counted by the caller, and the outbox's attempts and backoff are the retries.
 *
 * Errors are read as `getBlobError` (api.ts) reads them: the body's `error.code`, `unknown_error`
 * when the body is not that JSON, and `retry-after` (seconds) on `rate_limited`.
 */
import { type BlobPage, type BlobStore, BlobStoreError } from './store';

/** The API the library calls unless VERCEL_BLOB_API_URL says otherwise (packages/blob/src/helpers.ts). */
export const VERCEL_BLOB_API = 'https://vercel.com/api/blob';
/** The API version `@vercel/blob` 2.8 sends (`BLOB_API_VERSION`, packages/blob/src/api.ts). */
export const VERCEL_BLOB_API_VERSION = '12';
/** `list` answers at most this many blobs a page (its `limit`, default and maximum). */
const LIST_MAX = 1000;
const TIMEOUT_MS = 10_000;

/**
 * Codes after which the same call may succeed later: those `requestApi` itself retries
 * (`unknown_error`, `service_unavailable`, `internal_server_error`) and `rate_limited`, which it
 * turns into `BlobServiceRateLimited` with the `retry-after` seconds.
 */
const TRANSIENT_CODES = new Set(['unknown_error', 'service_unavailable', 'internal_server_error', 'rate_limited']);

/** The store id a read-write token names: `vercel_blob_rw_<storeId>_<secret>` (parseStoreIdFromReadWriteToken). */
export function storeIdOf(token: string): string {
  return token.split('_')[3] ?? '';
}

export function vercelBlobStore(opts: { token: string; apiUrl: string; fetch?: typeof fetch }): BlobStore {
  const send = opts.fetch ?? fetch;
  const storeId = storeIdOf(opts.token);
  const base = opts.apiUrl.replace(/\/+$/, '');

  async function call(path: string, init: RequestInit): Promise<unknown> {
    const res = await send(`${base}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${opts.token}`,
        'x-api-version': VERCEL_BLOB_API_VERSION,
        'x-vercel-blob-store-id': storeId,
        'x-api-blob-request-id': `${storeId}:${Date.now()}:${Math.random().toString(16).slice(2)}`,
        'x-api-blob-request-attempt': '0',
        ...init.headers,
      },
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (res.ok) return res.json();
    throw await apiError(res);
  }

  return {
    name: 'vercel-blob',
    async delete(pathnames) {
      try {
        await call('/delete', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ urls: pathnames }),
        });
      } catch (err) {
        // A file already gone is what the delete was for.
        if (err instanceof BlobStoreError && err.code === 'not_found') return;
        throw err;
      }
    },
    async list(prefix, cursor): Promise<BlobPage> {
      const params = new URLSearchParams({ limit: String(LIST_MAX), prefix });
      if (cursor) params.set('cursor', cursor);
      const body = (await call(`?${params}`, { method: 'GET' })) as {
        blobs?: Array<{ pathname?: unknown }>;
        cursor?: unknown;
        hasMore?: unknown;
      };
      const pathnames = (body.blobs ?? []).map((b) => b.pathname).filter((p): p is string => typeof p === 'string');
      const next = body.hasMore === true && typeof body.cursor === 'string' ? body.cursor : undefined;
      return { pathnames, cursor: next };
    },
  };
}

/** The answer of a failed call as a typed error (`getBlobError`'s reading, plus the status). */
async function apiError(res: Response): Promise<BlobStoreError> {
  let code = 'unknown_error';
  let message = `HTTP ${res.status}`;
  try {
    const data = (await res.json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof data.error?.code === 'string') code = data.error.code;
    if (typeof data.error?.message === 'string') message = data.error.message;
  } catch {
    // Not JSON (a gateway's page): unknown_error, as the library reads it.
  }
  const retryAfter = Number.parseInt(res.headers.get('retry-after') ?? '', 10);
  // An unknown code decides by status: a 5xx or 429 may pass, a 4xx (auth, a bad request) will not.
  const transient = code === 'unknown_error' ? res.status >= 500 || res.status === 429 || res.status === 408 : TRANSIENT_CODES.has(code);
  return new BlobStoreError({
    store: 'vercel-blob',
    code,
    message,
    status: res.status,
    ...(Number.isFinite(retryAfter) && retryAfter >= 0 ? { retryAfterSeconds: retryAfter } : {}),
    transient,
  });
}
