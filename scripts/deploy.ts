/**
 * `npm run deploy [-- --migrate] [-- --dry-run]`: checks what a deploy depends on, then deploys.
 *  1. every migration in drizzle/ is applied on DATABASE_URL (or applies them with --migrate);
 *  2. the doctor's contract checks pass on DATABASE_URL (tables, foreign keys, indexes, triggers);
 *  3. the deployed Worker has its secrets (`wrangler secret list`), and not NEON_HTTP_ENDPOINT;
 *  4. `wrangler deploy` (with --dry-run: builds the bundle and reports its size, uploads nothing).
 * Both checks run before anything is deployed, and every failure says what to run to fix it.
 * Exit codes: 0 deployed (or dry run built), 1 a check or wrangler failed, 2 bad arguments.
 */
import { parseArgs } from 'node:util';
import { migrationStatus, type MigrationStatus } from './deploy/migrations.ts';
import { formatChecks, runChecks } from './doctor/checks.ts';
import { checkSecrets, parseSecretList, REQUIRED_SECRETS } from './deploy/secrets.ts';
import { bundleSize, runWrangler } from './deploy/wrangler.ts';
import { APP_MAP_FILE, MIGRATIONS_DIR, migrateDatabase, readMap } from './stack/migrate.ts';

const USAGE = `usage: npm run deploy [-- --migrate] [-- --dry-run]
  --migrate   apply pending migrations to DATABASE_URL before deploying
  --dry-run   run the checks and build the bundle; change nothing, upload nothing
DATABASE_URL must be set to the production database (the value of the Worker's DATABASE_URL secret).`;

const ok = (line: string) => console.log(`✓ ${line}`);
const failed = (line: string) => console.error(`✗ ${line}`);

async function main(): Promise<number> {
  let values: { migrate?: boolean; 'dry-run'?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: { migrate: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const dryRun = values['dry-run'] ?? false;
  if (dryRun && values.migrate) {
    console.error('--dry-run changes nothing, so it cannot --migrate: run `npm run deploy -- --migrate` without --dry-run.');
    return 2;
  }

  // The contract is checked after --migrate has run: the migrations install its triggers.
  const checks = [await checkMigrations(values.migrate ?? false), await checkContract(), await checkWorkerSecrets()];
  if (checks.includes(false)) {
    console.error('\nnot deployed: fix the checks above first.');
    return 1;
  }

  const deploy = await runWrangler(dryRun ? ['deploy', '--dry-run'] : ['deploy'], { echo: true });
  const size = bundleSize(deploy.stdout + deploy.stderr);
  if (deploy.code !== 0) {
    failed(`wrangler deploy${dryRun ? ' --dry-run' : ''} failed (exit ${deploy.code}); see its output above.`);
    return 1;
  }
  ok(`${dryRun ? 'dry run: bundle built, nothing uploaded' : 'deployed'}${size ? ` — bundle ${size}` : ''}`);
  return 0;
}

/** Check 1: migrations. Returns whether it passed. */
async function checkMigrations(migrate: boolean): Promise<boolean> {
  const url = process.env.DATABASE_URL;
  if (!url) {
    failed(
      'DATABASE_URL is not set: set it to the production database to check its migrations: DATABASE_URL=postgres://…neon.tech/… npm run deploy',
    );
    return false;
  }
  const where = describeDatabase(url);
  try {
    let status = await migrationStatus(url, MIGRATIONS_DIR);
    if (migrate && status.some((m) => m.state === 'pending')) {
      console.log(`applying ${tags(status, 'pending')} to ${where}`);
      await migrateDatabase(url, readMap(APP_MAP_FILE)); // the map the deployed Worker bundles
      status = await migrationStatus(url, MIGRATIONS_DIR);
    }
    let passed = true;
    if (status.some((m) => m.state === 'pending')) {
      failed(`migrations not applied on ${where}: ${tags(status, 'pending')} — apply them with \`npm run deploy -- --migrate\``);
      passed = false;
    }
    if (status.some((m) => m.state === 'changed')) {
      failed(
        `migrations edited after they were applied on ${where}: ${tags(status, 'changed')} — restore the files and put the change in a new migration (npm run db:generate)`,
      );
      passed = false;
    }
    if (status.some((m) => m.state === 'out_of_order')) {
      failed(
        `migrations older than the newest applied one, which drizzle's migrator will never apply, on ${where}: ${tags(status, 'out_of_order')} — regenerate them after the applied ones (npm run db:generate)`,
      );
      passed = false;
    }
    if (passed) ok(`migrations: all ${status.length} applied on ${where}`);
    return passed;
  } catch (err) {
    failed(`cannot check the migrations on ${where}: ${(err as Error).message}`);
    return false;
  }
}

/** Check 2: the doctor's contract checks (`npm run doctor`), its migration line left to check 1. */
async function checkContract(): Promise<boolean> {
  const url = process.env.DATABASE_URL;
  if (!url) return false;
  try {
    // Against the map the bundle deploys (app-map.json), whatever APP_MAP_FILE says.
    const checks = await runChecks(url, { migrations: false, map: readMap(APP_MAP_FILE) });
    const broken = checks.filter((c) => !c.ok);
    if (broken.length === 0) {
      ok(`contract: all ${checks.length} checks of \`npm run doctor\` passed on ${describeDatabase(url)}`);
      return true;
    }
    for (const line of formatChecks(broken)) console.error(line);
    console.error(`  (${broken.length} of ${checks.length} contract checks failed; \`npm run doctor\` shows them all)`);
    return false;
  } catch (err) {
    failed(`cannot check the contract on ${describeDatabase(url)}: ${(err as Error).message}`);
    return false;
  }
}

/** Check 3: the deployed Worker's secrets. Returns whether it passed. */
async function checkWorkerSecrets(): Promise<boolean> {
  const list = await runWrangler(['secret', 'list', '--format', 'json'], { echo: false });
  let names: string[];
  try {
    if (list.code !== 0)
      throw new Error(`\`wrangler secret list\` failed (exit ${list.code}):\n${(list.stderr || list.stdout).trim().slice(-800)}`);
    names = parseSecretList(list.stdout);
  } catch (err) {
    failed(
      `${(err as Error).message}\n  log in with \`npx wrangler login\` (or set CLOUDFLARE_API_TOKEN), and create the Worker's secrets first.`,
    );
    return false;
  }
  const { missing, forbidden } = checkSecrets(names);
  for (const name of missing) failed(`secret ${name} is not set on the Worker — run \`npx wrangler secret put ${name}\``);
  for (const name of forbidden) {
    failed(
      `secret ${name} is set on the Worker: it points the Neon driver at a local endpoint and belongs to local development only — remove it with \`npx wrangler secret delete ${name}\``,
    );
  }
  if (missing.length === 0 && forbidden.length === 0) ok(`secrets: ${REQUIRED_SECRETS.join(', ')} set; NEON_HTTP_ENDPOINT not set`);
  return missing.length === 0 && forbidden.length === 0;
}

function tags(status: MigrationStatus[], state: MigrationStatus['state']): string {
  return status
    .filter((m) => m.state === state)
    .map((m) => m.tag)
    .join(', ');
}

/** Host and database name only: the URL's password must not reach the terminal or CI logs. */
function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return 'DATABASE_URL (not a URL)';
  }
}

process.exitCode = await main();
