/**
 * `npm run deploy` with a stand-in `wrangler` (WRANGLER=…) that prints a canned secret list and
 * records its calls; `deploy --dry-run` goes through to the real wrangler, which builds the real
 * bundle. The migration check runs against real Postgres: a fresh database from the control
 * server is migrated, an empty one from createDatabase is not.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { applyAppSchema, createDatabase } from '../../scripts/stack/migrate.ts';
import { provisionNodeEnv } from '../support/node-env.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DEPLOY = join(ROOT, 'scripts/deploy.ts');
const REAL_WRANGLER = join(ROOT, 'node_modules/.bin/wrangler');
const ALL_SECRETS = ['DATABASE_URL', 'UPSTASH_REDIS_REST_URL', 'UPSTASH_REDIS_REST_TOKEN', 'CRON_SECRET'];
/** Every migration of drizzle/, in order, as drizzle-kit's journal lists them. */
const MIGRATIONS = (
  JSON.parse(readFileSync(join(ROOT, 'drizzle/meta/_journal.json'), 'utf8')) as { entries: Array<{ tag: string }> }
).entries.map((e) => e.tag);

let tmp: string;
let fakeWrangler: string;
let migratedUrl: string;

interface DeployResult {
  code: number;
  out: string;
  /** The wrangler commands the script ran, one per line. */
  calls: string[];
}

/** Runs `npm run deploy` as a separate process with the stand-in wrangler and the given secrets. */
function deploy(args: string[], opts: { databaseUrl?: string; secrets?: string[] }): Promise<DeployResult> {
  const log = join(tmp, `calls-${Math.random().toString(36).slice(2)}.log`);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    WRANGLER: fakeWrangler,
    FAKE_WRANGLER_LOG: log,
    FAKE_SECRET_LIST: JSON.stringify((opts.secrets ?? ALL_SECRETS).map((name) => ({ name, type: 'secret_text' }))),
    DATABASE_URL: opts.databaseUrl,
    NO_COLOR: '1',
  };
  if (opts.databaseUrl === undefined) delete env.DATABASE_URL;
  return new Promise((done) => {
    execFile(process.execPath, [DEPLOY, ...args], { env, cwd: ROOT }, (err, stdout, stderr) => {
      const calls = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [];
      done({ code: err ? ((err as { code?: number }).code ?? -1) : 0, out: stdout + stderr, calls });
    });
  });
}

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'spacerr-deploy-'));
  fakeWrangler = join(tmp, 'wrangler');
  // Stands in for the Cloudflare account: the secret list is canned and a real deploy is only
  // recorded; `deploy --dry-run` needs no account, so it runs the real wrangler.
  writeFileSync(
    fakeWrangler,
    `#!/bin/sh
echo "$*" >> "$FAKE_WRANGLER_LOG"
if [ "$1" = secret ] && [ "$2" = list ]; then printf '%s\\n' "$FAKE_SECRET_LIST"; exit 0; fi
if [ "$1" = deploy ] && [ "$2" = --dry-run ]; then exec "${REAL_WRANGLER}" "$@"; fi
if [ "$1" = deploy ]; then echo "fake deploy: uploaded"; exit 0; fi
echo "fake wrangler: unexpected command $*" >&2; exit 9
`,
  );
  chmodSync(fakeWrangler, 0o755);
  // Shaped as the map the deployed Worker bundles says: Spacerr's.
  const env = await provisionNodeEnv('spacerr');
  migratedUrl = env.DATABASE_URL;
});

const created: string[] = [];

afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  const admin = new pg.Client({ connectionString: inject('stack').postgresUrl });
  await admin.connect();
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  await admin.end();
});

/** A database of this file's own, empty or cloned from the migrated template. */
function database(name: string, template?: string): Promise<string> {
  const full = `deploy_${name}_${process.pid}`;
  created.push(full);
  return createDatabase(inject('stack').postgresUrl, full, template);
}

describe('migrations check', () => {
  it('an unmigrated database fails the deploy, naming every missing migration and the fix', async () => {
    const r = await deploy([], { databaseUrl: await database('empty') });
    expect(r.code).toBe(1);
    expect(r.out).toContain(`migrations not applied on`);
    expect(r.out).toContain(MIGRATIONS.join(', '));
    expect(r.out).toContain('npm run deploy -- --migrate');
    expect(r.out).toContain('not deployed');
    expect(r.calls.filter((c) => c.startsWith('deploy'))).toEqual([]);
  });

  it('--migrate applies them, then the check passes and the deploy runs', async () => {
    const url = await database('migrate');
    // The app's tables are the app's, shaped as the map the deployed Worker bundles says (Spacerr's).
    await applyAppSchema(url, 'spacerr');
    const r = await deploy(['--migrate'], { databaseUrl: url });
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`applying ${MIGRATIONS.join(', ')}`);
    expect(r.out).toContain(`migrations: all ${MIGRATIONS.length} applied`);
    expect(r.out).toMatch(/✓ contract: all \d+ checks of `npm run doctor` passed/);
    expect(r.calls).toContain('deploy');
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const { rows } = await db.query(`SELECT count(*)::int AS n FROM spacerr_jobs.__drizzle_migrations`);
      expect(rows[0].n).toBe(MIGRATIONS.length);
      // The schema is really there, triggers included.
      const trig = await db.query(`SELECT count(*)::int AS n FROM pg_trigger WHERE NOT tgisinternal`);
      expect(trig.rows[0].n).toBeGreaterThan(0);
    } finally {
      await db.end();
    }
    // And a second check of the same database finds nothing to do.
    const again = await deploy([], { databaseUrl: url });
    expect(again.code, again.out).toBe(0);
    expect(again.out).not.toContain('applying');
  });

  it('a migration edited after it was applied is refused', async () => {
    const url = await database('edited', inject('stack').template);
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    await db.query(
      `UPDATE spacerr_jobs.__drizzle_migrations SET hash = 'edited' WHERE created_at = (SELECT max(created_at) FROM spacerr_jobs.__drizzle_migrations)`,
    );
    await db.end();
    const r = await deploy([], { databaseUrl: url });
    expect(r.code).toBe(1);
    expect(r.out).toContain(`migrations edited after they were applied`);
    expect(r.out).toContain(MIGRATIONS.at(-1));
  });

  it('no DATABASE_URL: fails saying how to set it', async () => {
    const r = await deploy([], {});
    expect(r.code).toBe(1);
    expect(r.out).toContain('DATABASE_URL is not set');
    expect(r.calls.filter((c) => c.startsWith('deploy'))).toEqual([]);
  });
});

describe('secrets check', () => {
  it('a missing secret fails the deploy, naming it and the command that sets it', async () => {
    const r = await deploy([], { databaseUrl: migratedUrl, secrets: ALL_SECRETS.filter((s) => s !== 'CRON_SECRET') });
    expect(r.code).toBe(1);
    expect(r.out).toContain('secret CRON_SECRET is not set on the Worker');
    expect(r.out).toContain('npx wrangler secret put CRON_SECRET');
    expect(r.out).not.toMatch(/secret (DATABASE_URL|UPSTASH_REDIS_REST_URL|UPSTASH_REDIS_REST_TOKEN) is not set/);
    expect(r.calls).toEqual(['secret list --format json']);
  });

  it('NEON_HTTP_ENDPOINT on the deployed Worker is refused', async () => {
    const r = await deploy([], { databaseUrl: migratedUrl, secrets: [...ALL_SECRETS, 'NEON_HTTP_ENDPOINT'] });
    expect(r.code).toBe(1);
    expect(r.out).toContain('secret NEON_HTTP_ENDPOINT is set on the Worker');
    expect(r.out).toContain('npx wrangler secret delete NEON_HTTP_ENDPOINT');
    expect(r.calls.filter((c) => c.startsWith('deploy'))).toEqual([]);
  });
});

describe('deploy', () => {
  it('all good + --dry-run: the real wrangler builds the bundle and its size is reported', async () => {
    const r = await deploy(['--dry-run'], { databaseUrl: migratedUrl });
    expect(r.code, r.out).toBe(0);
    expect(r.calls).toEqual(['secret list --format json', 'deploy --dry-run']);
    expect(r.out).toMatch(/Total Upload: [\d.]+ KiB/);
    expect(r.out).toMatch(/✓ dry run: bundle built, nothing uploaded — bundle [\d.]+ KiB \/ gzip: [\d.]+ KiB/);
  }, 90_000);

  it('--dry-run with --migrate is refused before touching anything', async () => {
    const r = await deploy(['--dry-run', '--migrate'], { databaseUrl: migratedUrl });
    expect(r.code).toBe(2);
    expect(r.out).toContain('--dry-run changes nothing');
    expect(r.calls).toEqual([]);
  });
});
