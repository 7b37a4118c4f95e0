/**
 * Files in the env's local Vercel Blob store (scripts/stack/vercel-blob.ts), written as the app
 * writes them (`put(pathname, file, { access: "private" })`) through the Blob API's own route, and
 * read back with the Worker's client.
 */
import { vercelBlobStore } from '../../src/blobs/vercel-blob';
import type { TestEnv } from '../worker/support';

/** Uploads each pathname as a private file (PUT /?pathname=, as `@vercel/blob`'s put sends it). */
export async function putFiles(e: TestEnv, pathnames: string[]): Promise<void> {
  for (const pathname of pathnames) {
    const res = await fetch(`${e.VERCEL_BLOB_API_URL}/?${new URLSearchParams({ pathname })}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${e.BLOB_READ_WRITE_TOKEN}`, 'x-api-version': '12', 'x-vercel-blob-access': 'private' },
      body: `file ${pathname}`,
    });
    if (!res.ok) throw new Error(`put ${pathname}: HTTP ${res.status} ${await res.text()}`);
  }
}

/** Every pathname in the store under `prefix`, in order. */
export async function storedFiles(e: TestEnv, prefix = ''): Promise<string[]> {
  const store = vercelBlobStore({ token: e.BLOB_READ_WRITE_TOKEN, apiUrl: e.VERCEL_BLOB_API_URL });
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.list(prefix, cursor);
    out.push(...page.pathnames);
    cursor = page.cursor;
  } while (cursor);
  return out;
}
