/**
 * The one place where `env` becomes config and clients, shared by `fetch` and `scheduled`:
 * validated once per invocation, clients built once and passed in.
 */
import { r2Store } from './blobs/r2';
import { blobStores, unconfigured } from './blobs/store';
import { vercelBlobStore } from './blobs/vercel-blob';
import { createDb } from './db/client';
import { JOBS } from './jobs';
import type { Invocation } from './run/job';
import { createRedis } from './redis/client';
import { parseConfig } from './settings';
import { createStripe } from './stripe/client';

export type { Invocation };

/** Throws ConfigError naming the variable when a setting is missing or malformed. */
export function fromEnv(env: Env): Invocation {
  const config = parseConfig(
    env as unknown as Record<string, unknown>,
    JOBS.map((job) => job.name),
  );
  return {
    config,
    db: createDb(config.databaseUrl, config.neonHttpEndpoint),
    redis: createRedis(config.redisUrl, config.redisToken),
    blobs: blobStores(config.blobStore, {
      'vercel-blob': () => {
        if (!config.vercelBlob)
          throw unconfigured('vercel-blob', 'set BLOB_READ_WRITE_TOKEN (`wrangler secret put BLOB_READ_WRITE_TOKEN`)');
        return vercelBlobStore(config.vercelBlob);
      },
      r2: () => {
        const bucket = (env as Partial<Env>).BLOBS;
        if (!bucket) throw unconfigured('r2', 'add the R2 binding BLOBS to wrangler.toml ([[r2_buckets]])');
        return r2Store(bucket);
      },
    }),
    stripe: config.stripe && createStripe(config.stripe),
  };
}
