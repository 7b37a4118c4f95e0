/**
 * The local stack: real Postgres and real Redis (embedded/spawned unless DATABASE_URL/REDIS_URL
 * are given). Shared by `npm run dev` and the test global setup.
 */
import { startEmbeddedPostgres } from './postgres.ts';
import { startRedisServer } from './redis.ts';

export interface StackInfo {
  /** Connection string with rights to create databases. */
  postgresUrl: string;
  redisUrl: string;
}

export interface Stack {
  info: StackInfo;
  stop(): Promise<void>;
}

export async function startStack(opts: { dataDir: string; quiet?: boolean; persistent?: boolean }): Promise<Stack> {
  const stops: Array<() => Promise<void>> = [];
  const log = opts.quiet ? undefined : (l: string) => process.stderr.write(l);
  try {
    let postgresUrl = process.env.DATABASE_URL;
    if (!postgresUrl) {
      const pg = await startEmbeddedPostgres({ dataDir: `${opts.dataDir}/pg`, persistent: opts.persistent, log });
      stops.push(pg.stop);
      postgresUrl = pg.adminUrl;
    }
    let redisUrl = process.env.REDIS_URL;
    if (!redisUrl) {
      const redis = await startRedisServer();
      stops.push(redis.stop);
      redisUrl = redis.url;
    }
    return { info: { postgresUrl, redisUrl }, stop: () => stopAll(stops) };
  } catch (err) {
    await stopAll(stops);
    throw err;
  }
}

async function stopAll(stops: Array<() => Promise<void>>) {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
