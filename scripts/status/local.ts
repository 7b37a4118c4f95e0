/**
 * The status page on the real local stack, for `npm run screenshots` and the browser test: a
 * fresh stack (embedded Postgres, Redis, the Neon HTTP, Upstash REST and Vercel Blob endpoints), one database
 * of the test layout, and the Worker under `wrangler dev` pointed at it.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import pg from 'pg';
import { stackVars, startStack } from '../stack/index.ts';
import { createAppDatabase } from '../stack/migrate.ts';
import { type LocalWorker, startLocalWorker } from '../stack/worker.ts';

export interface StatusStack {
  worker: LocalWorker;
  /** The Worker's CRON_SECRET. */
  secret: string;
  /** A client on the Worker's database, to seed and check. */
  db: pg.Client;
  stop(): Promise<void>;
}

export async function startStatusStack(opts: { dataDir: string; vars?: Record<string, string> }): Promise<StatusStack> {
  const stack = await startStack({ dataDir: opts.dataDir, quiet: true });
  // Last: the stack's folder (the cluster's data is gone with it, but not the folder itself).
  const stops: Array<() => Promise<unknown>> = [async () => rmSync(opts.dataDir, { recursive: true, force: true }), () => stack.stop()];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const databaseUrl = await createAppDatabase(stack.postgresUrl, 'status_page');
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    stops.push(() => db.end());
    const secret = randomBytes(16).toString('hex');
    const worker = await startLocalWorker({
      vars: {
        // The file store wrangler.toml names (BLOB_STORE): the stack's local Vercel Blob API.
        ...stackVars(stack, databaseUrl),
        CRON_SECRET: secret,
        ...opts.vars,
      },
    });
    stops.push(() => worker.stop());
    return { worker, secret, db, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
