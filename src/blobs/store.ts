/**
 * Where the files live: one interface for every store the purge job deletes from, so the outbox
 * (claim, bounded batches, backoff, parking, the alarm, requeue) is the same for each. A store is
 * named in the outbox rows (`blob_deletions.store`, `blob_sweeps.store`), so each file is deleted
 * from the store it was written to, whatever BLOB_STORE says today.
 */

/** The stores a file can live in, as the outbox rows and BLOB_STORE name them. */
export const BLOB_STORES = ['vercel-blob', 'r2'] as const;
export type BlobStoreName = (typeof BLOB_STORES)[number];
/** Each store as messages name it. */
export const STORE_NAMES: Readonly<Record<BlobStoreName, string>> = { 'vercel-blob': 'Vercel Blob', r2: 'R2' };

/** One page of a prefix listing. */
export interface BlobPage {
  pathnames: string[];
  /** Where the next page starts; undefined when this was the last. */
  cursor: string | undefined;
}

export interface BlobStore {
  readonly name: BlobStoreName;
  /**
   * Deletes every pathname (at most 1000: both stores' bound), in one API call. A pathname already gone counts as deleted. Throws
   * {@link BlobStoreError} (or a network error) when the store did not confirm the deletion.
   */
  delete(pathnames: string[]): Promise<void>;
  /** One page (at most 1000) of the files whose pathname starts with `prefix`, in one API call. */
  list(prefix: string, cursor: string | undefined): Promise<BlobPage>;
}

/** The stores this invocation can reach; one missing is reported by name, with the setting to fix. */
export interface BlobStores {
  /** Where new files are recorded (BLOB_STORE). */
  readonly current: BlobStoreName;
  get(name: BlobStoreName): BlobStore;
}

/**
 * A store's answer that is not a success, by its structure: the API's error code (Vercel Blob's
 * `{error:{code}}`), the HTTP status and the `retry-after` seconds when the service gave them.
 * `transient` says whether the same call may succeed later (the outbox's backoff tries it again)
 * or not until an operator fixes something (the row is parked at once).
 */
export class BlobStoreError extends Error {
  override name = 'BlobStoreError';
  readonly store: BlobStoreName;
  readonly code: string;
  readonly status: number | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly transient: boolean;
  constructor(opts: {
    store: BlobStoreName;
    code: string;
    message: string;
    status?: number;
    retryAfterSeconds?: number;
    transient: boolean;
  }) {
    super(`${opts.store}: ${opts.code}${opts.status ? ` (HTTP ${opts.status})` : ''}: ${opts.message}`);
    this.store = opts.store;
    this.code = opts.code;
    this.status = opts.status;
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.transient = opts.transient;
  }
}

/** A store the outbox names but this invocation has no settings for: permanent until configured. */
export function unconfigured(store: BlobStoreName, fix: string): BlobStoreError {
  return new BlobStoreError({ store, code: 'store_not_configured', message: fix, transient: false });
}

/** The stores from what this invocation has: each built lazily, once. */
export function blobStores(current: BlobStoreName, make: Record<BlobStoreName, () => BlobStore>): BlobStores {
  const built = new Map<BlobStoreName, BlobStore>();
  return {
    current,
    get(name) {
      let store = built.get(name);
      if (!store) {
        store = make[name]();
        built.set(name, store);
      }
      return store;
    },
  };
}
