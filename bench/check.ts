/**
 * `--check`: the shape of a result file, and the facts that make its numbers comparable — every
 * contender deleted the same rows, and nothing was left for the no-op run. Never a time: CI runs
 * it on a shared machine, so it validates what was measured, not how fast.
 */
import { BENCH_JOBS } from './jobs.ts';
import { CONTENDERS, type JobResult, type ScaleResult } from './result.ts';

const NUMBERS = [
  'rowsDeleted',
  'wallMs',
  'rowsPerSec',
  'statements',
  'subrequests',
  'runs',
  'maxSubrequestsPerRun',
  'maxOverheadPerRun',
  'dbMs',
  'longestStatementMs',
] as const;
const NOOP_NUMBERS = ['wallMs', 'dbMs', 'statements', 'subrequests', 'buffers'] as const;

/** Throws with every problem found in `result`, one per line. */
export function checkResult(result: ScaleResult): void {
  const problems: string[] = [];
  const where = (s: string) => `${result.scale}: ${s}`;
  if (!(result.chats > 0)) problems.push(where('chats must be positive'));
  for (const key of ['nproc', 'memoryGiB', 'cpu', 'postgres', 'node'] as const) {
    if (!result.machine?.[key]) problems.push(where(`machine.${key} missing`));
  }
  if (!(result.dataset?.rows?.chats === result.chats)) problems.push(where('dataset.rows.chats differs from chats'));
  for (const job of BENCH_JOBS) {
    const byContender = result.jobs?.[job.name];
    if (!byContender) {
      problems.push(where(`job ${job.name} missing`));
      continue;
    }
    for (const contender of CONTENDERS) {
      const r: JobResult | undefined = byContender[contender];
      const at = (s: string) => where(`${job.name}.${contender}.${s}`);
      if (!r) {
        problems.push(at('missing'));
        continue;
      }
      for (const key of NUMBERS) if (!isCount(r[key])) problems.push(at(`${key} is not a finite number ≥ 0: ${r[key]}`));
      for (const key of NOOP_NUMBERS) if (!isCount(r.noop?.[key])) problems.push(at(`noop.${key} is not a finite number ≥ 0`));
      if (!(r.rowsDeleted > 0)) problems.push(at('deleted no rows: the dataset has stale rows for every job'));
      if (r.rowsDeleted !== byContender.limit?.rowsDeleted) {
        problems.push(at(`deleted ${r.rowsDeleted} rows, the limit ${byContender.limit?.rowsDeleted}: not the same deletion`));
      }
      if (!Array.isArray(r.noop?.plans) || r.noop.plans.length === 0 || r.noop.plans.some((p) => !p.includes('Buffers'))) {
        problems.push(at('noop.plans must hold EXPLAIN (ANALYZE, BUFFERS) output'));
      }
    }
    const worker = byContender.worker;
    if (worker && !(worker.subrequests > 0 && worker.runs > 0 && worker.statements >= worker.runs)) {
      problems.push(where(`${job.name}.worker: no subrequests, runs or statements recorded`));
    }
    if (!result.firstBatchPlans?.[job.name]?.includes('Buffers')) problems.push(where(`firstBatchPlans.${job.name} missing`));
  }
  if (problems.length > 0) throw new Error(`bench result check failed:\n${problems.join('\n')}`);
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}
