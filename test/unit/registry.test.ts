// The registry's invariants: each job declared once, its name written only in its own file, the
// cron map derived from the declarations, and a broken list refused when the Worker loads.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig, VAR_DEFAULTS } from '../../src/settings.ts';
import type { Job } from '../../src/run/job.ts';
import { checkJobs, cronMap } from '../../src/run/registry-checks.ts';
import { findJob, JOBS, jobsForCron } from '../../src/jobs/index.ts';

const SRC = new URL('../../src/', import.meta.url).pathname;
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : [join(dir, e.name)]));
// The cron map derived here independently of cronMap: each expression once, with its jobs in list order.
const CRONS = Object.fromEntries(
  [...new Set(JOBS.map((job) => job.cron))].map((cron) => [cron, JOBS.filter((job) => job.cron === cron).map((job) => job.name)]),
);
const config = parseConfig({
  ...VAR_DEFAULTS,
  DATABASE_URL: 'postgres://x/y',
  UPSTASH_REDIS_REST_URL: 'https://r',
  UPSTASH_REDIS_REST_TOKEN: 't',
  BLOB_STORE: 'r2',
});

describe('the registry', () => {
  it('writes each job name in one source file only: its own (the registry imports it by module path)', () => {
    for (const job of JOBS) {
      const files = sources(SRC).filter((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .some((line) => line.includes(job.name) && !line.startsWith(`import { `)),
      );
      expect(files.map((f) => relative(SRC, f))).toEqual([`jobs/${job.name}.ts`]);
    }
  });

  it('derives the cron map from the declarations, in list order', () => {
    expect(CRONS).toEqual(cronMap(JOBS));
    for (const [cron, names] of Object.entries(CRONS)) expect(jobsForCron(cron)?.map((j) => j.name)).toEqual(names);
    expect(jobsForCron('5 4 * * *')).toBeUndefined();
    expect(findJob('no-such-job')).toBeUndefined();
  });

  it('gives every job a description, a backlog, and a cutoff in the past when it deletes by age', () => {
    const now = new Date('2026-11-01T12:00:00Z');
    for (const job of JOBS) {
      expect(job.description.length).toBeGreaterThan(10);
      expect(job.backlog.length).toBeGreaterThan(0);
      expect(Object.keys(job.figures({ config, now }))).toEqual(expect.arrayContaining([...job.backlog, ...(job.alarm?.figures ?? [])]));
      if (job.cutoff) expect(job.cutoff({ config, now }).getTime()).toBeLessThan(now.getTime());
    }
  });

  it('refuses a duplicate name, a name that is not kebab-case, a cron without five fields, and a fourth cron', () => {
    const [first] = JOBS as readonly Job[];
    const job = (name: string, cron = first!.cron): Job => ({ ...first!, name, cron });
    expect(() => checkJobs([job('a'), job('a')])).toThrow('job "a" is declared twice');
    expect(() => checkJobs([job('Not_Kebab')])).toThrow('must be kebab-case');
    expect(() => checkJobs([job('a', '* * *')])).toThrow('must have five fields');
    expect(() => checkJobs([job('a', '1 * * * *'), job('b', '2 * * * *'), job('c', '3 * * * *'), job('d', '4 * * * *')])).toThrow(
      'at most 3',
    );
    expect(checkJobs([job('a'), job('b')])).toHaveLength(2);
  });
});
