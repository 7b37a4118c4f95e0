/**
 * `npm run receipt -- <userId>`: was this user erased, when, and by which run? Answers from the
 * account events the Worker recorded (account events must be on: ACCOUNT_EVENTS_URL and
 * ACCOUNT_EVENTS_SECRET). Reads only. DATABASE_URL from the environment, else from .dev.vars.
 * Exit codes: 0 erased, 1 not erased or no erasure recorded, 2 usage or database error.
 */
import { devVar } from './dev-vars.ts';
import { formatReceipt, readReceipt } from './receipt/read.ts';

function databaseUrl(): string | undefined {
  return devVar('DATABASE_URL')?.value;
}

async function main(args: string[]): Promise<number> {
  const [userId, ...rest] = args;
  if (!userId || rest.length > 0) {
    console.error('usage: npm run receipt -- <userId>');
    return 2;
  }
  const url = databaseUrl();
  if (!url) {
    console.error('✗ DATABASE_URL is not set: DATABASE_URL=postgres://… npm run receipt -- <userId> (or run `npm run dev` once)');
    return 2;
  }
  try {
    const receipt = await readReceipt(url, userId);
    for (const line of formatReceipt(receipt)) console.log(line);
    return receipt.erased ? 0 : 1;
  } catch (err) {
    console.error(`✗ cannot read the database: ${(err as Error).message}`);
    return 2;
  }
}

process.exitCode = await main(process.argv.slice(2));
