/**
 * What the status page shows, read in one go: the jobs listing (the same read as
 * GET /api/internal/jobs: last runs, backlog, pauses) and a month of run history with the holds.
 * Four Postgres requests, sent together: the listing's three and one batch (the history, the
 * failures, and each section's `query`).
 *
 * The pauses, holds and missed-slots panels are optional parts of {@link PageData}: each is
 * filled by a section of {@link PAGE_SECTIONS}, from the listing (pauses, missed slots: no read of
 * their own) or from a query that rides in the history's batch (holds), and a part left unset is
 * not drawn.
 */
import type { Db } from '../../db/client';
import { type Hold, holdsOf, holdsQuery } from '../../db/holds';
import type { JobRunStatus } from '../../db/schema';
import { type RunHistory, runHistory } from '../../db/run-history';
import type { Invocation } from '../../deps';
import type { Pause } from '../../run/pauses';
import { JOBS } from '../../jobs';
import { jobListing } from '../listing';

export type Listing = Awaited<ReturnType<typeof jobListing>>;

/** A paused job (`Pause`, src/run/pauses.ts). */
export type PausedJob = Pause;
/** An account under legal hold (`Hold`, src/db/holds.ts). */
export type HeldAccount = Hold;
/**
 * A job's latest missed slots, as the listing has them (`missed`): the run that found them, which
 * is the run that ran for them (a catch-up of the latest, or the job's own next slot), its status,
 * and the slots (ISO, oldest first).
 */
export interface MissedSlots {
  job: string;
  slots: readonly string[];
  runId: string;
  status: JobRunStatus;
  /** When the run that found them started, ISO. */
  foundAt: string;
}

export interface PageSections {
  pauses?: readonly PausedJob[];
  /** Active holds (they keep what the account owns). */
  holds?: readonly HeldAccount[];
  /** Ended holds (expired or lifted), kept until the account is erased. */
  endedHolds?: readonly HeldAccount[];
  missed?: readonly MissedSlots[];
}

/** One optional part of the page. */
export interface PageSection {
  /** A read sent in the history's batch (no request of its own), if the section needs one. */
  query?(db: Db): ReturnType<Db['execute']>;
  /** The section's part of the page, from its query's rows (empty without a query) and the listing. */
  read(from: { rows: Array<Record<string, unknown>>; listing: Listing; now: Date }): PageSections;
}

export interface PageData extends PageSections {
  now: Date;
  /** Who is signed in. */
  who: string;
  /** The session's CSRF token, in every form. */
  csrf: string;
  listing: Listing;
  history: RunHistory;
  /** The chart's days, oldest first (UTC, `YYYY-MM-DD`), ending today. */
  days: string[];
}

/** Days the chart shows. */
export const CHART_DAYS = 30;
/** Failed runs the page lists. */
export const FAILURES_SHOWN = 10;

/** The optional panels: paused jobs and missed slots from the listing, holds from one query. */
export const PAGE_SECTIONS: readonly PageSection[] = [
  {
    // The listing reads every pause (listPauses) for its jobs' `paused`; ordered as listPauses orders them.
    read: ({ listing }) => ({
      pauses: listing.jobs
        .flatMap((j) => (j.paused ? [j.paused] : []))
        .sort((a, b) => a.since.localeCompare(b.since) || a.job.localeCompare(b.job)),
    }),
  },
  {
    read: ({ listing }) => ({
      missed: listing.jobs.flatMap((j) => (j.missed ? [{ job: j.name, ...j.missed }] : [])),
    }),
  },
  {
    query: holdsQuery,
    // Active at the page's time, as a job running now would judge it (heldOwner with its `now`).
    read: ({ rows, now }) => {
      const holds = holdsOf(rows);
      const active = (h: Hold) => h.until === null || Date.parse(h.until) > now.getTime();
      return { holds: holds.filter(active), endedHolds: holds.filter((h) => !active(h)) };
    },
  },
];

/** Every job's `deletes` (the counts the chart adds up), for the jobs that declare it. */
const DELETES = Object.fromEntries(JOBS.flatMap((job) => (job.deletes ? [[job.name, job.deletes]] : [])));

export async function loadPage(deps: Invocation, at: { now: Date; who: string; csrf: string }): Promise<PageData> {
  const days = chartDays(at.now);
  const since = new Date(`${days[0]}T00:00:00Z`);
  const queried = PAGE_SECTIONS.filter((section) => section.query !== undefined);
  const [listing, { alongside, ...history }] = await Promise.all([
    jobListing(deps, at.now),
    runHistory(
      deps.db,
      { since, deletes: DELETES, failures: FAILURES_SHOWN },
      queried.map((section) => section.query!(deps.db)),
    ),
  ]);
  const sections = PAGE_SECTIONS.map((section) =>
    section.read({ rows: section.query ? alongside[queried.indexOf(section)]! : [], listing, now: at.now }),
  );
  return { ...Object.assign({}, ...sections), ...at, listing, history, days };
}

/** The last CHART_DAYS UTC days up to `now`'s, oldest first. */
export function chartDays(now: Date): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: CHART_DAYS }, (_, i) => new Date(today - (CHART_DAYS - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}
