/**
 * Fidelity of the local Vercel Blob API (scripts/stack/vercel-blob.ts): the real `@vercel/blob`
 * 2.8 client, pointed at it by VERCEL_BLOB_API_URL with BLOB_READ_WRITE_TOKEN, as the app uses it.
 * Each test names the place in the library's source (vercel/storage, packages/blob/src) whose
 * request or reading of the answer it exercises, and asserts what the client returns or throws.
 * Then the Worker's own client (src/blobs/vercel-blob.ts) against the same endpoint, faults
 * included, injected at a known request (setFault's schedule), never after a sleep.
 */
import {
  BlobAccessError,
  BlobError,
  BlobNotFoundError,
  BlobServiceRateLimited,
  BlobStoreSuspendedError,
  del,
  head,
  list,
  put,
} from '@vercel/blob';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BlobStoreError } from '../../src/blobs/store.ts';
import { storeIdOf, vercelBlobStore } from '../../src/blobs/vercel-blob.ts';
import { isTransient } from '../../src/run/transient.ts';
import { startVercelBlob, type VercelBlobServer } from '../../scripts/stack/vercel-blob.ts';

let server: VercelBlobServer;
let token: string;
beforeAll(async () => {
  server = await startVercelBlob();
});
afterAll(() => server.close());
beforeEach(() => {
  token = server.newStore();
  server.setFault('none');
  process.env.VERCEL_BLOB_API_URL = server.url;
  process.env.BLOB_READ_WRITE_TOKEN = token;
  // api.ts `getRetries`: the library's own retries, off unless a test is about them.
  process.env.VERCEL_BLOB_RETRIES = '0';
});

const file = (text: string) => new Blob([text], { type: 'text/plain' });

describe('the library against the local API', () => {
  it('put.ts createPutMethod + put-helpers.ts createPutHeaders: a private upload with a random suffix lands under its prefix', async () => {
    const blob = await put('chat-attachments/u_1/1767225600000-notes.txt', file('hello'), { access: 'private', addRandomSuffix: true });
    expect(blob.pathname).toMatch(/^chat-attachments\/u_1\/1767225600000-notes-[A-Za-z0-9]{21}\.txt$/);
    expect(new URL(blob.url).host).toBe(`${storeIdOf(token)}.private.blob.vercel-storage.com`);
    expect(server.pathnames(token)).toEqual([blob.pathname]);
  });

  it('put.ts: the same pathname again without allowOverwrite is refused (bad_request → BlobError); with it, replaced', async () => {
    await put('a/x.txt', file('1'), { access: 'private' });
    await expect(put('a/x.txt', file('2'), { access: 'private' })).rejects.toThrow(/already exists/);
    await expect(put('a/x.txt', file('2'), { access: 'private', allowOverwrite: true })).resolves.toMatchObject({ pathname: 'a/x.txt' });
  });

  it('head.ts head: metadata by pathname or url; a missing blob is api.ts getBlobError "not_found" → BlobNotFoundError', async () => {
    const blob = await put('a/h.txt', file('four'), { access: 'private', contentType: 'text/plain' });
    expect(await head('a/h.txt')).toMatchObject({ pathname: 'a/h.txt', size: 4, contentType: 'text/plain', url: blob.url });
    expect(await head(blob.url)).toMatchObject({ pathname: 'a/h.txt' });
    await expect(head('a/none.txt')).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('list.ts list: by prefix, in pages of `limit` with `cursor`/`hasMore`; u_1/ never lists u_10/', async () => {
    for (const p of ['chat-attachments/u_1/a', 'chat-attachments/u_1/b', 'chat-attachments/u_1/c', 'chat-attachments/u_10/a']) {
      await put(p, file(p), { access: 'private' });
    }
    const first = await list({ prefix: 'chat-attachments/u_1/', limit: 2 });
    expect(first.blobs.map((b) => b.pathname)).toEqual(['chat-attachments/u_1/a', 'chat-attachments/u_1/b']);
    expect(first).toMatchObject({ hasMore: true, cursor: expect.any(String) });
    const second = await list({ prefix: 'chat-attachments/u_1/', limit: 2, cursor: first.cursor! });
    expect(second.blobs.map((b) => b.pathname)).toEqual(['chat-attachments/u_1/c']);
    expect(second.hasMore).toBe(false);
    expect(second.blobs[0]).toMatchObject({
      size: 'chat-attachments/u_1/c'.length,
      uploadedAt: expect.any(Date),
      url: expect.stringContaining('/chat-attachments/u_1/c'),
    });
  });

  it('list.ts list mode "folded": files at the level, and the folders below it', async () => {
    for (const p of ['chat-attachments/u_1/a', 'chat-attachments/u_2/b', 'chat-attachments/top.txt'])
      await put(p, file(p), { access: 'private' });
    const folded = await list({ prefix: 'chat-attachments/', mode: 'folded' });
    expect(folded.folders).toEqual(['chat-attachments/u_1/', 'chat-attachments/u_2/']);
    expect(folded.blobs.map((b) => b.pathname)).toEqual(['chat-attachments/top.txt']);
  });

  it('del.ts del: POST /delete {urls} takes urls and pathnames in one call; one already gone is no error', async () => {
    const a = await put('d/a', file('a'), { access: 'private' });
    await put('d/b', file('b'), { access: 'private' });
    await del([a.url, 'd/b', 'd/never-there']);
    expect(server.pathnames(token)).toEqual([]);
  });

  it('api.ts getBlobError: a token of no store is "forbidden" → BlobAccessError', async () => {
    await expect(list({ token: 'vercel_blob_rw_nostore_secret' })).rejects.toBeInstanceOf(BlobAccessError);
  });

  it('api.ts getBlobError + createBlobServiceRateLimited: 429 "rate_limited" with retry-after → BlobServiceRateLimited(300), not retried', async () => {
    process.env.VERCEL_BLOB_RETRIES = '3';
    server.setFault('rate-limited', { count: 1 });
    const before = server.requests;
    const err = await list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlobServiceRateLimited);
    expect((err as BlobServiceRateLimited).retryAfter).toBe(300);
    expect(server.requests - before).toBe(1);
  });

  it('api.ts getBlobError: "store_suspended" → BlobStoreSuspendedError', async () => {
    server.setFault('suspended', { count: 1 });
    await expect(list()).rejects.toBeInstanceOf(BlobStoreSuspendedError);
  });

  it('api.ts requestApi: "internal_server_error" is one the library retries: a single 500 is passed', async () => {
    process.env.VERCEL_BLOB_RETRIES = '1';
    await put('r/a', file('a'), { access: 'private' });
    server.setFault('http500', { count: 1 });
    expect((await list()).blobs.map((b) => b.pathname)).toEqual(['r/a']);
  });

  it('is-network-error.ts: a dropped connection is a network error (retried by the library; thrown without retries)', async () => {
    server.setFault('reset', { count: 1 });
    const err = await list().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(err).not.toBeInstanceOf(BlobError);
  });

  it('a delete done whose reply is lost: the client sees a network error, the files are gone, and del again succeeds', async () => {
    await put('l/a', file('a'), { access: 'private' });
    server.setFault('done-then-drop', { count: 1 });
    await expect(del('l/a')).rejects.toBeInstanceOf(TypeError);
    expect(server.pathnames(token)).toEqual([]);
    await expect(del('l/a')).resolves.toBeUndefined();
  });
});

describe("the Worker's client (src/blobs/vercel-blob.ts) against the same API", () => {
  const store = () => vercelBlobStore({ token, apiUrl: server.url });

  it('lists what the library put, page by page, and deletes it in one call', async () => {
    const names = ['chat-attachments/u_1/a', 'chat-attachments/u_1/b', 'chat-attachments/u_10/a'];
    for (const p of names) await put(p, file(p), { access: 'private' });
    const page = await store().list('chat-attachments/u_1/', undefined);
    expect(page).toEqual({ pathnames: ['chat-attachments/u_1/a', 'chat-attachments/u_1/b'], cursor: undefined });
    await store().delete(page.pathnames);
    expect((await list()).blobs.map((b) => b.pathname)).toEqual(['chat-attachments/u_10/a']);
  });

  it('reads errors by structure: rate_limited is transient with its retry-after, store_suspended and forbidden are not', async () => {
    server.setFault('rate-limited', { count: 1 });
    const limited = await store()
      .delete(['x'])
      .catch((e: unknown) => e);
    expect(limited).toMatchObject({ code: 'rate_limited', status: 429, retryAfterSeconds: 300, transient: true });
    server.setFault('suspended', { count: 1 });
    expect(
      await store()
        .delete(['x'])
        .catch((e: unknown) => e),
    ).toMatchObject({ code: 'store_suspended', transient: false });
    const refused = await vercelBlobStore({ token: 'vercel_blob_rw_nostore_secret', apiUrl: server.url })
      .list('', undefined)
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BlobStoreError);
    expect(refused).toMatchObject({ code: 'forbidden', status: 403, transient: false });
    server.setFault('http500', { count: 1 });
    expect(
      await store()
        .delete(['x'])
        .catch((e: unknown) => e),
    ).toMatchObject({ code: 'internal_server_error', transient: true });
  });

  it('a dropped connection is a network failure the run machinery calls transient', async () => {
    server.setFault('reset', { count: 1 });
    const err = await store()
      .delete(['x'])
      .catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(BlobStoreError);
    expect(isTransient(err)).toBe(true);
  });
});
