/**
 * What a job is: one declaration in its own file under src/jobs/ — its name, its schedule, its
 * backlog figures and alarm, and its run. The machinery (registry, runner, listing, alarms)
 * derives everything else from these declarations and never names a job.
 */
import type { SQL } from 'drizzle-orm';
import type { BlobStores } from '../blobs/store';
import type { Config } from '../config/parse';
import type { Setting } from '../config/settings';
import type { Db } from '../db/client';
import type { RedisClient } from '../redis/client';
import type { StripeClient } from '../stripe/client';
import { num } from '../db/rows';
import type { Budget } from './budget';

/** The clients a job talks to, built once per invocation (src/deps.ts). */
export interface JobDeps {
  db: Db;
  redis: RedisClient;
  /** The file stores (src/blobs/): the one BLOB_STORE names, and any other an outbox row names. */
  blobs: BlobStores;
  /** Stripe, when STRIPE_SECRET_KEY is set (undefined: Stripe erasure is off). */
  stripe?: StripeClient | undefined;
}

/**
 * What one Worker event (a cron delivery, a queue message, an HTTP request) hands a run: the
 * clients and the config built once for it (src/deps.ts).
 */
export interface Invocation extends JobDeps {
  config: Config;
}

/** The settings and the reference time a cutoff or a figure is computed from. */
export interface AsOf {
  config: Config;
  /** The run's (or the listing's) reference time: never the clock. */
  now: Date;
}

export interface JobContext extends JobDeps, AsOf {
  budget: Budget;
  /** Count what would be deleted; delete nothing. */
  dryRun: boolean;
  /** This run's id, as job_runs records it (events name the run that deleted a user). */
  runId: string;
  /** For a job with `target`: the one item this run is for (an operator's run), else undefined. */
  target?: string | undefined;
}

export interface JobOutcome {
  /** Rows or keys per table/store touched (or, in a dry run, that would be). */
  counts: Record<string, number>;
  /** True when the run stopped at its budget with work left for the next run. */
  more: boolean;
}

/** An alarm a job's finished run can leave standing: the health route answers 503, the heartbeat fails. */
export interface JobAlarm<F extends string = string> {
  /** Stable code, as the health route and the run report show it. */
  readonly code: string;
  /** The figures (of the job's own) the check reads: only these, in the run's finishing request. */
  readonly figures: readonly F[];
  /** The alarm standing given those figures as read, or undefined when all is well. */
  raise(read: Readonly<Record<F, unknown>>, config: Config): { count: number; message: string; code?: string } | undefined;
}

/**
 * The alarm of an outbox whose figure `parked` counts the rows that gave up: raised while any is
 * parked, with `message(count, config)` saying what and where to look.
 */
export function parkedAlarm(code: string, message: (count: number, config: Config) => string): JobAlarm<'parked'> {
  return {
    code,
    figures: ['parked'],
    raise(read, config) {
      const count = num(read.parked);
      return count === 0 ? undefined : { count, message: message(count, config) };
    },
  };
}

/** When a job runs: one of the named schedules (src/schedules/). */
export interface Schedule {
  /** Five fields, UTC, as Cloudflare reads it: one of wrangler.toml [triggers] crons (a test checks). */
  readonly cron: string;
  /** The tick: the frequent schedule of the sweeps (src/chain/tick.ts). A job on it is a sweep. */
  readonly tick?: true;
}

/** One job as its file declares it. `F` names its figures. */
export interface JobSpec<Name extends string = string, F extends string = string, S extends readonly Setting[] = readonly Setting[]> {
  /** Route name, module name and log name. */
  readonly name: Name;
  readonly description: string;
  readonly schedule: Schedule;
  /**
   * The settings of its own (src/config/settings.ts says how one is declared); its module adds
   * their fields to `Config`. Another job may read them too.
   */
  readonly settings?: S;
  /**
   * Rows older than this are due, as of `now` (jobs that delete by age). The run and the
   * listing's backlog both use it, so they cannot drift apart.
   */
  readonly cutoff?: (at: AsOf) => Date;
  /**
   * What is waiting, as SQL scalar expressions (counts capped at BACKLOG_CAP), read in one request
   * with every other job's. Each walks an index, so the listing costs the same on any table size.
   */
  figures(at: AsOf): Record<F, SQL>;
  /** The figures the jobs listing shows as this job's backlog, in order. */
  readonly backlog: readonly F[];
  readonly alarm?: JobAlarm<F>;
  /**
   * For an optional job: false when its settings leave it nothing to do. The runner then skips it
   * before taking the lock and no chain queues it, so an unused feature costs no request.
   */
  enabled?(config: Config): boolean;
  /**
   * For a job that parks what keeps failing: one UPDATE that makes every parked row due again with
   * a fresh count of attempts, `RETURNING 1` per row (POST /api/internal/jobs/:job/requeue).
   */
  readonly requeue?: SQL;
  /**
   * For a job an operator can run for one item: the query parameter that names it
   * (`POST /api/internal/jobs/:job?<param>=<id>`, `npm run job -- <job> --<param> <id>`); the run
   * then has it as `ctx.target`, under the job's lock like any other run.
   */
  readonly target?: { readonly param: string; readonly meaning: string };
  /**
   * The counts of a run that are data deleted (the status page's chart of rows deleted per day);
   * unset: every count. A job whose counts include its own queue rows or outcomes that delete
   * nothing names the ones that are deletions.
   */
  readonly deletes?: readonly string[];
  run(ctx: JobContext): Promise<JobOutcome>;
}

/** One job, declared once: its declaration, and what its schedule says. */
export interface JobDeclaration<
  Name extends string = string,
  F extends string = string,
  S extends readonly Setting[] = readonly Setting[],
> extends JobSpec<Name, F, S> {
  /** Its schedule's cron expression. */
  readonly cron: string;
  /**
   * Whether it is a sweep: its schedule is the tick. A sweep cleans up what deletions leave behind
   * and needs Postgres. The tick runs it only while the app is active (src/chain/tick.ts), and every
   * scheduled chain of a job that is not a sweep is followed by the sweeps, one after another
   * through the queue.
   */
  readonly sweep: boolean;
}

export type Job = JobDeclaration<string, string>;

/** Declares a job, keeping its name and its settings as literal types and checking its figures' names. */
export function defineJob<const Name extends string, F extends string, const S extends readonly Setting[] = []>(
  job: JobSpec<Name, F, S>,
): JobDeclaration<Name, F, S> {
  return { ...job, cron: job.schedule.cron, sweep: job.schedule.tick === true };
}

/** Whether `job` runs under `config`: a job without `enabled` always does. */
export function isEnabled(job: Pick<Job, 'enabled'>, config: Config): boolean {
  return job.enabled?.(config) ?? true;
}
