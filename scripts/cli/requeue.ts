/**
 * `npm run job -- requeue <job>`: makes the job's parked rows due again
 * (POST /api/internal/jobs/<job>/requeue), once what made them fail is fixed.
 */
import { CliError } from './errors.ts';
import { apiError, callWorker } from './http.ts';
import type { Secret } from './secret.ts';

/** Requeues and returns the line to print: how many rows are due again. */
export async function requeueJob(url: string, secret: Secret, job: string): Promise<string> {
  const path = `/api/internal/jobs/${encodeURIComponent(job)}/requeue`;
  const answer = await callWorker(url, path, secret, 'POST');
  if (answer.status !== 200) throw apiError(`${url}${path}`, answer);
  const n = answer.body.requeued;
  if (typeof n !== 'number') throw new CliError(`unexpected answer from ${url}${path}: ${JSON.stringify(answer.body)}`);
  return `${job}: ${n} parked row${n === 1 ? '' : 's'} due again; the next run picks ${n === 1 ? 'it' : 'them'} up`;
}
