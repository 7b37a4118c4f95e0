/**
 * `npm run receipt -- <userId>`: its Stripe part lists each customer the user's deletion queued,
 * as Stripe erasure left it (spacerr_jobs.stripe_customer_deletions), and no one else's.
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import pg from 'pg';
import { expect, it } from 'vitest';
import { provisionNodeEnv } from '../support/node-env.ts';

const RECEIPT = resolve(import.meta.dirname, '../../scripts/receipt.ts');

it('lists the Stripe customers as removed, pending or parked', async () => {
  const env = await provisionNodeEnv();
  const db = new pg.Client({ connectionString: env.DATABASE_URL });
  await db.connect();
  try {
    await db.query(`
      INSERT INTO spacerr_jobs.stripe_customer_deletions (customer_id, owner_id, enqueued_at, attempts, deleted_at, parked_at, last_error) VALUES
        ('cus_removed', 'gone', '2026-12-01T00:00:00Z', 1, '2026-12-01T00:10:00Z', NULL, NULL),
        ('cus_pending', 'gone', '2026-12-01T00:00:01Z', 2, NULL, NULL, 'Stripe 429 invalid_request_error/rate_limit: slow down'),
        ('cus_parked', 'gone', '2026-12-01T00:00:02Z', 8, NULL, '2026-12-02T00:00:00Z', 'Stripe 401 invalid_request_error: Invalid API Key provided'),
        ('cus_other', 'someone-else', '2026-12-01T00:00:03Z', 0, NULL, NULL, NULL)`);
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((done) =>
      execFile('node', [RECEIPT, 'gone'], { env: { ...process.env, DATABASE_URL: env.DATABASE_URL } }, (err, out) =>
        done({ code: err ? Number(err.code) : 0, stdout: out }),
      ),
    );
    expect(code).toBe(1); // no account.erased recorded (events off): the Stripe part still answers
    expect(stdout.split('\n').slice(1, 5)).toEqual([
      '  stripe',
      '    customer cus_removed removed 2026-12-01T00:10:00.000Z (queued 2026-12-01T00:00:00.000Z)',
      '    customer cus_pending pending since 2026-12-01T00:00:01.000Z (2 attempts, last: Stripe 429 invalid_request_error/rate_limit: slow down)',
      '    customer cus_parked PARKED 2026-12-02T00:00:00.000Z after 8 attempts: Stripe 401 invalid_request_error: Invalid API Key provided',
    ]);
    expect(stdout).not.toContain('cus_other');
  } finally {
    await db.end();
  }
});
