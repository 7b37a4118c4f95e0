/**
 * The summary of a multi-scale run: the bench's targets (bench/README.md) as ratios measured in that one run, a
 * markdown table per scale, two charts of cost against table size, written to
 * `bench/results/summary.{md,json}`, `bench/results/*.svg` and between the markers of
 * `bench/README.md`; and, after any loopback run, README's table of the app's writes timed
 * inside Postgres.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WRITE_KINDS } from './app-writes.ts';
import { logLogChart } from './chart.ts';
import { SCALES } from './dataset.ts';
import { benchJobs } from './jobs.ts';
import { benchLayout, LEGACY_LAYOUT, parseLayout } from './layout.ts';
import { CONTENDERS, type ScaleResult } from './result.ts';
import { writeJson, writeMarkedSection } from './write.ts';

const DIR = import.meta.dirname;
const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';
/** The Free plan's subrequests per invocation. */
const FREE_SUBREQUESTS = 50;

/** The issue's targets, from the smallest and largest scale of the run. */
export function targets(results: ScaleResult[]) {
  const small = results[0]!;
  const large = results[results.length - 1]!;
  const jobs = benchJobsOf(small).map((j) => {
    const w = large.jobs[j.name]!.worker;
    const noopSmall = small.jobs[j.name]!.worker.noop;
    return {
      job: j.name,
      r2Bound: Boolean(j.r2),
      throughputVsLimit: w.rowsPerSec / large.jobs[j.name]!.limit.rowsPerSec,
      // A plan that touched no buffer at all counts as one: 0 → 0 is "the same", not "infinitely better".
      noopBuffersRatio: Math.max(1, w.noop.buffers) / Math.max(1, noopSmall.buffers),
      noopDbMsRatio: w.noop.dbMs / Math.max(0.001, noopSmall.dbMs),
      maxOverheadPerRun: Math.max(...results.map((r) => r.jobs[j.name]!.worker.maxOverheadPerRun)),
      maxSubrequestsPerRun: Math.max(...results.map((r) => r.jobs[j.name]!.worker.maxSubrequestsPerRun)),
    };
  });
  return {
    smallScale: small.scale,
    largeScale: large.scale,
    jobs,
    longestStatementMs: Object.fromEntries(
      results.map((r) => [r.scale, Math.max(...benchJobsOf(r).map((j) => r.jobs[j.name]!.worker.longestStatementMs))]),
    ),
    fitsFreePlan: jobs.every((j) => j.maxSubrequestsPerRun <= FREE_SUBREQUESTS),
  };
}

/** Writes the summary files and the README section for a run over several scales. */
export async function writeSummary(results: ScaleResult[]): Promise<void> {
  const t = targets(results);
  await writeJson(join(DIR, 'results/summary.json'), t);
  for (const [file, chart] of Object.entries(charts(results))) writeFileSync(join(DIR, 'results', file), chart);
  const md = summaryMarkdown(results, t);
  writeFileSync(join(DIR, 'results/summary.md'), md);
  writeMarkedSection(join(DIR, 'README.md'), START, END, md);
}

function summaryMarkdown(results: ScaleResult[], t: ReturnType<typeof targets>): string {
  const m = results[0]!.machine;
  const out = [
    `Run of ${results[results.length - 1]!.startedAt.slice(0, 10)} on ${m.nproc} cores (${m.cpu}), ${m.memoryGiB} GiB, ` +
      `Postgres ${m.postgres}, Node ${m.node}, ${m.platform}; layout ${results[0]!.layout ?? LEGACY_LAYOUT}; DELETE_BATCH_SIZE ${results[0]!.settings.DELETE_BATCH_SIZE}.`,
    '',
    `### Targets (${t.largeScale} vs ${t.smallScale}, one run)`,
    '',
    '| job | throughput vs limit at ' +
      t.largeScale +
      ' (≥ 0.8) | no-op buffers ' +
      t.largeScale +
      '/' +
      t.smallScale +
      ' (≤ 2) | no-op DB time ratio | overhead subrequests per run (≤ 2) | max subrequests per run (≤ 50) |',
    '|---|---|---|---|---|---|',
    ...t.jobs.map(
      (j) =>
        `| ${j.job}${j.r2Bound ? ' (R2-bound)' : ''} | ${j.throughputVsLimit.toFixed(2)} | ${j.noopBuffersRatio.toFixed(2)} | ${j.noopDbMsRatio.toFixed(2)} | ${j.maxOverheadPerRun} | ${j.maxSubrequestsPerRun} |`,
    ),
    '',
    `Longest single statement of the Worker (≤ 1000 ms): ${Object.entries(t.longestStatementMs)
      .map(([s, ms]) => `${s} ${ms.toFixed(0)} ms`)
      .join(', ')}.`,
    '',
    '![no-op cost](results/noop-cost.svg) ![wall time](results/wall-time.svg)',
    '',
  ];
  for (const r of results) {
    out.push(
      `### ${r.scale} chats (${Object.entries(r.dataset.rows)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}; built in ${(r.dataset.buildMs / 1000).toFixed(1)} s)`,
      '',
    );
    out.push(
      '| job | contender | rows deleted | wall ms | DB ms | rows/s | statements | subrequests (runs) | longest transaction ms | no-op DB ms | no-op buffers |',
    );
    out.push('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const j of benchJobsOf(r)) {
      for (const c of CONTENDERS) {
        const x = r.jobs[j.name]![c];
        out.push(
          `| ${j.name} | ${c} | ${x.rowsDeleted} | ${x.wallMs.toFixed(0)} | ${(x.dbMs ?? x.wallMs).toFixed(0)} | ${x.rowsPerSec.toFixed(0)} | ${x.statements} | ${x.subrequests} (${x.runs}) | ${x.longestStatementMs.toFixed(1)} | ${x.noop.dbMs.toFixed(2)} | ${x.noop.buffers} |`,
        );
      }
    }
    out.push('', ...appCostMarkdown([r]), '');
  }
  return out.join('\n');
}

/** The jobs of a result, in the order they ran, as the layout defines them (bench/jobs.ts). */
function benchJobsOf(r: ScaleResult) {
  return benchJobs(benchLayout(parseLayout(r.layout ?? LEGACY_LAYOUT))).filter((j) => r.jobs[j.name]);
}

/** The app's write cost with and without the Worker's triggers, and the install's wait, per scale (as ratios). */
export function appCostMarkdown(results: ScaleResult[]): string[] {
  const out: string[] = [];
  const measured = results.filter((r) => r.appWrites && r.install);
  if (measured.length === 0) return out;
  out.push(
    '| scale | layout | app write | n | µs without triggers | µs with | added µs | with / without | pairs of rounds, min – max |',
    '|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of measured) {
    for (const kind of WRITE_KINDS) {
      const k = r.appWrites!.kinds[kind];
      const spread = k?.spread ? `${k.spread.min.toFixed(2)} – ${k.spread.max.toFixed(2)}` : '–';
      out.push(
        k
          ? `| ${r.scale} | ${r.layout} | ${kind} | ${k.n} | ${k.withoutUs.toFixed(0)} | ${k.withUs.toFixed(0)} | ${(k.withUs - k.withoutUs).toFixed(0)} | ${k.ratio.toFixed(2)} | ${spread} |`
          : `| ${r.scale} | ${r.layout} | ${kind} | – | – | – | – | – | skipped: ${r.appWrites!.skipped[kind] ?? ''} |`,
      );
    }
  }
  const server = serverWritesMarkdown(measured);
  if (server.length > 0) out.push('', ...server);
  out.push(
    '',
    '| scale | layout | install (migrateDatabase) ms | steps | retries | app inserts during it | longest insert ms (≤ 100 at 1m) | p99 ms | > 50 ms | > 100 ms | baseline: longest ms, > 100 ms | slowest insert during |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of measured) {
    const i = r.install!;
    const slowest = i.slowInserts?.[0]?.step ?? '–';
    out.push(
      `| ${r.scale} | ${r.layout} | ${i.installMs.toFixed(0)} | ${i.steps} | ${i.retries} | ${i.inserts} | ${i.maxInsertMs.toFixed(1)} | ${i.p99InsertMs.toFixed(1)} | ${i.over50Ms} | ${i.over100Ms} | ${i.baseline.maxInsertMs.toFixed(1)}, ${i.baseline.over100Ms ?? '–'} | ${slowest} |`,
    );
  }
  return out;
}

/**
 * The app's writes timed inside Postgres beside the client-side timing of the same run, per
 * scale and kind (results without the in-server timing left out).
 */
export function serverWritesMarkdown(results: ScaleResult[]): string[] {
  const timed = results.filter((r) => r.appWrites?.server);
  if (timed.length === 0) return [];
  // clock_timestamp() counts whole µs.
  const us = (v: number) => v.toFixed(0);
  const out = [
    '| scale | layout | app write | n | server µs without triggers | with | added µs | with / without | pairs of blocks: added µs q1 – q3 (min – max) | client µs without | with | added µs | load average, server (client) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of timed) {
    const w = r.appWrites!;
    const s = w.server!;
    const load = `${s.loadAverage.start.toFixed(1)}–${s.loadAverage.end.toFixed(1)} (${w.loadAverage ? `${w.loadAverage.start.toFixed(1)}–${w.loadAverage.end.toFixed(1)}` : '–'})`;
    for (const kind of WRITE_KINDS) {
      const k = s.kinds[kind];
      const c = w.kinds[kind];
      if (!k || !c) continue;
      const a = k.addedSpread;
      out.push(
        `| ${r.scale} | ${r.layout} | ${kind} | ${k.n} | ${us(k.withoutUs)} | ${us(k.withUs)} | ${us(k.addedUs)} | ${k.ratio.toFixed(2)} | ${us(a.q1)} – ${us(a.q3)} (${us(a.min)} – ${us(a.max)}) | ${c.withoutUs.toFixed(0)} | ${c.withUs.toFixed(0)} | ${(c.withUs - c.withoutUs).toFixed(0)} | ${load} |`,
      );
    }
  }
  return out;
}

/** The app's writes before and after an app migration through `db:migrate --around`, and pinned against unpinned, per scale and kind. */
export function aroundMarkdown(results: ScaleResult[]): string[] {
  const timed = results.filter((r) => r.around?.pinning);
  if (timed.length === 0) return [];
  const us = (v: number) => v.toFixed(0);
  const out = [
    '| scale | layout | app write | triggers off → on, before: µs added (with / without) | after the migration through --around | pinned − unpinned µs, side by side | definitions after = before | --around ms |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of timed) {
    const a = r.around!;
    for (const kind of WRITE_KINDS) {
      const k = a.kinds[kind];
      if (!k) continue;
      out.push(
        `| ${r.scale} | ${r.layout} | ${kind} | ${us(k.beforeAddedUs)} (${k.beforeRatio.toFixed(2)}) | ${us(k.afterAddedUs)} (${k.afterRatio.toFixed(2)}) | ${us(k.pinnedMinusUnpinnedUs)} | ${a.definitionsUnchanged ? 'yes' : 'no'} | ${a.aroundMs.toFixed(0)} |`,
      );
    }
  }
  return out;
}

const WRITES_START = '<!-- bench:app-writes:start -->';
const WRITES_END = '<!-- bench:app-writes:end -->';
const AROUND_START = '<!-- bench:around:start -->';
const AROUND_END = '<!-- bench:around:end -->';

/**
 * Writes bench/README.md's in-server app-write section from every loopback result file in
 * `results/` that has the in-server timing (`<scale>[-<layout>].json`), by layout, then scale.
 */
export function writeServerWritesSection(): void {
  const scales = Object.keys(SCALES);
  // `1m-spacerr-rtt25.json` (added latency) does not match: its layout part holds digits.
  const files = readdirSync(join(DIR, 'results'))
    .map((f) => /^(\w+?)(?:-([a-z-]+))?\.json$/.exec(f))
    .filter((m): m is RegExpExecArray => m !== null && scales.includes(m[1]!))
    .map((m) => ({ layout: m[2] ?? LEGACY_LAYOUT, scale: m[1]!, file: m[0] }))
    .sort((a, b) => a.layout.localeCompare(b.layout) || scales.indexOf(a.scale) - scales.indexOf(b.scale));
  const results = files.map((f) => JSON.parse(readFileSync(join(DIR, 'results', f.file), 'utf8')) as ScaleResult);
  const body = [
    'Written by `npm run bench` from every `results/<scale>-<layout>.json` that has the in-server timing (`appWrites.server`).',
    '',
    ...serverWritesMarkdown(results),
    '',
  ].join('\n');
  writeMarkedSection(join(DIR, 'README.md'), WRITES_START, WRITES_END, body);
  const around = aroundMarkdown(results);
  if (around.length > 0) {
    writeMarkedSection(
      join(DIR, 'README.md'),
      AROUND_START,
      AROUND_END,
      [
        'Written by `npm run bench` from every `results/<scale>-<layout>.json` that has `around` (bench/around.ts).',
        '',
        ...around,
        '',
      ].join('\n'),
    );
  }
}

function charts(results: ScaleResult[]): Record<string, string> {
  const sum = (r: ScaleResult, c: (typeof CONTENDERS)[number], f: (x: ScaleResult['jobs'][string]['worker']) => number) =>
    benchJobsOf(r).reduce((s, j) => s + f(r.jobs[j.name]![c]), 0);
  const series = (f: Parameters<typeof sum>[2]) =>
    CONTENDERS.map((c) => ({ name: c, points: results.map((r) => [r.chats, sum(r, c, f)] as [number, number]) }));
  return {
    'noop-cost.svg': logLogChart({
      title: 'No-op run: buffers touched (all jobs)',
      xLabel: 'chats in the table',
      yLabel: 'shared buffers',
      series: series((x) => x.noop.buffers),
    }),
    'wall-time.svg': logLogChart({
      title: 'Deleting the stale rows: wall time (all jobs)',
      xLabel: 'chats in the table',
      yLabel: 'ms',
      series: series((x) => x.wallMs),
    }),
  };
}
