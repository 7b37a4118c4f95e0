/**
 * `npm run bench:drain [-- --scale 1m]`: one delivery of each cron, nothing else, against the
 * bench dataset, with the Worker's production defaults (wrangler.toml [vars]). Scheduled runs that
 * stop at their budget continue through the CONTINUATIONS queue (Miniflare's, under
 * `wrangler dev`) until the backlog is gone. Records every run of each chain: how many
 * invocations, the most subrequests any one of them used (the Free plan allows 50), and how long
 * the chain took, in `bench/results/drain-<scale>.json`. Measures; never judges a time.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { stackVars, startStack } from '../scripts/stack/index.ts';
import { testLayout } from '../scripts/stack/migrate.ts';
import { startLocalWorker } from '../scripts/stack/worker.ts';
import { buildTemplate, cloneDatabase, SCALES, type Scale } from './dataset.ts';
import { benchLayout } from './layout.ts';
import { connect, countRows } from './measure.ts';
import { writeJson } from './write.ts';

const CRONS: Array<[string, string[]]> = [
  ['0 0 1 * *', ['delete-stale-deactivated-accounts']],
  ['0 */12 * * *', ['delete-stale-empty-chats']],
  ['*/10 * * * *', ['purge-deleted-blobs', 'clear-stale-streams', 'delete-orphaned-message-sources']],
];
const TIMEOUT_MS = 15 * 60_000;

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1m' }, 'rtt-ms': { type: 'string', default: '0' } } });
const rttMs = Number(values['rtt-ms']);
if (!Number.isInteger(rttMs) || rttMs < 0) throw new Error(`--rtt-ms: expected a whole number of milliseconds, got "${values['rtt-ms']}"`);
const scale = (values.scale ?? '1m').toLowerCase() as Scale;
if (!(scale in SCALES)) throw new Error(`--scale: expected one of ${Object.keys(SCALES).join(', ')}, got "${values.scale}"`);

const stops: Array<() => Promise<void>> = [];
try {
  const stack = await startStack({ dataDir: '.stack/bench-drain', quiet: true, rttMs });
  stops.unshift(stack.stop);

  process.stderr.write(`drain ${scale}: building ${SCALES[scale]} chats\n`);
  // The stack's layout (APP_LAYOUT, snake-plural by default): the Worker below bundles its map.
  const L = benchLayout(testLayout());
  await buildTemplate(stack.postgresUrl, 'drain_template', SCALES[scale], L);
  const databaseUrl = await cloneDatabase(stack.postgresUrl, 'drain_template', 'drain');
  const db = await connect(databaseUrl);
  stops.unshift(() => db.end());
  const before = await countRows(db, L);
  const worker = await startLocalWorker({
    vars: {
      ...stackVars(stack, databaseUrl),
      // The bench's files are R2 keys (bench/dataset.ts), in wrangler dev's local R2.
      BLOB_STORE: 'r2',
      CRON_SECRET: randomBytes(16).toString('hex'),
    },
  });
  stops.unshift(worker.stop);

  // The deleting crons first, then the cleanup cron once their chains are done (the outbox and
  // the queues they fill are what it drains); each delivered once.
  const started = performance.now();
  for (const [cron, jobs] of CRONS) {
    process.stderr.write(`drain ${scale}: cron "${cron}"\n`);
    await (await worker.triggerCron(cron)).text();
    await chainsDone(db, jobs, started);
  }
  const wallMs = performance.now() - started;
  const { rows: runs } = await db.query(`
    SELECT id, job, trigger, status, subrequests, more, counts, continues,
           extract(epoch FROM finished_at - started_at) * 1000 AS ms
    FROM spacerr_jobs.job_runs ORDER BY job, started_at`);
  const { rows: left } = await db.query(`
    SELECT (SELECT count(*) FROM users WHERE deactivated_at < now() - interval '30 days')::int AS stale_users,
           (SELECT count(*) FROM chats c WHERE created_at < now() - interval '15 minutes'
              AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id))::int AS stale_empty_chats,
           (SELECT count(*) FROM message_sources WHERE attachment_id IS NULL)::int AS orphaned_sources,
           (SELECT count(*) FROM spacerr_jobs.blob_deletions)::int AS blob_deletions`);
  const jobs = new Map<string, Array<Record<string, any>>>();
  for (const run of runs) jobs.set(run.job, [...(jobs.get(run.job) ?? []), run]);
  const result = {
    scale,
    ranAt: new Date().toISOString(),
    cronDeliveries: CRONS.length,
    // The */10 cron's three jobs share one invocation: their scheduled runs together.
    sharedInvocationSubrequests: runs
      .filter((r) => r.trigger === 'scheduled' && !['delete-stale-deactivated-accounts', 'delete-stale-empty-chats'].includes(r.job))
      .reduce((n, r) => n + Number(r.subrequests), 0),
    wallMs: Math.round(wallMs),
    rowsBefore: before,
    rowsAfter: await countRows(db, L),
    staleLeft: left[0],
    jobs: Object.fromEntries(
      [...jobs].map(([job, list]) => [
        job,
        {
          invocations: list.length,
          scheduled: list.filter((r) => r.trigger === 'scheduled').length,
          continuations: list.filter((r) => r.trigger === 'queue').length,
          failed: list.filter((r) => r.status !== 'succeeded').length,
          maxSubrequestsPerInvocation: Math.max(...list.map((r) => r.subrequests)),
          rowsDeleted: list.reduce((n, r) => n + Object.values(r.counts as Record<string, number>).reduce((a, b) => a + b, 0), 0),
          chainMs: Math.round(list.reduce((n, r) => n + Number(r.ms), 0)),
          chained: list.every((r, i) => i === 0 || r.continues === list[i - 1]?.id || r.trigger === 'scheduled'),
        },
      ]),
    ),
  };
  await writeJson(join(import.meta.dirname, 'results', `drain-${scale}${rttMs > 0 ? `-rtt${rttMs}` : ''}.json`), result);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  for (const stop of stops) await stop().catch(() => {});
}

/** Waits until each job's latest run finished its work and nothing runs (no link still queued). */
async function chainsDone(db: pg.Client, jobs: string[], started: number): Promise<void> {
  for (;;) {
    const { rows } = await db.query(
      `SELECT count(*) FILTER (WHERE NOT more AND status = 'succeeded')::int AS done,
                (SELECT count(*) FROM spacerr_jobs.job_runs WHERE status = 'running')::int AS running
         FROM (SELECT DISTINCT ON (job) more, status FROM spacerr_jobs.job_runs WHERE job = ANY($1) ORDER BY job, started_at DESC) latest`,
      [jobs],
    );
    if (rows[0].done === jobs.length && rows[0].running === 0) return;
    if (performance.now() - started > TIMEOUT_MS) throw new Error('the chains did not finish within 15 minutes');
    await new Promise((r) => setTimeout(r, 500));
  }
}
