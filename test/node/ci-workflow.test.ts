// The GitHub Actions workflow is what forks run on every push: it must parse, run on Node 22,
// run the same commands as .ci/run (the README's `npm test` included), in the same order, and
// only call npm scripts that exist.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

interface Step {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
}

const workflow = parse(read('.github/workflows/test.yml')) as {
  on: Record<string, unknown>;
  jobs: Record<string, { 'runs-on': string; steps: Step[] }>;
};
const steps = Object.values(workflow.jobs).flatMap((job) => job.steps);
/** Every shell command the workflow runs, without pipes and redirections, in order. */
const commands = steps.flatMap((s) => (s.run ?? '').split('\n')).flatMap((line) => commandOf(line));

function commandOf(line: string): string[] {
  const cmd = line.split(/\s*(?:\||&&|2>&1|>>|\s#)\s*/)[0]?.trim() ?? '';
  return /^(npm|npx) /.test(cmd) ? [cmd] : [];
}

describe('.github/workflows/test.yml', () => {
  it('runs on push and pull request, on ubuntu with Node 22', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
    expect(Object.values(workflow.jobs).map((j) => j['runs-on'])).toEqual(['ubuntu-latest']);
    const setupNode = steps.find((s) => s.uses?.startsWith('actions/setup-node@'));
    expect(String(setupNode?.with?.['node-version'])).toBe('22');
    expect(steps.some((s) => s.run?.includes('apt-get install -y redis-server'))).toBe(true);
  });

  it('runs the commands of .ci/run in the same order, the README test command among them', () => {
    const ciRun = read('.ci/run')
      .split('\n')
      .filter((line) => !line.trim().startsWith('#'))
      .flatMap((line) => commandOf(line));
    expect(ciRun.length).toBeGreaterThanOrEqual(4);
    expect(commands.filter((c) => ciRun.includes(c))).toEqual(ciRun);
    const readmeTest = /^npm test\b/m.exec(read('README.md'))?.[0];
    expect(readmeTest).toBe('npm test');
    expect(commands).toContain(readmeTest);
    expect(commands).toContain('npm run bench -- --scale 10k --check');
  });

  it('calls only npm scripts that package.json defines', () => {
    const scripts = Object.keys((JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts);
    const called = commands.flatMap((c) => /^npm run ([\w:-]+)/.exec(c)?.[1] ?? []);
    expect(called.length).toBeGreaterThan(0);
    for (const name of called) expect(scripts).toContain(name);
  });
});
