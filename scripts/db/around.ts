/**
 * `npm run db:migrate -- --around "<command>"`: runs the app's own migration command (`npx prisma
 * migrate deploy`) while the Worker's update triggers pin no column type. Those triggers name the
 * columns they watch (`UPDATE OF … WHEN …`, src/app-map/triggers.ts), and Postgres refuses an
 * `ALTER TABLE … ALTER COLUMN … TYPE` on such a column. So: each is swapped for its unpinned form
 * (same function, called on every update, comparing in its body: no update goes unwatched), the
 * command runs, and then the ordinary `db:migrate` installs everything again, pinned — also when
 * the command failed, whose exit code is then returned.
 */
import { spawn } from 'node:child_process';
import type { AppMap } from '../../src/app-map/types.ts';
import { migrateDatabase, withClient } from '../stack/migrate.ts';
import { unpinAppTriggers } from './app-objects.ts';

/** The app's command's exit code (0: it succeeded), after the Worker's objects are installed again. */
export async function migrateAround(
  databaseUrl: string,
  map: AppMap,
  command: string,
  log: (line: string) => void = () => {},
): Promise<number> {
  let code = 1;
  try {
    await withClient(databaseUrl, (client) => unpinAppTriggers(client, map, (line) => log(`  ${line}`)));
    log(`running: ${command}`);
    code = await run(command, databaseUrl);
    log(code === 0 ? "the app's command succeeded" : `the app's command failed (exit ${code}); installing the triggers again`);
  } finally {
    await migrateDatabase(databaseUrl, map);
  }
  return code;
}

/**
 * Runs `command` in a shell with this process's environment and terminal, DATABASE_URL set to the
 * database being migrated (what `db:migrate` read it from, so the same value there); its exit code
 * (1 on a signal).
 */
function run(command: string, databaseUrl: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, { shell: true, stdio: 'inherit', env: { ...process.env, DATABASE_URL: databaseUrl } });
    child.on('error', reject);
    child.on('exit', (code) => resolve(code ?? 1));
  });
}
