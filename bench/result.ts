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

/** One kind of app write, timed with the Worker's triggers disabled and enabled (bench/app-writes.ts). */
export interface WriteKindResult {
  /** Writes timed in each mode. */
  n: number;
  /** Median client-side time of one write (one statement, one transaction), µs (files before `statistic`: the mean). */
  withoutUs: number;
  withUs: number;
  /** withUs / withoutUs. */
  ratio: number;
  /** withUs - withoutUs. */
  addedUs?: number;
  meanWithoutUs?: number;
  meanWithUs?: number;
  /** Per pair of rounds (one of each mode, side by side): median with / median without. */
  pairRatios?: number[];
  spread?: { min: number; max: number };
}

export interface AppWritesResult {
  /** Rounds, half with the triggers on (off, on, on, off, …). */
  rounds: number;
  /** What withoutUs/withUs are; absent in older files (the mean). */
  statistic?: 'median';
  /** The Worker's triggers that were toggled. */
  triggers: string[];
  kinds: Record<string, WriteKindResult>;
  /** Kinds the layout cannot do, with the reason. */
  skipped: Record<string, string>;
  /** The machine's 1-minute load average when the client-side rounds started and ended. */
  loadAverage?: { start: number; end: number };
  /** The same writes timed inside Postgres (bench/server-writes.ts); absent in older files. */
  server?: ServerWritesResult;
}

/** The app's writes timed inside Postgres, triggers off vs on in interleaved blocks. */
export interface ServerWritesResult {
  /** Blocks of chat turns, half with the triggers on (off, on, on, off, …). */
  blocks: number;
  /** Measured turns per block (each kind once a turn). */
  turnsPerBlock: number;
  statistic: 'median';
  /** By kind, the kinds of `AppWritesResult.kinds`. */
  kinds: Record<string, ServerWriteKindResult>;
  /** The 1-minute load average when the blocks started and ended. */
  loadAverage: { start: number; end: number };
}

/** One kind of write timed inside Postgres: statement and COMMIT, µs by clock_timestamp(). */
export interface ServerWriteKindResult {
  /** Writes timed in each mode. */
  n: number;
  /** Median server time of one write, µs. */
  withoutUs: number;
  withUs: number;
  /** withUs / withoutUs. */
  ratio: number;
  /** withUs - withoutUs. */
  addedUs: number;
  /** Per pair of blocks (one of each mode, side by side): median with - median without, µs. */
  pairAddedUs: number[];
  addedSpread: { min: number; q1: number; q3: number; max: number };
}

/** One step of the install, and the app inserts it overlapped most. */
export interface InstallStepResult {
  what: string;
  /** From the start of `migrateDatabase`. */
  atMs: number;
  ms: number;
  retries: number;
  /** The step's longest transaction (a backfill batch). */
  longestTransactionMs: number;
  inserts: number;
  maxInsertMs: number;
  /** Inserts over InstallWaitResult.slowMs. */
  overSlowMs: number;
}

/** App inserts while `migrateDatabase` installs the Worker's objects on a full database. */
export interface InstallWaitResult {
  /** Concurrent app sessions inserting messages back to back. */
  loops: number;
  installMs: number;
  steps: number;
  skipped: number;
  /** InstallReport.retries: lock timeouts the installer gave way on. */
  retries: number;
  inserts: number;
  maxInsertMs: number;
  p99InsertMs: number;
  over50Ms: number;
  over100Ms: number;
  /** Inserts slower than this are listed in slowInserts. */
  slowMs?: number;
  /** Slowest first, each with the step it overlapped most. */
  slowInserts?: Array<{ ms: number; atMs: number; step: string }>;
  /** Every step that ran, in order. */
  timeline?: InstallStepResult[];
  /** The machine's 1-minute load average when the install started, ended, and after the baseline. */
  loadAverage?: { start: number; end: number; afterBaseline: number };
  /**
   * The same loops with nothing else running: right after the install, for as long as it took
   * (files before `slowInserts`: 2 s just before it).
   */
  baseline: { ms?: number; inserts: number; maxInsertMs: number; p99InsertMs: number; over50Ms?: number; over100Ms?: number };
}

/**
 * The app's writes timed inside Postgres around an app migration through `db:migrate --around`,
 * on one clone (bench/around.ts): triggers off against on before and after it, then pinned
 * against unpinned.
 */
export interface AroundResult {
  /** The app migration's statements. */
  statements: string[];
  /** `migrateAround`: unpin, the command, the install again. */
  aroundMs: number;
  /**
   * Every Worker trigger and spacerr_jobs function reads the same after the migration as before,
   * but for the casts Postgres now prints where a changed column meets its old type's operator.
   */
  definitionsUnchanged: boolean;
  /** How many of them Postgres prints differently (those casts). */
  definitionsPrintedDifferently: number;
  /** The Worker's row-level UPDATE triggers before, after, and while unpinned, and how many name their columns. */
  updateTriggers: Record<'pinnedBefore' | 'pinnedAfter' | 'pinnedWhileUnpinned', { total: number; pinned: number }>;
  kinds: Record<string, AroundKindResult>;
  /** Triggers off (without) against on (with), before the migration and after it. */
  before: ServerWritesResult;
  after: ServerWritesResult;
  /** Unpinned (without) against pinned (with), the triggers on throughout. */
  pinning: ServerWritesResult;
}

/** One kind of write: what the triggers add before and after, µs pinning adds (negative: saves), and the with-triggers medians. */
export interface AroundKindResult {
  beforeAddedUs: number;
  afterAddedUs: number;
  /** Pinned minus unpinned, blocks side by side. */
  pinnedMinusUnpinnedUs: number;
  /**
   * With / without within each phase, its blocks side by side: unlike the medians of two phases
   * minutes apart, which the machine's speed moves as a whole (on this shared machine by up to a
   * third), a ratio of blocks interleaved.
   */
  beforeRatio: number;
  afterRatio: number;
  beforeWithUs: number;
  afterWithUs: number;
}

export interface ScaleResult {
  scale: string;
  chats: number;
  /** The app layout (fixtures/<layout>/); files written before --layout lack it and are snake-plural. */
  layout?: string;
  startedAt: string;
  machine: Machine;
  /** Worker settings that shape the numbers (DELETE_BATCH_SIZE, RUN_SUBREQUEST_BUDGET). */
  settings: Record<string, string>;
  dataset: { buildMs: number; rows: Record<string, number> };
  jobs: Record<string, Record<Contender, JobResult>>;
  /** EXPLAIN (ANALYZE, BUFFERS) of the Worker's first batch of each job, on fresh data. */
  firstBatchPlans: Record<string, string>;
  /** The indexes the naive contender's clone went without (bench/dataset.ts supportingIndexes). */
  naiveDroppedIndexes?: string[];
  appWrites?: AppWritesResult;
  install?: InstallWaitResult;
  /** Absent in files written before bench/around.ts. */
  around?: AroundResult;
}

export interface Machine {
  nproc: number;
  memoryGiB: number;
  cpu: string;
  postgres: string;
  node: string;
  platform: string;
}
