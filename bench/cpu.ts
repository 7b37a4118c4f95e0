/**
 * CPU time per Worker invocation, measured from outside. Inside workerd, `performance.now()` and
 * `Date.now()` do not advance while code runs (a Spectre mitigation), so the Worker cannot time its
 * own CPU. Instead: the Worker runs under `wrangler dev`, invocations are sent one at a time, and
 * the on-CPU time of every thread of the workerd process is read from
 * /proc/<pid>/task/<tid>/schedstat (first field, nanoseconds) before and after each one.
 *
 * How it relates to Cloudflare's accounting: Cloudflare bills the CPU of the invocation's own
 * isolate (JavaScript, JSON, Drizzle, our code; waiting on fetch does not count). This figure also
 * holds everything else workerd does for the invocation — the HTTP parsing of the request and of
 * every subrequest's response, Miniflare's loopback proxy and queue broker, logging to stdout —
 * so it over-counts: a figure under the limit here is under it there too.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeJson, writeMarkedSection } from './write.ts';

export interface Percentiles {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** The workerd process started (through wrangler and Node) under `rootPid`. */
export function findWorkerd(rootPid: number): number {
  const children = new Map<number, number[]>();
  const names = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
      const close = stat.lastIndexOf(')');
      const ppid = Number(stat.slice(close + 2).split(' ')[1]);
      names.set(Number(entry), stat.slice(stat.indexOf('(') + 1, close));
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const queue = [rootPid];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (pid !== rootPid && names.get(pid)?.startsWith('workerd')) return pid;
    queue.push(...(children.get(pid) ?? []));
  }
  throw new Error(`no workerd process under pid ${rootPid}`);
}

/** On-CPU nanoseconds of all threads of `pid` so far. */
export function cpuNs(pid: number): number {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // thread ended between the listing and the read
    }
  }
  return total;
}

/** Runs `invoke` alone and returns its result and the workerd CPU milliseconds it took. */
export async function measureCpu<T>(pid: number, invoke: () => Promise<T>): Promise<{ value: T; cpuMs: number }> {
  const before = cpuNs(pid);
  const value = await invoke();
  return { value, cpuMs: (cpuNs(pid) - before) / 1e6 };
}

export function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
  const round = (n: number) => Math.round(n * 100) / 100;
  return { n: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted.at(-1) ?? 0) };
}

export const CPU_START = '<!-- bench:cpu:start -->';
export const CPU_END = '<!-- bench:cpu:end -->';
/** Workers Free: CPU per invocation, crons and queue consumers alike. */
export const FREE_CPU_MS = 10;

/**
 * Adds the CPU figures to summary.json (`cpuMs`: this run's; `cpuMsByScale`: the last run of each
 * scale) and writes bench/README.md's CPU section, one table per scale.
 */
export async function writeCpu(dir: string, scale: string, cpu: Record<string, number[]>): Promise<void> {
  const figures = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, percentiles(v)]));
  const summaryPath = join(dir, 'results/summary.json');
  let summary: Record<string, unknown> = {};
  try {
    summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as Record<string, unknown>;
  } catch {
    // first run
  }
  const byScale = { ...(summary.cpuMsByScale as Record<string, Record<string, Percentiles>> | undefined), [scale]: figures };
  await writeJson(summaryPath, { ...summary, cpuMsScale: scale, cpuMs: figures, cpuMsByScale: byScale });
  const tables = Object.entries(byScale).flatMap(([s, f]) => [
    '',
    `**${s}** (wrangler.toml defaults; workerd CPU per invocation, ms):`,
    '',
    '| invocation | n | p50 | p99 | max | max ≤ 10 ms |',
    '|---|---|---|---|---|---|',
    ...Object.entries(f).map(
      ([k, p]) =>
        `| ${k} | ${p.n} | ${p.p50.toFixed(2)} | ${p.p99.toFixed(2)} | ${p.max.toFixed(2)} | ${p.max <= FREE_CPU_MS ? 'yes' : '**no**'} |`,
    ),
  ]);
  const body = [
    'Written by `npm run bench` (the last run of each scale). The `floor` row is a request refused before any work: what workerd spends around any invocation here.',
    ...tables,
    '',
  ].join('\n');
  writeMarkedSection(join(dir, 'README.md'), CPU_START, CPU_END, body);
}
