/**
 * `npm run doctor`: checks a database against the contract with the app (docs/contract.md) and
 * changes nothing. One line per check, ✓ or ✗, and under each ✗ the fix (SQL, and the Prisma
 * schema line where one exists). DATABASE_URL from the environment, else from .dev.vars.
 * Exit codes: 0 every check passed, 1 a check failed or the database could not be read.
 */
import { devVar } from './dev-vars.ts';
import { formatChecks, runChecks } from './doctor/checks.ts';

function databaseUrl(): string | undefined {
  return devVar('DATABASE_URL')?.value;
}

async function main(): Promise<number> {
  const url = databaseUrl();
  if (!url) {
    console.error('✗ DATABASE_URL is not set: DATABASE_URL=postgres://… npm run doctor (or run `npm run dev` once to write .dev.vars)');
    return 1;
  }
  try {
    const checks = await runChecks(url);
    for (const line of formatChecks(checks)) console.log(line);
    const failed = checks.filter((c) => !c.ok).length;
    console.log(failed === 0 ? `\nall ${checks.length} checks passed` : `\n${failed} of ${checks.length} checks failed`);
    return failed === 0 ? 0 : 1;
  } catch (err) {
    console.error(`✗ cannot check the database: ${(err as Error).message}`);
    return 1;
  }
}

process.exitCode = await main();
