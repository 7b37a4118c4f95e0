/**
 * `npm run job` against the real Worker under `wrangler dev`, with its own database and endpoints
 * from the control server. A small batch size and subrequest budget force the CLI to loop over
 * several runs; every claim it prints is checked against Postgres.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/stack/ports.ts';
import type { LocalWorker } from '../../scripts/stack/worker.ts';
import type { TestBindings } from '../support/control-server.ts';
import { setNodeFault, startWorkerOnNewEnv } from '../support/node-env.ts';

const SECRET = 'cli-test-secret-0123456789';
const JOB = 'delete-stale-empty-chats';
const CLI = resolve(import.meta.dirname, '../../scripts/job.ts');
const STALE_CHATS = 30;
const FRESH_CHATS = 2;
const ATTACHED = 5;

let db: pg.Client;
let worker: LocalWorker;
let tmp: string;
let stackEnv: TestBindings;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as an operator would: a separate Node process, secret in the environment or .dev.vars. */
function cli(args: string[], opts: { secret?: string | null; cwd?: string } = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, CRON_SECRET: undefined, JOBS_URL: undefined, NO_COLOR: '1' };
  if (opts.secret !== null) env.CRON_SECRET = opts.secret ?? SECRET;
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { env, cwd: opts.cwd ?? tmp }, (err, stdout, stderr) => {
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

/** The CLI's final table as {table: number}. */
function tableOf(stdout: string): Record<string, number> {
  const lines = stdout.trim().split('\n');
  const start = lines.findIndex((l) => /^-+\s+-+$/.test(l.trim()));
  return Object.fromEntries(
    lines.slice(start + 1).map((l) => {
      const [table, n] = l.trim().split(/\s+/);
      return [table, Number(n)];
    }),
  );
}

const setNeonFault = (fault: string) => setNodeFault(stackEnv, 'neon', fault);

const count = async (sql: string) => Number((await db.query(sql)).rows[0].n);

async function seed() {
  await db.query(`TRUNCATE users, spacerr_jobs.job_runs, spacerr_jobs.blob_deletions, spacerr_jobs.job_pauses CASCADE`);
  await db.query(`INSERT INTO users (id, email) VALUES ('u1', 'u1@example.com')`);
  await db.query(
    `INSERT INTO chats (id, user_id, created_at)
     SELECT 'stale-' || i, 'u1', now() - interval '1 day' - i * interval '1 minute' FROM generate_series(1, $1) i`,
    [STALE_CHATS],
  );
  await db.query(`INSERT INTO chats (id, user_id) SELECT 'fresh-' || i, 'u1' FROM generate_series(1, $1) i`, [FRESH_CHATS]);
  await db.query(
    `INSERT INTO attachments (id, user_id, chat_id, blob_key)
     SELECT 'a-' || i, 'u1', 'stale-' || i, 'blobs/a-' || i FROM generate_series(1, $1) i`,
    [ATTACHED],
  );
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'spacerr-cli-'));
  ({
    env: stackEnv,
    db,
    worker,
  } = await startWorkerOnNewEnv(SECRET, {
    // 4 rows a batch, 5 subrequests a run (2 for the lock and the record): 3 batches a run.
    DELETE_BATCH_SIZE: '4',
    EMPTY_CHAT_BATCH_SIZE: '4',
    BATCH_TARGET_MS: '0',
    RUN_SUBREQUEST_BUDGET: '5',
  }));
}, 90_000);

afterAll(async () => {
  await worker?.stop();
  await db?.end();
  rmSync(tmp, { recursive: true, force: true });
});

beforeEach(seed);

describe('npm run job -- <name>', () => {
  it('loops while the Worker reports more, until every stale row is gone, and prints the totals', async () => {
    const r = await cli([JOB, '--url', worker.url]);
    expect(r.code, r.stderr).toBe(0);

    const runs = (
      await db.query(`SELECT status, more, dry_run, counts FROM spacerr_jobs.job_runs WHERE job = $1 ORDER BY started_at`, [JOB])
    ).rows;
    expect(runs.length).toBeGreaterThanOrEqual(3);
    expect(runs.every((run) => run.status === 'succeeded' && !run.dry_run)).toBe(true);
    expect(runs.map((run) => run.more)).toEqual([...Array(runs.length - 1).fill(true), false]);
    // One progress line per run, on stderr.
    expect(r.stderr.match(/^run \d+: succeeded/gm)).toHaveLength(runs.length);
    expect(r.stderr).toContain('more to do');

    expect(await count(`SELECT count(*) AS n FROM chats WHERE id LIKE 'stale-%'`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM chats WHERE id LIKE 'fresh-%'`)).toBe(FRESH_CHATS);
    expect(await count(`SELECT count(*) AS n FROM attachments`)).toBe(0);
    expect(r.stdout).toContain(`${JOB}: ${runs.length} runs`);
    expect(tableOf(r.stdout)).toEqual({ chats: STALE_CHATS, attachments: ATTACHED });
  });

  it('--dry-run makes one run, deletes nothing and reports what it would delete', async () => {
    const r = await cli([JOB, '--dry-run', '--url', worker.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/would delete/);
    expect(tableOf(r.stdout)).toEqual({ chats: STALE_CHATS, attachments: ATTACHED });
    expect(await count(`SELECT count(*) AS n FROM chats`)).toBe(STALE_CHATS + FRESH_CHATS);
    const runs = (await db.query(`SELECT dry_run FROM spacerr_jobs.job_runs WHERE job = $1`, [JOB])).rows;
    expect(runs).toEqual([{ dry_run: true }]);
  });

  it('stops with exit code 3 naming the holder when another run holds the lock, deleting nothing', async () => {
    await db.query(
      `INSERT INTO spacerr_jobs.job_runs (id, job, trigger, started_at, status, lease_until)
       VALUES ('holder-run', $1, 'scheduled', now(), 'running', now() + interval '5 minutes')`,
      [JOB],
    );
    const r = await cli([JOB, '--url', worker.url]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('run holder-run');
    expect(await count(`SELECT count(*) AS n FROM chats`)).toBe(STALE_CHATS + FRESH_CHATS);
  });

  it('a failed run prints its error and exits 1', async () => {
    // Neon answers 500 to everything: the run cannot even take its lock.
    await setNeonFault('http500');
    try {
      const r = await cli([JOB, '--url', worker.url]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^run \d+: failed/m);
      expect(r.stderr).toMatch(/run [0-9a-f-]{36} failed \(phase lock\): \S/);
    } finally {
      await setNeonFault('none');
    }
    expect(await count(`SELECT count(*) AS n FROM chats`)).toBe(STALE_CHATS + FRESH_CHATS);
  });

  it('bad arguments: exit 2 with the usage', async () => {
    const r = await cli([JOB, '--url', worker.url, '--max-runs', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--max-runs: expected a whole number');
    expect(await count(`SELECT count(*) AS n FROM spacerr_jobs.job_runs`)).toBe(0);
  });
});

describe('npm run job -- list', () => {
  it('shows each job with its cron, next run and the run just made', async () => {
    await cli([JOB, '--url', worker.url]);
    const last = (await db.query(`SELECT counts FROM spacerr_jobs.job_runs WHERE job = $1 ORDER BY started_at DESC LIMIT 1`, [JOB]))
      .rows[0];
    const r = await cli(['list', '--url', worker.url]);
    expect(r.code, r.stderr).toBe(0);
    const row = r.stdout.split('\n').find((l) => l.startsWith(`${JOB} `)) ?? '';
    expect(row).toContain('0 */12 * * *');
    expect(row).toMatch(/ in \d+/);
    expect(row).toContain('succeeded (http)');
    expect(row).toContain(`chats ${last.counts.chats}, attachments ${last.counts.attachments}`);
    for (const job of [
      'delete-stale-deactivated-accounts',
      'purge-deleted-blobs',
      'clear-stale-streams',
      'delete-orphaned-message-sources',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^${job} .* never `, 'm'));
    }
  });
});

describe('npm run job -- requeue <job>', () => {
  it('makes the parked rows due again and says how many; a job that parks nothing: exit 2, naming the ones that do', async () => {
    await db.query(`INSERT INTO spacerr_jobs.blob_deletions (blob_key, attempts, parked_at, next_attempt_at)
      VALUES ('k-parked', 8, now(), now() + interval '1 day'), ('k-waiting', 1, NULL, now() + interval '1 hour')`);
    const r = await cli(['requeue', 'purge-deleted-blobs', '--url', worker.url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('purge-deleted-blobs: 1 parked row due again; the next run picks it up');
    const rows = (
      await db.query(
        `SELECT blob_key, attempts, parked_at IS NOT NULL AS parked, next_attempt_at <= now() AS due FROM spacerr_jobs.blob_deletions ORDER BY blob_key`,
      )
    ).rows;
    expect(rows).toEqual([
      { blob_key: 'k-parked', attempts: 0, parked: false, due: true },
      { blob_key: 'k-waiting', attempts: 1, parked: false, due: false },
    ]);

    const refused = await cli(['requeue', JOB, '--url', worker.url]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('nothing_to_requeue: This job parks nothing.');
    expect((await cli(['requeue', '--url', worker.url])).code).toBe(2);
  });
});

describe('npm run job -- pause <job> / resume <job>', () => {
  it('pauses the job: its runs are skipped (exit 3) with the reason and who paused it, the listing says so; resume lets it run', async () => {
    const paused = await cli(['pause', JOB, '--reason', 'incident 42: wrong retention', '--by', 'alice', '--url', worker.url]);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(new RegExp(`^${JOB}: paused by alice since \\S+Z: incident 42: wrong retention`));

    const skipped = await cli([JOB, '--url', worker.url]);
    expect(skipped.code).toBe(3);
    expect(skipped.stderr).toContain(`resume ${JOB}`);
    expect(await count(`SELECT count(*) AS n FROM chats`)).toBe(STALE_CHATS + FRESH_CHATS);
    const [run] = (await db.query(`SELECT status, error FROM spacerr_jobs.job_runs WHERE job = $1`, [JOB])).rows;
    expect(run).toEqual({ status: 'skipped', error: expect.stringMatching(/^paused by alice since \S+Z: incident 42: wrong retention$/) });

    const list = await cli(['list', '--url', worker.url]);
    expect(list.stdout).toMatch(new RegExp(`^${JOB}: PAUSED by alice since \\S+: incident 42`, 'm'));

    const resumed = await cli(['resume', JOB, '--url', worker.url]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout.trim()).toBe(`${JOB}: resumed; its next cron runs it`);
    expect((await cli(['resume', JOB, '--url', worker.url])).stdout.trim()).toBe(`${JOB}: was not paused`);
    expect((await cli([JOB, '--url', worker.url])).code).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM chats WHERE id LIKE 'stale-%'`)).toBe(0);
  });

  it('refuses a pause without --reason and an unknown job (exit 2), pausing nothing', async () => {
    const noReason = await cli(['pause', JOB, '--url', worker.url]);
    expect(noReason.code).toBe(2);
    expect(noReason.stderr).toContain('pause needs --reason');
    const unknown = await cli(['pause', 'delete-everything', '--reason', 'x', '--url', worker.url]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown job. Jobs: delete-stale-deactivated-accounts');
    expect(await count(`SELECT count(*) AS n FROM spacerr_jobs.job_pauses`)).toBe(0);
  });
});

describe('errors an operator can act on', () => {
  it('a wrong secret: exit 2, names the URL', async () => {
    const r = await cli([JOB, '--url', worker.url], { secret: 'not-the-secret' });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`wrong or missing CRON_SECRET for ${worker.url}`);
    expect(await count(`SELECT count(*) AS n FROM spacerr_jobs.job_runs`)).toBe(0);
  });

  it('an unknown job: exit 2, lists the jobs', async () => {
    const r = await cli(['delete-everything', '--url', worker.url]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown job "delete-everything"');
    expect(r.stderr).toContain('delete-stale-empty-chats, purge-deleted-blobs');
  });

  it('an unreachable Worker: exit 1, asks whether npm run dev runs', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await cli([JOB, '--url', url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach ${url}`);
    expect(r.stderr).toContain('is `npm run dev` running?');
  });
});

describe('the secret from .dev.vars', () => {
  it('is read from .dev.vars in the working directory when CRON_SECRET is unset', async () => {
    const dir = mkdtempSync(join(tmp, 'devvars-'));
    writeFileSync(join(dir, '.dev.vars'), `DATABASE_URL=postgres://x\nCRON_SECRET="${SECRET}"\n`);
    const r = await cli(['list', '--url', worker.url], { secret: null, cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(JOB);
  });

  it('a wrong one in .dev.vars: the 401 message says where the secret came from', async () => {
    const dir = mkdtempSync(join(tmp, 'devvars-'));
    writeFileSync(join(dir, '.dev.vars'), `CRON_SECRET='stale-secret'\n`);
    const r = await cli(['list', '--url', worker.url], { secret: null, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(join(dir, '.dev.vars'));
  });

  it('neither set: exit 2, says how to set it, and calls nothing', async () => {
    const dir = mkdtempSync(join(tmp, 'empty-'));
    const r = await cli([JOB, '--url', worker.url], { secret: null, cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('No CRON_SECRET');
    expect(r.stderr).toContain('npm run dev');
    expect(await count(`SELECT count(*) AS n FROM spacerr_jobs.job_runs`)).toBe(0);
  });
});
