/** The shape of `bench/results/*.json`, checked by `--check` (check.ts). */

export const CONTENDERS = ['worker', 'limit', 'naive'] as const;
export type Contender = (typeof CONTENDERS)[number];

/** A run of one job when nothing is stale. */
export interface NoopResult {
  wallMs: number;
  /** Time Postgres spent executing the run's statements. */
  dbMs: number;
  statements: number;
  subrequests: number;
  /** Shared buffers the job's statements touched (EXPLAIN ANALYZE, BUFFERS): the scale-free cost. */
  buffers: number;
  plans: string[];
}

/** One job, one contender, until nothing was left to delete. */
export interface JobResult {
  rowsDeleted: number;
  wallMs: number;
  rowsPerSec: number;
  /** SQL statements sent (the Worker's lock and bookkeeping included). */
  statements: number;
  /** The Worker's outgoing requests (Neon, Upstash, R2), as it reported them; 0 for direct SQL. */
  subrequests: number;
  /** HTTP calls to the Worker until `more` was false; 1 for direct SQL. */
  runs: number;
  maxSubrequestsPerRun: number;
  /** Subrequests of a run beyond its batches (lock, finish, alarm check). */
  maxOverheadPerRun: number;
  /** Time Postgres spent executing the statements, the rest of wallMs is transport and bookkeeping. */
  dbMs: number;
  /** The longest single transaction (a statement, or a batch request's statements): the longest any row lock was held. */
  longestStatementMs: number;
  noop: NoopResult;
}

export interface ScaleResult {
  scale: string;
  chats: number;
  startedAt: string;
  machine: Machine;
  /** Worker settings that shape the numbers (DELETE_BATCH_SIZE, RUN_SUBREQUEST_BUDGET). */
  settings: Record<string, string>;
  dataset: { buildMs: number; rows: Record<string, number> };
  jobs: Record<string, Record<Contender, JobResult>>;
  /** EXPLAIN (ANALYZE, BUFFERS) of the Worker's first batch of each job, on fresh data. */
  firstBatchPlans: Record<string, string>;
}

export interface Machine {
  nproc: number;
  memoryGiB: number;
  cpu: string;
  postgres: string;
  node: string;
  platform: string;
}
