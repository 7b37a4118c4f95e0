/**
 * `npm run bench [-- --layout spacerr|snake-plural|prisma-defaults] [--scale 10k|100k|1m ...] [--check] [--batch-size N] [--rtt-ms N] [--var NAME=VALUE]`: per scale, builds the
 * dataset once into a template database, clones it for each contender (the Worker, the raw-SQL
 * limit, the naive statements), runs every job on each, then times the app's own writes with and
 * without the Worker's triggers and an app insert during `migrateDatabase`, and writes
 * `bench/results/<scale>[-<layout>].json` (no suffix for snake-plural, the layout of the older files).
 * The layout (default spacerr) is the app's tables (fixtures/<layout>/) and the map the Worker bundles.
 * A run of more than one scale also writes the summary (`bench/results/summary.md`, the charts,
 * and the results section of `bench/README.md`). `--check` validates the written files' shape;
 * `--check-file <path>` validates result files already written, without running anything.
 * Exit codes: 0 done, 1 the bench or a check failed, 2 bad arguments.
 * Not a test: it measures and never judges a time.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startNeonHttp } from '../scripts/stack/neon-http.ts';
import { startEmbeddedPostgres } from '../scripts/stack/postgres.ts';
import { startRedisServer } from '../scripts/stack/redis.ts';
import { startUpstashRest } from '../scripts/stack/upstash-rest.ts';
import { wranglerConfig } from '../scripts/wrangler-config.ts';
import { checkResult } from './check.ts';
import { writeCpu } from './cpu.ts';
import { appWriteCost, installWait } from './app-writes.ts';
import { aroundCost } from './around.ts';
import { buildTemplate, cloneDatabase, cloneNaive, SCALES, type Scale } from './dataset.ts';
import { benchJobs } from './jobs.ts';
import { benchLayout, LEGACY_LAYOUT, parseLayout } from './layout.ts';
import { connect, countRows, explain } from './measure.ts';
import { writeServerWritesSection, writeSummary } from './report.ts';
import type { Machine, ScaleResult } from './result.ts';
import { writeJson } from './write.ts';
import { runSqlContender } from './sql-contender.ts';
import { type QueryLog, runWorkerContender } from './worker-contender.ts';

const RESULTS_DIR = join(import.meta.dirname, 'results');

const { values } = parseArgs({
  options: {
    scale: { type: 'string', multiple: true },
    layout: { type: 'string' },
    'app-writes': { type: 'string', default: '1500' },
    check: { type: 'boolean', default: false },
    'check-file': { type: 'string', multiple: true },
    'batch-size': { type: 'string' },
    'rtt-ms': { type: 'string', default: '0' },
    var: { type: 'string', multiple: true },
  },
});
const scales = (values.scale ?? Object.keys(SCALES)).flatMap((s) => s.split(',')).map((s) => s.trim().toLowerCase());
for (const s of scales) {
  if (!(s in SCALES)) usage(`--scale: expected one of ${Object.keys(SCALES).join(', ')}, got "${s}"`);
}
const batchSize = values['batch-size'];
if (batchSize !== undefined && !/^[1-9]\d*$/.test(batchSize)) usage(`--batch-size: expected a whole number, got "${batchSize}"`);
const vars: Record<string, string> = batchSize ? { DELETE_BATCH_SIZE: batchSize } : {};
// `--var BATCH_TARGET_MS=0`: any other [vars] setting of the Worker for this run, recorded in the results.
for (const v of values.var ?? []) {
  const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(v);
  if (!m) usage(`--var: expected NAME=VALUE, got "${v}"`);
  vars[m[1]!] = m[2]!;
}
// Added latency per request in the local Neon and Upstash endpoints (scripts/stack/latency.ts).
const rttMs = Number(values['rtt-ms']);
if (!/^\d+$/.test(values['rtt-ms'] ?? '')) usage(`--rtt-ms: expected a whole number of milliseconds, got "${values['rtt-ms']}"`);
let layout: ReturnType<typeof parseLayout>;
try {
  layout = parseLayout(values.layout);
} catch (err) {
  usage((err as Error).message);
}
const L = benchLayout(layout);
const BENCH_JOBS = benchJobs(L);
// App writes of each kind timed with the triggers off, and as many with them on.
const appWritesN = Number(values['app-writes']);
if (!/^[1-9]\d*$/.test(values['app-writes'] ?? '')) usage(`--app-writes: expected a whole number, got "${values['app-writes']}"`);
/**
 * A run with added latency is written beside the loopback one (`1m-rtt25.json`), a run on another
 * layout than the older files' snake-plural beside those (`10k-spacerr.json`).
 */
const suffix = `${layout === LEGACY_LAYOUT ? '' : `-${layout}`}${rttMs > 0 ? `-rtt${rttMs}` : ''}`;

try {
  if (values['check-file']) checkFiles(values['check-file']);
  else await run();
} catch (err) {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}

function usage(message: string): never {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(2);
}

function checkFiles(paths: string[]) {
  for (const path of paths) checkResult(JSON.parse(readFileSync(path, 'utf8')) as ScaleResult);
  process.stderr.write(`bench: ${paths.length} result file(s) have the expected shape\n`);
}

async function run() {
  const stops: Array<() => Promise<void>> = [];
  try {
    let adminUrl = process.env.DATABASE_URL;
    if (!adminUrl) {
      const postgres = await startEmbeddedPostgres({ dataDir: '.stack/bench/pg' });
      stops.unshift(postgres.stop);
      adminUrl = postgres.adminUrl;
    }
    const redis = await startRedisServer();
    stops.unshift(redis.stop);
    const log: QueryLog = { queries: [] };
    const neon = await startNeonHttp({ onQuery: (t) => log.queries.push(t), rttMs });
    stops.unshift(neon.close);
    const upstash = await startUpstashRest({ redisUrl: redis.url, rttMs });
    stops.unshift(upstash.close);
    const upstashToken = randomBytes(16).toString('hex');
    upstash.addToken(upstashToken, 0);

    const machine = await machineInfo(adminUrl);
    const written: ScaleResult[] = [];
    const cpuRuns: Array<{ scale: string; cpu: Record<string, number[]> }> = [];
    mkdirSync(RESULTS_DIR, { recursive: true });
    for (const scale of scales as Scale[]) {
      const chats = SCALES[scale];
      process.stderr.write(`bench ${scale}: building ${chats} chats (${layout})\n`);
      const started = performance.now();
      const template = `bench_${scale}_template`;
      const templateUrl = await buildTemplate(adminUrl, template, chats, L);
      const buildMs = performance.now() - started;
      const rows = await withClient(templateUrl, (c) => countRows(c, L));

      process.stderr.write(`bench ${scale}: limit\n`);
      // With added latency the limit's statement pays it too: one request over the Worker's link.
      const limit = await runSqlContender(
        await cloneDatabase(adminUrl, template, 'bench_limit'),
        L,
        BENCH_JOBS,
        'limit',
        rttMs > 0 ? { neonUrl: neon.url } : undefined,
      );
      process.stderr.write(`bench ${scale}: naive\n`);
      const naiveDb = await cloneNaive(adminUrl, template, 'bench_naive', L);
      const naive = await runSqlContender(naiveDb.url, L, BENCH_JOBS, 'naive');
      process.stderr.write(`bench ${scale}: worker\n`);
      log.queries.length = 0;
      const worker = await runWorkerContender(
        {
          databaseUrl: await cloneDatabase(adminUrl, template, 'bench_worker'),
          neonUrl: neon.url,
          upstashUrl: upstash.url,
          upstashToken,
          vars,
        },
        L,
        BENCH_JOBS,
        log,
      );
      // The Worker's first batch of each job, explained on fresh data: the index paths it takes.
      const firstBatchPlans: Record<string, string> = {};
      await withClient(await cloneDatabase(adminUrl, template, 'bench_explain'), async (c) => {
        for (const [job, q] of Object.entries(worker.firstBatches)) firstBatchPlans[job] = (await explain(c, q.query, q.params)).plan;
      });
      process.stderr.write(`bench ${scale}: app writes with and without the triggers\n`);
      const appWrites = await appWriteCost(await cloneDatabase(adminUrl, template, 'bench_writes'), L, appWritesN);
      process.stderr.write(`bench ${scale}: app inserts during migrateDatabase\n`);
      const install = await installWait(await cloneDatabase(adminUrl, template, 'bench_install'), L, chats);
      process.stderr.write(`bench ${scale}: app writes before and after an app migration through db:migrate --around\n`);
      const around = await aroundCost(await cloneDatabase(adminUrl, template, 'bench_around'), L, appWritesN);
      const result: ScaleResult = {
        scale,
        chats,
        layout,
        startedAt: new Date().toISOString(),
        machine,
        settings: {
          DELETE_BATCH_SIZE: batchSize ?? tomlVar('DELETE_BATCH_SIZE'),
          RUN_SUBREQUEST_BUDGET: tomlVar('RUN_SUBREQUEST_BUDGET'),
          BATCH_TARGET_MS: tomlVar('BATCH_TARGET_MS'),
          ...vars,
          ...(rttMs > 0 ? { rttMs: String(rttMs) } : {}),
        },
        dataset: { buildMs, rows },
        jobs: Object.fromEntries(
          BENCH_JOBS.map((j) => [j.name, { worker: worker.results[j.name]!, limit: limit[j.name]!, naive: naive[j.name]! }]),
        ),
        firstBatchPlans,
        naiveDroppedIndexes: naiveDb.dropped,
        appWrites,
        install,
        around,
      };
      await writeJson(join(RESULTS_DIR, `${scale}${suffix}.json`), result);
      if (rttMs === 0) cpuRuns.push({ scale: `${scale}${suffix}`, cpu: worker.cpu });
      written.push(result);
      await withClient(adminUrl, async (c) => {
        for (const db of [
          'bench_limit',
          'bench_naive',
          'bench_worker',
          'bench_explain',
          'bench_writes',
          'bench_install',
          'bench_around',
          template,
        ]) {
          await c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
        }
      });
    }
    if (written.length > 1 && rttMs === 0) await writeSummary(written);
    if (rttMs === 0) writeServerWritesSection();
    // CPU per invocation at every scale run (summary.json's cpuMsByScale); the smallest is written
    // last, so `cpuMs` holds the figures of the smoke size CI runs.
    for (const run of cpuRuns.reverse()) await writeCpu(import.meta.dirname, run.scale, run.cpu);
    if (values.check) {
      for (const result of written) checkResult(result, { current: true });
      process.stderr.write(`bench: ${written.length} result file(s) have the expected shape\n`);
    }
  } finally {
    for (const stop of stops) await stop().catch(() => {});
  }
}

/** A [vars] default from wrangler.toml, for the record of what the Worker ran with. */
function tomlVar(name: string): string {
  return wranglerConfig().vars[name] ?? 'unknown';
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = await connect(url);
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

async function machineInfo(adminUrl: string): Promise<Machine> {
  const version = await withClient(adminUrl, async (c) => (await c.query('SHOW server_version')).rows[0].server_version as string);
  return {
    nproc: availableParallelism(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    cpu: cpus()[0]?.model ?? 'unknown',
    postgres: version,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}
