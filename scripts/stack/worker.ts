/**
 * The Worker as a process: `wrangler dev` on a free loopback port with the given settings, its
 * output captured line by line (the Worker's JSON log lines included). Used by the soak driver,
 * the bench and the CLI tests — anything that drives the Worker from Node the way an operator
 * would, over HTTP and `/__scheduled`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutMapFile, testLayout } from './migrate.ts';
import { freePort } from './ports.ts';

export interface LocalWorker {
  url: string;
  port: number;
  /** The `wrangler dev` process (workerd runs under it). */
  pid: number;
  /** Every line wrangler and the Worker printed so far (stdout and stderr). */
  lines: string[];
  /** The Worker's JSON log lines so far, parsed. */
  events(): Array<Record<string, unknown>>;
  /** Calls `/__scheduled?cron=…` the way the dashboard's cron trigger would. */
  triggerCron(cron: string): Promise<Response>;
  stop(): Promise<void>;
}

export interface LocalWorkerOptions {
  /** Settings on top of wrangler.toml [vars] (secrets, endpoints, overrides). */
  vars: Record<string, string>;
  /** Project root (wrangler.toml's folder). */
  cwd?: string;
  /** Echo the Worker's output to this process's stderr. */
  echo?: boolean;
  startTimeoutMs?: number;
  /** The app map to bundle instead of app-map.json (default: the test layout's, scripts/stack/migrate.ts). */
  appMapFile?: string;
}

const WRANGLER = 'node_modules/.bin/wrangler';

export async function startLocalWorker(opts: LocalWorkerOptions): Promise<LocalWorker> {
  const cwd = opts.cwd ?? process.cwd();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'spacerr-worker-'));
  // An env file keeps secrets out of `ps`; wrangler then reads neither .dev.vars nor .env.
  const envFile = join(dir, 'vars.env');
  writeFileSync(
    envFile,
    Object.entries(opts.vars)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join('\n'),
    { mode: 0o600 },
  );
  const child: ChildProcess = spawn(
    WRANGLER,
    [
      'dev',
      '--test-scheduled',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(await freePort()),
      '--env-file',
      envFile,
      '--persist-to',
      join(dir, 'state'),
      '--show-interactive-dev-session=false',
      '--log-level',
      'log',
      // The map of the app layout the stack's database has (src/app-map/index.ts).
      '--define',
      `SPACERR_APP_MAP:${readFileSync(opts.appMapFile ?? layoutMapFile(testLayout()), 'utf8').replace(/\s+/g, ' ')}`,
    ],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', WRANGLER_SEND_METRICS: 'false', CI: '1' } },
  );
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null) => {
    let rest = '';
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (opts.echo) process.stderr.write(`${line}\n`);
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited before it was ready:\n${lines.slice(-30).join('\n')}`);
    }
    if (lines.some((l) => l.includes('Ready on'))) {
      try {
        await fetch(`${url}/__ready`, { signal: AbortSignal.timeout(5000) });
        break;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not get ready in time:\n${lines.slice(-30).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    url,
    port,
    pid: child.pid ?? 0,
    lines,
    events: () => lines.flatMap((line) => parseEvent(line)),
    triggerCron: (cron) => fetch(`${url}/__scheduled?cron=${encodeURIComponent(cron)}`),
    stop,
  };
}

function parseEvent(raw: string): Array<Record<string, unknown>> {
  // wrangler colours console.warn/error lines (`✘ [ERROR] {…}` in ANSI codes) despite NO_COLOR.
  // eslint-disable-next-line no-control-regex
  const line = raw.replace(/\x1b\[[0-9;]*m/g, '');
  const start = line.indexOf('{"level"');
  if (start < 0) return [];
  try {
    return [JSON.parse(line.slice(start)) as Record<string, unknown>];
  } catch {
    return [];
  }
}
