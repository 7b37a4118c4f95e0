/**
 * Runs wrangler for the deploy script. `WRANGLER` in the environment replaces the project's own
 * binary (tests put a stand-in there); wrangler runs on this process's Node, since it refuses
 * Node < 22 and the machine's own node may be older.
 */
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';

export const PROJECT_ROOT = resolve(import.meta.dirname, '../..');

export interface WranglerResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `wrangler ...args` in the project root; `echo` also streams its output through. */
export function runWrangler(args: string[], opts: { echo: boolean }): Promise<WranglerResult> {
  const bin = process.env.WRANGLER || join(PROJECT_ROOT, 'node_modules/.bin/wrangler');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    WRANGLER_SEND_METRICS: 'false',
    // Captured output is quoted in our own messages: no colour codes there.
    ...(opts.echo ? {} : { NO_COLOR: '1', FORCE_COLOR: '0' }),
  };
  return new Promise((done, fail) => {
    const child = spawn(bin, args, { cwd: PROJECT_ROOT, env, stdio: ['inherit', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (opts.echo) process.stdout.write(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (opts.echo) process.stderr.write(chunk);
    });
    child.on('error', (err) => fail(new Error(`cannot run wrangler (${bin}): ${err.message}`)));
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

/** "Total Upload: 512.34 KiB / gzip: 98.21 KiB" from wrangler's deploy output, if it printed one. */
export function bundleSize(output: string): string | undefined {
  return /Total Upload:\s*([^\n]+)/.exec(output)?.[1]?.trim();
}
