/**
 * The gate: the project's own commands exit non-zero when what they check fails. `npm test` once
 * exited 0 with a failing test (a library's exit hook called `process.exit(0)` after Vitest had
 * set the exit code), and CI landed whatever it ran. These run the real commands, each on a
 * planted fixture, and read the exit code the shell would see.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');
const planted: string[] = [];
afterEach(async () => {
  for (const path of planted.splice(0)) await rm(path, { force: true });
});

/** Writes a test file where `npm test` looks for Node tests; removed after the test. */
async function plant(name: string, body: string): Promise<string> {
  const rel = `test/node/zz-gate-${name}-${process.pid}.test.ts`;
  planted.push(join(ROOT, rel));
  await writeFile(join(ROOT, rel), body);
  return rel;
}

/** Runs `npm <args>` in the project root and resolves with its exit code and output. */
function npm(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return run('npm', args, env);
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  // The outer Vitest's own variables would make the inner run think it is a worker of this one.
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_ENV'));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: ROOT,
      env: { ...clean, NO_COLOR: '1', FORCE_COLOR: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, out }));
  });
}

/** `.ci/check-test-summary` on a saved log, as CI runs it after `npm test`. */
async function summaryCheck(log: string) {
  const path = join(tmpdir(), `gate-log-${process.pid}-${planted.length}.txt`);
  planted.push(path);
  await writeFile(path, log);
  return run('bash', ['.ci/check-test-summary', path]);
}

const PASSING = `import { expect, test } from 'vitest';\ntest('gate fixture passes', () => expect(1).toBe(1));\n`;

describe('npm test', () => {
  it('exits 0 when every test passes (the control for the cases below)', { timeout: 120_000 }, async () => {
    const file = await plant('pass', PASSING);
    const { code, out } = await npm(['test', '--', file]);
    expect(out).toMatch(/Tests\s+1 passed/);
    expect(code).toBe(0);
    expect((await summaryCheck(out)).code).toBe(0);
  });

  it('exits non-zero when a test fails', { timeout: 120_000 }, async () => {
    const file = await plant('fail', `import { expect, test } from 'vitest';\ntest('gate fixture fails', () => expect(1).toBe(2));\n`);
    const { code, out } = await npm(['test', '--', file]);
    expect(out).toMatch(/Tests\s+1 failed/);
    expect(code).not.toBe(0);
    // CI's second lock reads the same log and fails it on the summary alone.
    expect(await summaryCheck(out)).toMatchObject({ code: 1, out: expect.stringMatching(/reports a failure/) });
  });

  it('exits non-zero when a test file fails to load', { timeout: 120_000 }, async () => {
    const file = await plant('load', `import './no-such-module.ts';\n${PASSING}`);
    const { code, out } = await npm(['test', '--', file]);
    expect(out).toMatch(/Test Files\s+1 failed/);
    expect(code).not.toBe(0);
  });

  it('exits non-zero when the global setup fails (Postgres unreachable)', { timeout: 120_000 }, async () => {
    const file = await plant('setup', PASSING);
    // Port 9 (discard) on loopback: nothing listens there, so the setup cannot create its database.
    const { code, out } = await npm(['test', '--', file], { DATABASE_URL: 'postgres://nobody:nothing@127.0.0.1:9/postgres' });
    expect(out).not.toMatch(/Tests\s+1 passed/);
    expect(code).not.toBe(0);
  });
});

describe('npm run bench -- --check-file', () => {
  it('exits 0 on a committed result and 1 on one with a contender missing', { timeout: 60_000 }, async () => {
    const good = await npm(['run', 'bench', '--', '--check-file', 'bench/results/10k.json']);
    expect(good.code).toBe(0);

    const result = JSON.parse(readFileSync(join(ROOT, 'bench/results/10k.json'), 'utf8')) as {
      jobs: Record<string, Record<string, unknown>>;
    };
    delete result.jobs['delete-stale-empty-chats']!.naive;
    const broken = join(tmpdir(), `gate-broken-${process.pid}.json`);
    planted.push(broken);
    await writeFile(broken, JSON.stringify(result));
    const bad = await npm(['run', 'bench', '--', '--check-file', broken]);
    expect(bad.out).toMatch(/naive\.missing/);
    expect(bad.code).toBe(1);
  });
});
