/**
 * Where a root-run cluster's binaries and data live. Postgres will not run as root, so as root it
 * runs as the `postgres` system user, which needs to reach both. A clone inside a directory that
 * user cannot enter (mode 0700, e.g. root's home) would fail with `spawn …/initdb EACCES`; there,
 * the binaries are copied once into a root-owned staging directory under /var/tmp and the data
 * directory moves beside them. Nothing in the clone changes mode.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, cp, lstat, mkdir, readFile, realpath, rename, rm, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';

/** The user a root process runs the cluster as. */
export interface RunAs {
  uid: number;
  gid: number;
}

const CLUSTER_USER = 'postgres';
export const STAGE_DIR = '/var/tmp/spacerr-jobs-postgres';

/** The cluster's user when this process is root (created once if missing), else undefined. */
export async function ensurePostgresUser(): Promise<RunAs | undefined> {
  if (userInfo().uid !== 0) return undefined;
  let ids = idsOf(CLUSTER_USER);
  if (!ids) {
    for (const cmd of [
      ['groupadd', '-f', CLUSTER_USER],
      ['useradd', '-g', CLUSTER_USER, CLUSTER_USER],
    ]) {
      const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8' });
      if (r.status !== 0 && !/already exists/.test(r.stderr ?? '')) {
        throw new Error(
          `Postgres cannot run as root and the user "${CLUSTER_USER}" could not be created (${cmd.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}). ` +
            `Create it, run as another user, or set DATABASE_URL to a Postgres of your own.`,
        );
      }
    }
    ids = idsOf(CLUSTER_USER);
    if (!ids) throw new Error(`the user "${CLUSTER_USER}" was created but \`id\` does not know it`);
  }
  return ids;
}

/**
 * The binaries folder and data directory the cluster uses. As root, when `runAs` cannot reach
 * `nativeDir` or the parent of `dataDir`, both are staged (`staged` says where, for the log).
 */
export async function clusterPaths(opts: {
  nativeDir: string;
  dataDir: string;
  runAs: RunAs | undefined;
  stageDir?: string;
}): Promise<{ bin: string; dataDir: string; staged?: string }> {
  const { nativeDir, dataDir, runAs } = opts;
  await mkdir(dirname(dataDir), { recursive: true });
  if (!runAs || (canReach(join(nativeDir, 'bin', 'postgres'), runAs) && canReach(dirname(dataDir), runAs))) {
    return { bin: join(nativeDir, 'bin'), dataDir };
  }
  const stage = opts.stageDir ?? STAGE_DIR;
  await ensureRootOnlyDir(stage);
  const source = await realpath(nativeDir);
  const version = await readFile(join(source, '..', 'package.json'), 'utf8').then(
    (t) => String((JSON.parse(t) as { version?: string }).version),
    () => 'unknown',
  );
  const staged = join(stage, `native-${version}-${digest(source)}`);
  if (!(await present(join(staged, '.complete')))) {
    const partial = `${staged}.partial-${process.pid}`;
    await rm(partial, { recursive: true, force: true });
    await cp(source, partial, { recursive: true, verbatimSymlinks: true });
    await writeFile(join(partial, '.complete'), '');
    await rm(staged, { recursive: true, force: true });
    await rename(partial, staged);
  }
  const dataRoot = join(stage, 'data');
  await ensureRootOnlyDir(dataRoot);
  const stagedData = join(dataRoot, digest(dataDir));
  return {
    bin: join(staged, 'bin'),
    dataDir: stagedData,
    staged: `the user "${CLUSTER_USER}" cannot enter ${dataDir} (a directory above it is closed to other users); running the cluster from ${staged} with its data in ${stagedData}`,
  };
}

/**
 * Creates `dir` (mode 0755) or checks the one that is there: a real directory owned by root that
 * no one else can write, so nobody but root can put a binary there that the cluster then runs.
 */
export async function ensureRootOnlyDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const st = await lstat(dir);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new Error(
      `${dir} must be a directory owned by root and writable only by root (it holds the Postgres binaries run for this project); ` +
        `remove it (rm -rf ${dir}) and try again, or set DATABASE_URL to a Postgres of your own.`,
    );
  }
  await chmod(dir, 0o755);
}

/** Whether `runAs` can reach `path` (search permission on every directory above it, and on it). */
function canReach(path: string, runAs: RunAs): boolean {
  return spawnSync('test', ['-x', path], { ...runAs, stdio: 'ignore' }).status === 0;
}

function idsOf(user: string): RunAs | undefined {
  const uid = spawnSync('id', ['-u', user], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', user], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function digest(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 12);
}

async function present(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}
