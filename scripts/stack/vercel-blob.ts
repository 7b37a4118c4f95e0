/**
 * A local stand-in for the Vercel Blob API, in memory, so the Worker, `npm run dev` and the tests
 * use a Blob store as they would Vercel's: `@vercel/blob` 2.8 talks to it when VERCEL_BLOB_API_URL
 * names it. It speaks the API as the library sends and reads it (vercel/storage, packages/blob/src):
 * - `PUT /?pathname=<p>` (put.ts, `createPutMethod`): the body is the file; `x-vercel-blob-access`
 *   (`public` | `private`), `x-add-random-suffix: 1` (a `-<21 chars>` suffix before the extension),
 *   `x-allow-overwrite: 1`, `x-content-type`, `x-cache-control-max-age`. An existing pathname
 *   without overwrite answers 400 `bad_request`. Answers `{url, downloadUrl, pathname, contentType,
 *   contentDisposition, etag}`.
 * - `GET /?url=<url or pathname>` (head.ts, `head`): the blob's metadata, or 404 `not_found`.
 * - `GET /?prefix=&cursor=&limit=&mode=` (list.ts, `list`): `{blobs, cursor, hasMore}` (and
 *   `folders` with `mode=folded`), by pathname order, at most `limit` (1000, the default and most).
 * - `POST /delete` with `{urls}` (del.ts, `del`): deletes each url or pathname; one that does not
 *   exist is no error. Answers `{}` (the library reads the body as JSON and drops it).
 * - Every call needs `authorization: Bearer vercel_blob_rw_<storeId>_<secret>` of a token added
 *   here (else 403 `forbidden`); errors are `{error: {code, message}}` as api.ts `getBlobError`
 *   reads them, `rate_limited` with `retry-after` seconds.
 * Left out: `get` of a private blob, which the library sends to the store's own host
 * (`https://<storeId>.private.blob.vercel-storage.com/<pathname>`, get.ts `get` via helpers.ts
 * `constructBlobUrl`), not to the API URL, so no API URL can route it here; and multipart uploads,
 * copy and presigned URLs, which the app's files and the Worker do not use.
 *
 * Standalone: `node scripts/stack/vercel-blob.ts --port 4446 --token vercel_blob_rw_local_secret`
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * Faults at a known request: `http500` answers 500 `internal_server_error`, `rate-limited` 429
 * `rate_limited` with `retry-after: 300`, `suspended` 403 `store_suspended`, `reset` destroys the
 * socket before doing anything, `done-then-drop` does the call (a delete deletes) and then destroys
 * the socket instead of answering: done, reply lost.
 */
export const VERCEL_BLOB_FAULTS = ['none', 'http500', 'rate-limited', 'suspended', 'reset', 'done-then-drop'] as const;
export type VercelBlobFault = (typeof VERCEL_BLOB_FAULTS)[number];

export interface StoredBlob {
  pathname: string;
  size: number;
  uploadedAt: string;
  etag: string;
  contentType: string;
  access: 'public' | 'private';
  body: Buffer;
}

export interface VercelBlobServer {
  /** The API base URL, for VERCEL_BLOB_API_URL. */
  url: string;
  port: number;
  /** A fresh read-write token for a new, empty store. */
  newStore(): string;
  /** Accepts `token` (`vercel_blob_rw_<storeId>_<secret>`) for its store. */
  addToken(token: string): void;
  /** The pathnames of `token`'s store, in order (for tests on the Node side). */
  pathnames(token: string): string[];
  /** Fault from the request after the next `afterRequests` (0: the next), for `count` requests (unset: until changed). */
  setFault(fault: VercelBlobFault, opts?: { afterRequests?: number; count?: number }): void;
  /** Requests received so far, faulted ones included. */
  readonly requests: number;
  close(): Promise<void>;
}

class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const LIST_MAX = 1000;
const SUFFIX_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export async function startVercelBlob(opts: { port?: number } = {}): Promise<VercelBlobServer> {
  const stores = new Map<string, Map<string, StoredBlob>>();
  const tokens = new Map<string, string>();
  let requests = 0;
  let fault: VercelBlobFault = 'none';
  let scheduled: { fault: VercelBlobFault; after: number; count: number | undefined } | undefined;
  let faultsLeft: number | undefined;

  function storeOf(req: IncomingMessage): [string, Map<string, StoredBlob>] {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const storeId = token === undefined ? undefined : tokens.get(token);
    if (storeId === undefined) throw new ApiError(403, 'forbidden', 'Access denied, please provide a valid token for this resource.');
    let store = stores.get(storeId);
    if (!store) stores.set(storeId, (store = new Map()));
    return [storeId, store];
  }

  const blobUrl = (storeId: string, b: StoredBlob) => `https://${storeId.toLowerCase()}.${b.access}.blob.vercel-storage.com/${b.pathname}`;
  const listed = (storeId: string, b: StoredBlob) => ({
    url: blobUrl(storeId, b),
    downloadUrl: `${blobUrl(storeId, b)}?download=1`,
    pathname: b.pathname,
    size: b.size,
    uploadedAt: b.uploadedAt,
    etag: b.etag,
  });
  /** A url of this store or a pathname, as del and head take them. */
  const pathnameOf = (urlOrPathname: string) =>
    /^https?:\/\//.test(urlOrPathname) ? decodeURIComponent(new URL(urlOrPathname).pathname.slice(1)) : urlOrPathname;

  async function handle(req: IncomingMessage, body: Buffer): Promise<[number, unknown]> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const [storeId, store] = storeOf(req);
    if (req.method === 'PUT' && url.pathname === '/') {
      const requested = url.searchParams.get('pathname');
      if (!requested) throw new ApiError(400, 'bad_request', 'pathname is required');
      const access = req.headers['x-vercel-blob-access'];
      if (access !== 'public' && access !== 'private') throw new ApiError(400, 'bad_request', 'access must be "public" or "private"');
      const pathname = req.headers['x-add-random-suffix'] === '1' ? withSuffix(requested) : requested;
      if (store.has(pathname) && req.headers['x-allow-overwrite'] !== '1') {
        throw new ApiError(400, 'bad_request', 'This blob already exists, use `allowOverwrite: true` if you want to overwrite it.');
      }
      const contentType = String(req.headers['x-content-type'] ?? 'application/octet-stream');
      const blob: StoredBlob = {
        pathname,
        size: body.length,
        uploadedAt: new Date().toISOString(),
        etag: `"${randomBytes(8).toString('hex')}"`,
        contentType,
        access,
        body,
      };
      store.set(pathname, blob);
      return [200, { ...listed(storeId, blob), contentType, contentDisposition: `attachment; filename="${pathname.split('/').pop()}"` }];
    }
    if (req.method === 'GET' && url.pathname === '/' && url.searchParams.has('url')) {
      const blob = store.get(pathnameOf(url.searchParams.get('url') ?? ''));
      if (!blob) throw new ApiError(404, 'not_found', 'The requested blob does not exist');
      return [
        200,
        { ...listed(storeId, blob), contentType: blob.contentType, contentDisposition: '', cacheControl: 'public, max-age=2592000' },
      ];
    }
    if (req.method === 'GET' && url.pathname === '/') {
      const limit = Number(url.searchParams.get('limit') ?? LIST_MAX);
      if (!Number.isInteger(limit) || limit < 1 || limit > LIST_MAX)
        throw new ApiError(400, 'bad_request', `limit must be from 1 to ${LIST_MAX}`);
      const prefix = url.searchParams.get('prefix') ?? '';
      const cursor = url.searchParams.get('cursor');
      const after = cursor ? Buffer.from(cursor, 'base64url').toString('utf8') : undefined;
      const folded = url.searchParams.get('mode') === 'folded';
      const names = [...store.keys()].filter((p) => p.startsWith(prefix) && (after === undefined || p > after)).sort();
      const page = names.slice(0, limit);
      const hasMore = names.length > limit;
      const blobs = page.filter((p) => !folded || !p.slice(prefix.length).includes('/')).map((p) => listed(storeId, store.get(p)!));
      const folders = folded
        ? [...new Set(page.filter((p) => p.slice(prefix.length).includes('/')).map((p) => p.slice(0, p.indexOf('/', prefix.length) + 1)))]
        : undefined;
      return [
        200,
        {
          blobs,
          ...(folders ? { folders } : {}),
          hasMore,
          ...(hasMore ? { cursor: Buffer.from(page.at(-1)!, 'utf8').toString('base64url') } : {}),
        },
      ];
    }
    if (req.method === 'POST' && url.pathname === '/delete') {
      let urls: unknown;
      try {
        urls = (JSON.parse(body.toString('utf8')) as { urls?: unknown }).urls;
      } catch {
        throw new ApiError(400, 'bad_request', 'body must be JSON');
      }
      if (!Array.isArray(urls) || urls.some((u) => typeof u !== 'string'))
        throw new ApiError(400, 'bad_request', 'urls must be an array of strings');
      for (const u of urls as string[]) store.delete(pathnameOf(u));
      return [200, {}];
    }
    throw new ApiError(404, 'not_found', `no route ${req.method} ${url.pathname}`);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      if (scheduled && scheduled.after-- <= 0) [fault, faultsLeft, scheduled] = [scheduled.fault, scheduled.count, undefined];
      if (fault !== 'none' && faultsLeft !== undefined && faultsLeft-- <= 0) [fault, faultsLeft] = ['none', undefined];
      const now = fault;
      if (now === 'reset') return void req.socket.destroy();
      if (now === 'http500') return send(res, 500, { error: { code: 'internal_server_error', message: 'injected fault: http500' } });
      if (now === 'rate-limited') {
        return send(res, 429, { error: { code: 'rate_limited', message: 'Too many requests (injected)' } }, { 'retry-after': '300' });
      }
      if (now === 'suspended')
        return send(res, 403, { error: { code: 'store_suspended', message: 'This store has been suspended (injected)' } });
      handle(req, Buffer.concat(chunks)).then(
        ([status, json]) => (now === 'done-then-drop' ? req.socket.destroy() : send(res, status, json)),
        (err: unknown) => {
          if (now === 'done-then-drop') return void req.socket.destroy();
          if (err instanceof ApiError) return send(res, err.status, { error: { code: err.code, message: err.message } });
          send(res, 500, { error: { code: 'internal_server_error', message: String(err) } });
        },
      );
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;

  const addToken = (token: string) => {
    const storeId = /^vercel_blob_rw_([A-Za-z0-9]+)_[A-Za-z0-9]+$/.exec(token)?.[1];
    if (!storeId) throw new Error(`not a read-write token: ${token}`);
    tokens.set(token, storeId);
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    addToken,
    newStore() {
      const token = `vercel_blob_rw_${randomBytes(8).toString('hex')}_${randomBytes(12).toString('hex')}`;
      addToken(token);
      return token;
    },
    pathnames: (token) => [...(stores.get(tokens.get(token) ?? '')?.keys() ?? [])].sort(),
    setFault(next, schedule) {
      if (schedule) {
        scheduled = { fault: next, after: schedule.afterRequests ?? 0, count: schedule.count };
      } else {
        scheduled = faultsLeft = undefined;
        fault = next;
      }
    },
    get requests() {
      return requests;
    },
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function send(res: ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}) {
  const body = JSON.stringify(json);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** `name.ext` → `name-<21 random letters and digits>.ext`, as the API's addRandomSuffix. */
function withSuffix(pathname: string): string {
  const bytes = randomBytes(21);
  const suffix = [...bytes].map((b) => SUFFIX_CHARS[b % SUFFIX_CHARS.length]).join('');
  const slash = pathname.lastIndexOf('/');
  const dot = pathname.lastIndexOf('.');
  return dot > slash + 1 ? `${pathname.slice(0, dot)}-${suffix}${pathname.slice(dot)}` : `${pathname}-${suffix}`;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, token: { type: 'string' } } });
  const server = await startVercelBlob({ port: Number(values.port) });
  const token = values.token ?? server.newStore();
  if (values.token) server.addToken(token);
  console.log(`Vercel Blob API on ${server.url}  BLOB_READ_WRITE_TOKEN=${token}`);
}
