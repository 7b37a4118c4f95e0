/**
 * Backlog figures and the alarms they raise, derived from the jobs' declarations: data overdue
 * for deletion, work that gave up. An alarm makes the health route answer 503 and the job's
 * heartbeat fail. Nothing here names a job; each job says what it waits on and what alarms it.
 */
import type { SQL } from 'drizzle-orm';
import type { Config } from '../config/parse';
import { figuresQuery } from '../db/backlog';
import type { Db } from '../db/client';
import { num } from '../db/rows';
import type { AsOf, Job } from './job';

export interface Alarm {
  code: string;
  job: string;
  count: number;
  message: string;
}

/** The alarm `job` raises given its figures as read, if it declares one and it stands. */
export function alarmOf(job: Job, read: Record<string, unknown>, config: Config): Alarm | undefined {
  if (!job.alarm) return undefined;
  const raised = job.alarm.raise(read, config);
  // A job's one alarm may stand under a more precise code of its own (accounts_blocked).
  return raised && { job: job.name, ...raised, code: raised.code ?? job.alarm.code };
}

/**
 * The query a run's end-of-run check sends inside its finishing request: only the figures its
 * alarm reads, so the check costs the same whatever else waits. Undefined for jobs without one.
 */
export function alarmCheck(db: Db, job: Job, at: AsOf) {
  if (!job.alarm) return undefined;
  return figuresQuery(db, pick(job.figures(at), job.alarm.figures));
}

/** The alarms standing at `at.now` across `jobs`, reading only the figures they are made of. One request. */
export async function alarmsAt(db: Db, jobs: readonly Job[], at: AsOf): Promise<Alarm[]> {
  const read = await readFigures(db, jobs, at, (job) => job.alarm?.figures ?? []);
  return jobs.flatMap((job) => alarmOf(job, read.get(job) ?? {}, at.config) ?? []);
}

/** Per job, the backlog the listing shows; and the alarms standing. One request. */
export async function backlogAt(db: Db, jobs: readonly Job[], at: AsOf) {
  const read = await readFigures(db, jobs, at, (job) => [...new Set([...job.backlog, ...(job.alarm?.figures ?? [])])]);
  const byJob = new Map(jobs.map((job) => [job.name, Object.fromEntries(job.backlog.map((name) => [name, num(read.get(job)?.[name])]))]));
  const alarms = jobs.flatMap((job) => alarmOf(job, read.get(job) ?? {}, at.config) ?? []);
  return { byJob, alarms };
}

/** The figures `which` picks of every job, in one SELECT; per job, back under their own names. */
async function readFigures(db: Db, jobs: readonly Job[], at: AsOf, which: (job: Job) => readonly string[]) {
  const all: Record<string, SQL> = {};
  jobs.forEach((job, j) => {
    for (const [name, figure] of Object.entries(pick(job.figures(at), which(job)))) all[`${j}/${name}`] = figure;
  });
  const { query, read } = figuresQuery(db, all);
  const row = read((await query).rows[0]);
  return new Map(jobs.map((job, j) => [job, Object.fromEntries(which(job).map((name) => [name, row[`${j}/${name}`]]))]));
}

function pick(figures: Record<string, SQL>, names: readonly string[]): Record<string, SQL> {
  return Object.fromEntries(names.flatMap((name) => (figures[name] ? [[name, figures[name]]] : [])));
}
