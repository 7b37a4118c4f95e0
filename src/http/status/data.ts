/**
 * What the status page shows, read in one go: the jobs listing (the same read as
 * GET /api/internal/jobs) and a month of run history. Three Postgres requests, sent together.
 *
 * The pauses, holds and missed-slots panels are optional parts of {@link PageData}: each is
 * filled by a loader in {@link PAGE_SECTIONS} (the module that owns the data reads it), and a
 * part left unset is not drawn.
 */
import { type RunHistory, runHistory } from '../../db/run-history';
import type { Invocation } from '../../deps';
import { JOBS } from '../../run/registry';
import { jobListing } from '../listing';

export type Listing = Awaited<ReturnType<typeof jobListing>>;

/** A paused job (the shape of `Pause`, `src/run/pauses.ts`). */
export interface PausedJob {
  job: string;
  reason: string;
  by: string | null;
  since: string;
}
/** An account under legal hold (the shape of `Hold`, `src/db/holds.ts`). */
export interface HeldAccount {
  userId: string;
  reason: string;
  by: string | null;
  since: string;
  until: string | null;
}
/** A scheduled slot whose delivery never came. */
export interface MissedSlot {
  job: string;
  /** The slot's time, ISO. */
  slot: string;
  /** The run that caught it up, if one did. */
  caughtUpBy?: string | null;
}

export interface PageSections {
  pauses?: readonly PausedJob[];
  holds?: readonly HeldAccount[];
  missed?: readonly MissedSlot[];
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

/** Loaders of the optional panels, each one read of the module that owns its data. */
export const PAGE_SECTIONS: ReadonlyArray<(deps: Invocation, now: Date) => Promise<PageSections>> = [];

/** Every job's `deletes` (the counts the chart adds up), for the jobs that declare it. */
const DELETES = Object.fromEntries(JOBS.flatMap((job) => (job.deletes ? [[job.name, job.deletes]] : [])));

export async function loadPage(deps: Invocation, at: { now: Date; who: string; csrf: string }): Promise<PageData> {
  const days = chartDays(at.now);
  const since = new Date(`${days[0]}T00:00:00Z`);
  const [listing, history, ...sections] = await Promise.all([
    jobListing(deps, at.now),
    runHistory(deps.db, { since, deletes: DELETES, failures: FAILURES_SHOWN }),
    ...PAGE_SECTIONS.map((load) => load(deps, at.now)),
  ]);
  return { ...Object.assign({}, ...sections), ...at, listing, history, days };
}

/** The last CHART_DAYS UTC days up to `now`'s, oldest first. */
export function chartDays(now: Date): string[] {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: CHART_DAYS }, (_, i) => new Date(today - (CHART_DAYS - 1 - i) * 86_400_000).toISOString().slice(0, 10));
}
