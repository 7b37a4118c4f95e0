/**
 * `--check`: the shape of a result file, and the facts that make its numbers comparable — every
 * contender deleted the same rows, and nothing was left for the no-op run. Never a time: CI runs
 * it on a shared machine, so it validates what was measured, not how fast.
 */
import { WRITE_KINDS } from './app-writes.ts';
import { benchJobs } from './jobs.ts';
import { benchLayout, LEGACY_LAYOUT, parseLayout } from './layout.ts';
import { CONTENDERS, type JobResult, type ScaleResult, type ServerWritesResult } from './result.ts';

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

/**
 * Throws with every problem found in `result`, one per line. `current`: written by this run, so
 * every measurement this version takes must be there (a file written before one may lack it).
 */
export function checkResult(result: ScaleResult, { current = false } = {}): void {
  const problems: string[] = [];
  const where = (s: string) => `${result.scale}: ${s}`;
  if (!(result.chats > 0)) problems.push(where('chats must be positive'));
  for (const key of ['nproc', 'memoryGiB', 'cpu', 'postgres', 'node'] as const) {
    if (!result.machine?.[key]) problems.push(where(`machine.${key} missing`));
  }
  // A file written before --layout is snake-plural, and has neither measurement of the app's writes.
  const L = benchLayout(parseLayout(result.layout ?? LEGACY_LAYOUT));
  const chatTable = L.t('chat').name;
  if (!(result.dataset?.rows?.[chatTable] === result.chats)) problems.push(where(`dataset.rows.${chatTable} differs from chats`));
  if (result.layout !== undefined) checkAppWrites(result, problems, where, current);
  for (const job of benchJobs(L)) {
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

/** The app-write ratios and the install wait: every kind the layout can do measured, every figure a number. */
function checkAppWrites(result: ScaleResult, problems: string[], where: (s: string) => string, current: boolean) {
  const w = result.appWrites;
  if (!w) problems.push(where('appWrites missing'));
  else {
    if (!(w.triggers.length > 0)) problems.push(where('appWrites.triggers: no Worker trigger was toggled'));
    for (const kind of WRITE_KINDS) {
      const k = w.kinds[kind];
      if (!k) {
        if (!w.skipped?.[kind]) problems.push(where(`appWrites.kinds["${kind}"] neither measured nor skipped`));
        continue;
      }
      for (const key of ['n', 'withoutUs', 'withUs', 'ratio'] as const) {
        if (!isCount(k[key])) problems.push(where(`appWrites.kinds["${kind}"].${key} is not a finite number ≥ 0`));
      }
      if (!(k.n > 0)) problems.push(where(`appWrites.kinds["${kind}"]: no write timed`));
      if (w.statistic && !(k.pairRatios && k.pairRatios.length > 0 && k.pairRatios.every(isCount) && isCount(k.spread?.min))) {
        problems.push(where(`appWrites.kinds["${kind}"]: no spread over the pairs of rounds`));
      }
    }
    if (!w.kinds['insert chat'] || !w.kinds['insert message']) problems.push(where('appWrites: the inserts must always be measured'));
    if (w.server) checkServerWrites(w.server, Object.keys(w.kinds), problems, (x) => where(`appWrites.server${x}`));
    else if (current) problems.push(where('appWrites.server missing: the writes were not timed inside Postgres'));
    if (result.around) checkAround(result, problems, where);
    else if (current) problems.push(where('around missing: the writes were not timed around an app migration'));
  }
  const i = result.install;
  if (!i) problems.push(where('install missing'));
  else {
    for (const key of ['installMs', 'steps', 'retries', 'inserts', 'maxInsertMs', 'p99InsertMs', 'over50Ms', 'over100Ms'] as const) {
      if (!isCount(i[key])) problems.push(where(`install.${key} is not a finite number ≥ 0`));
    }
    if (!(i.steps > 0)) problems.push(where('install: no install step ran'));
    if (!(i.inserts > 0)) problems.push(where('install: no app insert ran during the install'));
    if (!isCount(i.baseline?.maxInsertMs) || !(i.baseline.inserts > 0)) problems.push(where('install.baseline missing'));
    if (i.slowInserts) {
      // Files since the attribution: every step timed, every slow insert put down to one.
      if (!(i.timeline && i.timeline.length === i.steps + 1))
        problems.push(where('install.timeline: not one entry per step (and the migrations)'));
      if (
        i.slowInserts.length !==
        (i.timeline ?? []).reduce((n, t) => n + t.overSlowMs, 0) + i.slowInserts.filter((x) => x.step === 'between steps').length
      ) {
        problems.push(where('install.slowInserts: not each put down to one step'));
      }
    }
  }
}

/**
 * One in-server timing (`appWrites.server`, or a phase of `around`): every kind timed client-side
 * (`kinds`) timed there too, every figure a number (a difference may be negative).
 */
function checkServerWrites(s: ServerWritesResult | undefined, kinds: string[], problems: string[], at: (s: string) => string) {
  if (!s) {
    problems.push(at(' missing'));
    return;
  }
  if (!(s.blocks > 0 && s.turnsPerBlock > 0)) problems.push(at(': no block of turns ran'));
  if (!isNumber(s.loadAverage?.start) || !isNumber(s.loadAverage?.end)) problems.push(at('.loadAverage missing'));
  for (const kind of kinds) {
    const k = s.kinds?.[kind];
    if (!k) {
      problems.push(at(`.kinds["${kind}"] missing`));
      continue;
    }
    for (const key of ['n', 'withoutUs', 'withUs', 'ratio'] as const) {
      if (!isCount(k[key])) problems.push(at(`.kinds["${kind}"].${key} is not a finite number ≥ 0`));
    }
    if (!(k.n > 0)) problems.push(at(`.kinds["${kind}"]: no write timed`));
    const spread = [k.addedUs, k.addedSpread?.min, k.addedSpread?.q1, k.addedSpread?.q3, k.addedSpread?.max];
    if (!spread.every(isNumber)) problems.push(at(`.kinds["${kind}"]: addedUs or addedSpread is not a number`));
    if (!(Array.isArray(k.pairAddedUs) && k.pairAddedUs.length === s.blocks / 2 && k.pairAddedUs.every(isNumber))) {
      problems.push(at(`.kinds["${kind}"].pairAddedUs: not one number per pair of blocks`));
    }
  }
}

/**
 * The writes timed around the app migration and pinned against unpinned: each phase checked as
 * `appWrites.server` is, the migration applied, the triggers pinned before and after it.
 */
function checkAround(result: ScaleResult, problems: string[], where: (s: string) => string) {
  const a = result.around!;
  const at = (x: string) => where(`around${x}`);
  if (!(Array.isArray(a.statements) && a.statements.length > 0)) problems.push(at('.statements: no app migration ran'));
  if (!isCount(a.aroundMs)) problems.push(at('.aroundMs is not a finite number ≥ 0'));
  const t = a.updateTriggers;
  if (!(t?.pinnedBefore?.total > 0 && t.pinnedBefore.pinned === t.pinnedBefore.total && t.pinnedAfter?.pinned === t.pinnedBefore.total)) {
    problems.push(at('.updateTriggers: the update triggers were not all pinned before and after the migration'));
  }
  if (t?.pinnedWhileUnpinned?.pinned !== 0) problems.push(at('.updateTriggers.pinnedWhileUnpinned: a trigger stayed pinned'));
  if (typeof a.definitionsUnchanged !== 'boolean') problems.push(at('.definitionsUnchanged is not a boolean'));
  const kinds = Object.keys(result.appWrites?.kinds ?? {});
  for (const phase of ['before', 'after', 'pinning'] as const) checkServerWrites(a[phase], kinds, problems, (x) => at(`.${phase}${x}`));
  for (const kind of kinds) {
    const k = a.kinds?.[kind];
    if (!k) {
      problems.push(at(`.kinds["${kind}"] missing`));
      continue;
    }
    for (const key of ['beforeAddedUs', 'afterAddedUs', 'pinnedMinusUnpinnedUs'] as const) {
      if (!isNumber(k[key])) problems.push(at(`.kinds["${kind}"].${key} is not a number`));
    }
    for (const key of ['beforeRatio', 'afterRatio', 'beforeWithUs', 'afterWithUs'] as const) {
      if (!isCount(k[key])) problems.push(at(`.kinds["${kind}"].${key} is not a finite number ≥ 0`));
    }
  }
}

function isNumber(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v);
}

function isCount(v: unknown): boolean {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}
