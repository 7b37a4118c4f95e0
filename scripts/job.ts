/**
 * `npm run job -- <name> [--dry-run] [--url URL] [--max-runs N]` runs a job over the Worker's HTTP
 * runner until it is done; `npm run job -- list [--url URL]` shows the jobs and their last runs.
 * The secret is CRON_SECRET from the environment, else from `.dev.vars` (written by `npm run dev`).
 * Exit codes: 0 done, 1 a run failed or the Worker is unreachable, 2 usage (arguments, secret,
 * unknown job), 3 skipped (another run holds the lock), 130 interrupted. `npm run job -- requeue <job>`
 * makes a job's parked rows due again. `npm run job -- pause <job> --reason "…" [--by <name>]` pauses a
 * job (its runs are skipped) and `npm run job -- resume <job>` lifts the pause.
 */
import { parseArgs } from 'node:util';
import { CliError, EXIT } from './cli/errors.ts';
import { formatDuration } from './cli/format.ts';
import { listJobs } from './cli/list.ts';
import { pauseJob, resumeJob } from './cli/pause.ts';
import { requeueJob } from './cli/requeue.ts';
import { type RunLoopResult, runUntilDone } from './cli/run.ts';
import { findSecret } from './cli/secret.ts';
import { renderTable } from './cli/table.ts';

const DEFAULT_URL = 'http://localhost:8787';
const DEFAULT_MAX_RUNS = 1000;
/** The account job's dry-run count of accounts legal holds keep. */
const HELD = 'held';

const USAGE = `usage:
  npm run job -- <job> [--dry-run] [--url URL] [--max-runs N]   run a job until it is done
  npm run job -- delete-stale-deactivated-accounts --account ID  delete one (set-aside) account in steps
  npm run job -- list [--url URL]                                jobs, crons, last runs, backlog, alarms
  npm run job -- requeue <job> [--url URL]                       parked rows due again (purge-deleted-blobs, delete-stripe-customers, deliver-account-events)
  npm run job -- pause <job> --reason "…" [--by NAME] [--url URL] skip the job's runs until it is resumed
  npm run job -- resume <job> [--url URL]                        lift the pause

  --url       the Worker (default: $JOBS_URL or ${DEFAULT_URL}, what \`npm run dev\` serves)
  --dry-run   count what would be deleted, delete nothing (one run)
  --max-runs  stop after N runs even if work is left (default ${DEFAULT_MAX_RUNS})
  --account   delete that account alone, in steps: its chats in bounded batches, then the user
  --reason    why the job is paused (required by pause; shown in its skipped runs and the listing)
  --by        who paused it
The secret is CRON_SECRET from the environment, else from .dev.vars in this directory.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command, ...extra] = positionals;
  if (command === 'requeue') {
    if (extra.length !== 1 || values['dry-run'] || values['max-runs'])
      throw new CliError(`requeue takes one job name and only --url\n${USAGE}`, EXIT.usage);
    const url = parseUrl(values.url ?? process.env.JOBS_URL ?? DEFAULT_URL);
    console.log(await requeueJob(url, findSecret(process.env, process.cwd()), extra[0]!));
    return 0;
  }
  if (command === 'pause' || command === 'resume') return pauseCommand(command, extra, values);
  if (values.reason !== undefined || values.by !== undefined)
    throw new CliError(`--reason and --by are for pause only\n${USAGE}`, EXIT.usage);
  if (!command || extra.length > 0) throw new CliError(`expected one job name or "list"\n${USAGE}`, EXIT.usage);
  const url = parseUrl(values.url ?? process.env.JOBS_URL ?? DEFAULT_URL);
  const secret = findSecret(process.env, process.cwd());

  if (command === 'list') {
    if (values['dry-run'] || values['max-runs']) throw new CliError('list takes only --url', EXIT.usage);
    console.log(await listJobs(url, secret));
    return 0;
  }

  const maxRuns = values['max-runs'] === undefined ? DEFAULT_MAX_RUNS : Number(values['max-runs']);
  if (!Number.isInteger(maxRuns) || maxRuns < 1)
    throw new CliError(`--max-runs: expected a whole number ≥ 1, got "${values['max-runs']}"`, EXIT.usage);

  // The first Ctrl-C finishes the run in flight (a batch is never half-done anyway) and prints the
  // totals; a second one exits at once.
  let interrupted = false;
  process.on('SIGINT', () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write('stopping after this run (Ctrl-C again to quit now)\n');
  });

  if (values.account !== undefined) {
    if (command !== 'delete-stale-deactivated-accounts')
      throw new CliError(`--account is for delete-stale-deactivated-accounts only`, EXIT.usage);
    if (values['dry-run']) throw new CliError('--account and --dry-run cannot be combined', EXIT.usage);
    if (values.account === '') throw new CliError('--account: expected an account id', EXIT.usage);
  }
  const result = await runUntilDone({
    url,
    secret,
    job: command,
    dryRun: values['dry-run'] ?? false,
    ...(values.account === undefined ? {} : { target: { param: 'account', id: values.account } }),
    maxRuns,
    progress: (line) => process.stderr.write(`${line}\n`),
    interrupted: () => interrupted,
  });
  console.log(summary(command, values['dry-run'] ?? false, result));
  return endCode(command, result);
}

async function pauseCommand(command: 'pause' | 'resume', extra: string[], values: ReturnType<typeof parseCommandLine>['values']) {
  if (extra.length !== 1 || values['dry-run'] || values['max-runs'] || values.account !== undefined)
    throw new CliError(`${command} takes one job name${command === 'pause' ? ', --reason, --by' : ''} and --url\n${USAGE}`, EXIT.usage);
  const job = extra[0]!;
  const url = parseUrl(values.url ?? process.env.JOBS_URL ?? DEFAULT_URL);
  if (command === 'resume') {
    if (values.reason !== undefined || values.by !== undefined) throw new CliError('resume takes no --reason or --by', EXIT.usage);
    console.log(await resumeJob(url, findSecret(process.env, process.cwd()), job));
    return 0;
  }
  if (values.reason === undefined || values.reason.trim() === '') throw new CliError(`pause needs --reason "why"\n${USAGE}`, EXIT.usage);
  if (values.by !== undefined && values.by.trim() === '') throw new CliError('--by: expected a name', EXIT.usage);
  const p = values.by === undefined ? { reason: values.reason } : { reason: values.reason, by: values.by };
  console.log(await pauseJob(url, findSecret(process.env, process.cwd()), job, p));
  return 0;
}

function summary(job: string, dryRun: boolean, r: RunLoopResult): string {
  const runs = `${r.runs.length} run${r.runs.length === 1 ? '' : 's'}`;
  const head = `${job}${dryRun ? ' (dry run)' : ''}: ${runs}, ${r.subrequests} subrequest${r.subrequests === 1 ? '' : 's'}, ${formatDuration(r.durationMs)}`;
  // `held` (the account job's dry run): accounts past retention that legal holds keep, not a table.
  const { [HELD]: held, ...tables } = r.totals;
  const rows = Object.entries(tables).map(([table, n]) => [table, n]);
  const kept = held ? `\n${held} account${held === 1 ? '' : 's'} past retention kept by a legal hold (npm run hold -- list)` : '';
  if (rows.length === 0) return `${head}\nno counts reported${kept}`;
  return `${head}\n${renderTable(['table', dryRun ? 'would delete' : 'deleted'], rows)}${kept}`;
}

function endCode(job: string, r: RunLoopResult): number {
  const last = r.runs.at(-1);
  switch (r.end) {
    case 'done':
      return 0;
    case 'more':
      console.error(`stopped after ${r.runs.length} runs (--max-runs) with work left; run again to continue`);
      return 0;
    case 'interrupted':
      console.error('interrupted with work left; run again to continue');
      return 130;
    case 'skipped':
      if (last?.paused) {
        console.error(`skipped: ${job} is ${last.error ?? 'paused'}; nothing was done — \`npm run job -- resume ${job}\` first`);
        return EXIT.skipped;
      }
      console.error(
        `skipped: another run of ${job} holds its lock (${last?.heldBy ? `run ${last.heldBy}` : (last?.error ?? 'unknown run')}); ` +
          'nothing was done by this call — try again when it finishes',
      );
      return EXIT.skipped;
    case 'failed':
      console.error(`run ${last?.runId} failed${last?.phase ? ` (phase ${last.phase})` : ''}: ${last?.error ?? 'no error given'}`);
      return EXIT.failed;
  }
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'dry-run': { type: 'boolean' },
        url: { type: 'string' },
        'max-runs': { type: 'string' },
        account: { type: 'string' },
        reason: { type: 'string' },
        by: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`, EXIT.usage);
  }
}

function parseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--url: not a URL: "${raw}" (e.g. ${DEFAULT_URL} or https://spacerr-jobs.<account>.workers.dev)`, EXIT.usage);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`--url: expected http(s), got "${raw}"`, EXIT.usage);
  return url.origin;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof CliError)) throw err;
  console.error(`error: ${err.message}`);
  process.exitCode = err.exitCode;
}
