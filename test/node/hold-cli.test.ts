/**
 * `npm run hold` against the real Worker under `wrangler dev`, with its own database: what each
 * command prints is checked against spacerr_jobs.legal_holds, and bad input is refused with exit
 * code 2 before anything is sent.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalWorker } from '../../scripts/stack/worker.ts';
import { startWorkerOnNewEnv } from '../support/node-env.ts';

const SECRET = 'hold-cli-secret-0123456789';
const CLI = resolve(import.meta.dirname, '../../scripts/hold.ts');
const JOB_CLI = resolve(import.meta.dirname, '../../scripts/job.ts');

let db: pg.Client;
let worker: LocalWorker;
let tmp: string;

function hold(args: string[], script = CLI): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, CRON_SECRET: SECRET, JOBS_URL: undefined, NO_COLOR: '1' };
  return new Promise((done) => {
    execFile(process.execPath, [script, ...args], { env, cwd: tmp }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

const holds = async () =>
  (
    await db.query(
      `SELECT user_id, reason, placed_by, until, until IS NULL OR until > now() AS active FROM spacerr_jobs.legal_holds ORDER BY 1`,
    )
  ).rows;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'spacerr-hold-'));
  ({ db, worker } = await startWorkerOnNewEnv(SECRET, {}));
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  await db?.end();
  rmSync(tmp, { recursive: true, force: true });
});

describe('npm run hold', () => {
  it('adds, lists and removes a hold', async () => {
    const added = await hold([
      'add',
      'acct-9',
      '--reason',
      'fraud investigation',
      '--until',
      '2099-01-31',
      '--by',
      'ana',
      '--url',
      worker.url,
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain('acct-9: held until 2099-01-31T00:00:00.000Z (fraud investigation, by ana)');
    expect(await holds()).toEqual([
      { user_id: 'acct-9', reason: 'fraud investigation', placed_by: 'ana', until: new Date('2099-01-31T00:00:00Z'), active: true },
    ]);

    const listed = await hold(['list', '--url', worker.url]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/acct-9\s+active\s+\S+\s+2099-01-31T00:00:00\.000Z\s+ana\s+fraud investigation/);

    const removed = await hold(['remove', 'acct-9', '--url', worker.url]);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('acct-9: hold lifted');
    expect((await holds()).map((h) => h.active)).toEqual([false]);
    expect((await hold(['list', '--url', worker.url])).stdout).toMatch(/acct-9\s+ended/);

    const again = await hold(['remove', 'acct-9', '--url', worker.url]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('no_hold');
  });

  it('shows a held account past retention in the dry run and the listing, and the run keeps it', async () => {
    await db.query(`INSERT INTO users (id, email, deactivated_at) VALUES ('held-1', 'h@example.com', now() - interval '400 days')`);
    expect((await hold(['add', 'held-1', '--reason', 'legal request', '--url', worker.url])).code).toBe(0);
    const dry = await hold(['delete-stale-deactivated-accounts', '--dry-run', '--url', worker.url], JOB_CLI);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('1 account past retention kept by a legal hold');
    expect(dry.stdout).toMatch(/users\s+0/);
    const list = await hold(['list', '--url', worker.url], JOB_CLI);
    expect(list.stdout).toMatch(/delete-stale-deactivated-accounts .*eligible 0, held 1, overdue 0/);
    expect((await hold(['delete-stale-deactivated-accounts', '--url', worker.url], JOB_CLI)).code).toBe(0);
    expect((await db.query(`SELECT id FROM users WHERE id = 'held-1'`)).rows).toEqual([{ id: 'held-1' }]);
  });

  it.each([
    ['an unknown flag', ['add', 'acct-1', '--reason', 'r', '--untill', '2099-01-01'], /Unknown option '--untill'/],
    ['no reason', ['add', 'acct-1'], /add needs --reason/],
    ['a bad date', ['add', 'acct-1', '--reason', 'r', '--until', '2099-13-01'], /--until must be an ISO 8601 date/],
    ['a past date', ['add', 'acct-1', '--reason', 'r', '--until', '2001-01-01'], /--until must be in the future/],
    ['two ids', ['add', 'acct-1', 'acct-2', '--reason', 'r'], /add takes one user id/],
    ['no command', [], /expected add, remove or list/],
    ['remove with --reason', ['remove', 'acct-1', '--reason', 'r'], /remove takes no --reason/],
  ])('refuses %s with exit code 2, placing nothing', async (_name, args, message) => {
    const r = await hold([...args, '--url', worker.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect((await holds()).map((h) => h.user_id)).not.toContain('acct-1');
  });
});
