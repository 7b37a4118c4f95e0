/**
 * Legal holds: an account under one is never erased, and no job deletes anything it owns.
 *   npm run hold -- add <userId> --reason "…" [--until <ISO date>] [--by <name>] [--url URL]
 *   npm run hold -- remove <userId> [--url URL]
 *   npm run hold -- list [--url URL]
 * The secret is CRON_SECRET from the environment, else from `.dev.vars` (written by `npm run dev`).
 * Exit codes: 0 done, 1 the Worker failed or is unreachable, 2 usage (arguments, secret, no such hold).
 */
import { parseArgs } from 'node:util';
import { CliError, EXIT } from './cli/errors.ts';
import { addHold, listHoldsTable, removeHold } from './cli/holds.ts';
import { findSecret } from './cli/secret.ts';
import { HOLD_LIMITS, parseUntil } from '../src/http/hold-input.ts';

const DEFAULT_URL = 'http://localhost:8787';

const USAGE = `usage:
  npm run hold -- add <userId> --reason "…" [--until <ISO date>] [--by <name>]   place a hold
  npm run hold -- remove <userId>                                              lift it
  npm run hold -- list                                                         every hold, active and ended

  --reason  why (required for add): a dispute, an investigation, a legal request
  --until   when it ends, ISO 8601: 2027-06-30 (midnight UTC) or 2027-06-30T12:00:00Z; default: until lifted
  --by      who placed it
  --url     the Worker (default: $JOBS_URL or ${DEFAULT_URL}, what \`npm run dev\` serves)
The secret is CRON_SECRET from the environment, else from .dev.vars in this directory.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(argv);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  const onlyUrl = (what: string) => {
    for (const flag of ['reason', 'until', 'by'] as const)
      if (values[flag] !== undefined) throw new CliError(`${what} takes no --${flag}\n${USAGE}`, EXIT.usage);
  };
  switch (command) {
    case 'add': {
      const userId = oneId(rest, 'add');
      if (values.reason === undefined || values.reason.trim() === '') throw new CliError(`add needs --reason "…"\n${USAGE}`, EXIT.usage);
      if (values.reason.length > HOLD_LIMITS.reason)
        throw new CliError(`--reason is longer than ${HOLD_LIMITS.reason} characters`, EXIT.usage);
      if (values.by !== undefined && (values.by.trim() === '' || values.by.length > HOLD_LIMITS.by))
        throw new CliError(`--by: expected a name of 1 to ${HOLD_LIMITS.by} characters`, EXIT.usage);
      if (values.until !== undefined) {
        const until = parseUntil(values.until, new Date());
        if (!until.ok) throw new CliError(`--${until.message}`, EXIT.usage);
      }
      const hold = {
        userId,
        reason: values.reason,
        ...(values.until === undefined ? {} : { until: values.until }),
        ...(values.by === undefined ? {} : { by: values.by }),
      };
      console.log(await addHold(url(values.url), secret(), hold));
      return 0;
    }
    case 'remove': {
      onlyUrl('remove');
      console.log(await removeHold(url(values.url), secret(), oneId(rest, 'remove')));
      return 0;
    }
    case 'list': {
      onlyUrl('list');
      if (rest.length > 0) throw new CliError(`list takes no arguments\n${USAGE}`, EXIT.usage);
      console.log(await listHoldsTable(url(values.url), secret(), new Date()));
      return 0;
    }
    default:
      throw new CliError(`expected add, remove or list${command ? `, got "${command}"` : ''}\n${USAGE}`, EXIT.usage);
  }
}

function oneId(rest: string[], command: string): string {
  if (rest.length !== 1 || rest[0]!.trim() === '') throw new CliError(`${command} takes one user id\n${USAGE}`, EXIT.usage);
  if (rest[0]!.length > HOLD_LIMITS.userId) throw new CliError(`user id is longer than ${HOLD_LIMITS.userId} characters`, EXIT.usage);
  return rest[0]!;
}

const secret = () => findSecret(process.env, process.cwd());

function url(raw: string | undefined): string {
  const given = raw ?? process.env.JOBS_URL ?? DEFAULT_URL;
  let parsed: URL;
  try {
    parsed = new URL(given);
  } catch {
    throw new CliError(`--url: not a URL: "${given}" (e.g. ${DEFAULT_URL})`, EXIT.usage);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new CliError(`--url: expected http(s), got "${given}"`, EXIT.usage);
  return parsed.origin;
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        reason: { type: 'string' },
        until: { type: 'string' },
        by: { type: 'string' },
        url: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n${USAGE}`, EXIT.usage);
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (!(err instanceof CliError)) throw err;
  console.error(`error: ${err.message}`);
  process.exitCode = err.exitCode;
}
