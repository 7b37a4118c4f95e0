/**
 * `npm run dev` (CONTRIBUTING.md, Local development): the local stack with a persistent Postgres under `.stack/dev`, the
 * `spacerr` database migrated, `.dev.vars` written, then `wrangler dev --test-scheduled` on 8787.
 * Ctrl-C (SIGINT/SIGTERM/SIGHUP) stops wrangler and everything the stack started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { type Stack, stackVars, startStack } from './stack/index.ts';
import { parseArgs } from 'node:util';
import { ensureAppSchema, layoutMigrations, migrateDatabase, readMap } from './stack/migrate.ts';
import { hasRedisServer, REDIS_MISSING } from './stack/redis.ts';
import { wranglerConfig } from './wrangler-config.ts';

const PORT = 8787;
const DATA_DIR = '.stack/dev';
const DB_NAME = 'spacerr';
const VARS = '.dev.vars';
const MANAGED = [
  'DATABASE_URL',
  'NEON_HTTP_ENDPOINT',
  'UPSTASH_REDIS_REST_URL',
  'UPSTASH_REDIS_REST_TOKEN',
  'BLOB_READ_WRITE_TOKEN',
  'VERCEL_BLOB_API_URL',
  'STRIPE_SECRET_KEY',
  'STRIPE_API_URL',
  'CRON_SECRET',
];
const SIGNALS = { SIGINT: 130, SIGHUP: 129, SIGTERM: 143 } as const;

process.chdir(fileURLToPath(new URL('..', import.meta.url)));
let stackP: Promise<Stack> | undefined;
let wrangler: ChildProcess | undefined;
let stopping: Promise<void> | undefined;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function shutdown(code: number, why?: string): Promise<void> {
  if (why && !stopping) console.error(why);
  stopping ??= (async () => {
    const w = wrangler;
    if (w && w.exitCode === null && w.signalCode === null) {
      const gone = new Promise<boolean>((r) => w.once('exit', () => r(true)));
      w.kill('SIGINT');
      if (!(await Promise.race([gone, sleep(8000).then(() => false)]))) w.kill('SIGKILL');
    }
    const stack = await stackP?.catch(() => undefined);
    if (stack) await Promise.race([stack.stop(), sleep(15_000)]);
    process.exit(code);
  })();
  return stopping;
}
for (const [sig, code] of Object.entries(SIGNALS)) process.on(sig, () => void shutdown(code));
process.on('exit', () => wrangler?.kill('SIGTERM')); // bin/wrangler forwards TERM, not KILL

function fail(message: string): never {
  console.error(message.replace(/\s*\n\s*/g, ' '));
  process.exit(1);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer().once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port }, () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Creates `name` unless it exists (never drops: dev data survives restarts); returns its URL. */
async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!found.rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Writes the managed keys, keeping CRON_SECRET and any other lines of an existing file. */
function writeVars(values: Record<string, string>): { secret: string; generated: boolean } {
  const old = existsSync(VARS) ? readFileSync(VARS, 'utf8').split('\n') : [];
  const keyOf = (line: string) => /^\s*(?:export\s+)?([A-Za-z_]\w*)\s*=/.exec(line)?.[1];
  const oldSecret = old
    .find((l) => keyOf(l) === 'CRON_SECRET')
    ?.replace(/^[^=]*=\s*/, '')
    .replace(/^(["'])(.*)\1$/, '$2')
    .trim();
  const secret = oldSecret || randomBytes(24).toString('hex');
  const kept = old.filter((l) => l.trim() && !l.startsWith('# Written by') && !MANAGED.includes(keyOf(l) ?? ''));
  const lines = ['# Written by `npm run dev` (scripts/dev.ts); rewritten on every start, CRON_SECRET kept.'];
  for (const [k, v] of Object.entries({ ...values, CRON_SECRET: secret })) lines.push(`${k}=${v}`);
  writeFileSync(VARS, `${[...lines, ...kept].join('\n')}\n`, { mode: 0o600 });
  return { secret, generated: !oldSecret };
}

function cronLines(): string[] {
  return wranglerConfig().crons.map((cron) => `    curl "localhost:${PORT}/__scheduled?cron=${cron.replaceAll(' ', '+')}"`);
}

const { values: args } = parseArgs({ options: { 'app-migrations': { type: 'string' } } });
/** The app's Prisma migrations folder: the app's own (`--app-migrations`), or the bundled Spacerr-shaped fixture. */
const appMigrations = args['app-migrations'] ?? layoutMigrations('spacerr');

if (!process.env.REDIS_URL && !hasRedisServer()) fail(REDIS_MISSING);
if (!(await portFree(PORT))) fail(`Port ${PORT} on 127.0.0.1 is in use (another \`npm run dev\` or \`wrangler dev\`?). Stop it and retry.`);
try {
  stackP = startStack({ dataDir: DATA_DIR, persistent: true, quiet: true });
  const stack = await stackP;
  const databaseUrl = process.env.DATABASE_URL ?? (await ensureDatabase(stack.postgresUrl, DB_NAME));
  // The app's tables come from the app: its Prisma migrations (--app-migrations), or the fixture
  // standing for them. The Worker's triggers follow the bundled map (app-map.json, `npm run map`).
  const map = readMap();
  if (!process.env.DATABASE_URL) await ensureAppSchema(databaseUrl, map, appMigrations);
  await migrateDatabase(databaseUrl, map);
  const { secret, generated } = writeVars({
    // With the Blob store under the names `@vercel/blob` itself reads: the app's own code can use it too.
    ...stackVars(stack, databaseUrl),
    // The local Stripe endpoint's key: a real key in .dev.vars is replaced, so dev never deletes real customers.
    STRIPE_SECRET_KEY: stack.stripe.key,
    STRIPE_API_URL: stack.stripe.url,
  });
  if (stopping) await stopping;
  wrangler = spawn('node_modules/.bin/wrangler', ['dev', '--test-scheduled', '--port', String(PORT), '--ip', '127.0.0.1'], {
    stdio: 'inherit',
  });
  wrangler.once('error', (err) => void shutdown(1, `dev: could not start wrangler: ${err.message}`));
  wrangler.once('exit', (code, signal) => void shutdown(code ?? 128 + (signal ? constants.signals[signal] : 0)));
  while (!stopping && !(await listening(PORT))) await sleep(250);
  if (stopping) await stopping;
  const auth = `-H "Authorization: Bearer $(sed -n 's/^CRON_SECRET=//p' ${VARS})"`;
  console.log(
    [
      '',
      `  spacerr-jobs dev: Worker on http://localhost:${PORT}  (settings in ${VARS}; Ctrl-C stops everything)`,
      `    Postgres      ${databaseUrl}${process.env.DATABASE_URL ? '' : `  (data kept in ${stack.postgresDataDir})`}`,
      `    Redis         ${stack.redisUrl}`,
      `    Neon HTTP     ${stack.neon.url}    Upstash REST  ${stack.upstash.url}`,
      `    Vercel Blob   ${stack.blob.url}  (in memory: its files go when dev stops)`,
      `    Stripe        ${stack.stripe.url}  (customers in memory; key in ${VARS})`,
      ...(generated ? [`    CRON_SECRET   ${secret}  (generated, saved in ${VARS}; printed only this once)`] : []),
      '  Run a cron:',
      ...cronLines(),
      '  Over HTTP (jobs and last runs; run one with /api/internal/jobs/<job>[?dryRun=1]):',
      `    curl ${auth} localhost:${PORT}/api/internal/jobs`,
      '',
    ].join('\n'),
  );
} catch (err) {
  if (!stopping) console.error(`dev: ${err instanceof Error ? err.message : String(err)}`);
  await shutdown(1);
}
