// The house drawn from the imports: a folder imports only from folders on lower lines, type-only
// imports too, so no arrow runs back up. The lines are the layering of the source tree that
// docs/architecture.md lists; a new folder takes its place here.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const LINES: readonly (readonly string[])[] = [
  ['time', 'log'],
  ['config'],
  ['db', 'redis', 'blobs', 'stripe', 'app-map'],
  ['run'],
  // The jobs, and what several jobs share, each in the folder its role names.
  ['jobs', 'events', 'files', 'holds', 'schedules', 'streams'],
  ['chain'],
  ['index', 'scheduled', 'queue', 'http', 'deps', 'settings'],
];

const SRC = new URL('../../src/', import.meta.url).pathname;
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : [],
  );

/** The part of src/ a path is in: its top folder, or a top-level file's name without extension. */
function part(path: string): string {
  const [first = ''] = relative(SRC, path).split(sep);
  return first.replace(/\.(tsx?|json)$/, '');
}

function line(path: string): number {
  const at = LINES.findIndex((names) => names.includes(part(path)));
  if (at === -1) throw new Error(`${relative(SRC, path)} sits on no line of the layering: add ${part(path)} to LINES`);
  return at + 1;
}

interface Import {
  from: string;
  /** The imported file or folder, resolved. */
  to: string;
}

/** Every relative import of src/ (static, dynamic, re-export, type-only) that stays inside src/. */
function imports(): Import[] {
  return sources(SRC).flatMap((file) =>
    ts
      .preProcessFile(readFileSync(file, 'utf8'), true, true)
      .importedFiles.filter(({ fileName }) => fileName.startsWith('.'))
      .map(({ fileName }) => ({ from: file, to: resolve(dirname(file), fileName) }))
      .filter(({ to }) => !relative(SRC, to).startsWith('..')),
  );
}

const show = ({ from, to }: Import) => `${relative(SRC, from)} → ${relative(SRC, to)}`;
const inJobs = (path: string) => part(path) === 'jobs';
const isJobList = (path: string) => /^jobs(\/index(\.ts)?)?$/.test(relative(SRC, path));

describe('the layering of src/', () => {
  it('puts every source file on a line', () => {
    for (const file of sources(SRC)) expect(line(file)).toBeGreaterThan(0);
  });

  it('has no import from a folder on a higher line', () => {
    const upward = imports().filter(({ from, to }) => line(to) > line(from));
    expect(upward.map(show)).toEqual([]);
  });

  it('has no job import another job, and nothing outside src/jobs/ import a job but through the list', () => {
    const reaching = imports().filter(({ from, to }) => inJobs(to) && (inJobs(from) ? isJobList(from) === isJobList(to) : !isJobList(to)));
    expect(reaching.map(show)).toEqual([]);
  });

  it('finds the imports it checks (a reader that finds none checks nothing)', () => {
    const found = imports().map(show);
    expect(found).toContain('run/job.ts → config/parse');
    expect(found).toContain('jobs/index.ts → run/job');
    expect(found).toContain('deps.ts → jobs');
  });
});
