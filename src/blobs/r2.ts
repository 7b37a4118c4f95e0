/**
 * R2 through the Worker's binding: `delete` takes up to 1000 keys a call and succeeds for a key
 * already gone; `list` answers up to 1000 keys a page. Its failures are thrown as the binding
 * throws them (the outbox retries them with backoff).
 */
import type { BlobStore } from './store';

/** R2's limit on keys per delete call, and per list page. */
export const R2_MAX_KEYS = 1000;

export function r2Store(bucket: Pick<R2Bucket, 'delete' | 'list'>): BlobStore {
  return {
    name: 'r2',
    delete: (keys) => bucket.delete(keys),
    async list(prefix, cursor) {
      const page = await bucket.list({ prefix, limit: R2_MAX_KEYS, ...(cursor ? { cursor } : {}) });
      return { pathnames: page.objects.map((o) => o.key), cursor: page.truncated ? page.cursor : undefined };
    },
  };
}
