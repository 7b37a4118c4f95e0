/**
 * `npm run job -- pause <job> --reason "…" [--by <name>]` and `npm run job -- resume <job>`:
 * POST /api/internal/jobs/<job>/pause and …/resume. While a job is paused its runs are recorded
 * `skipped` with the reason; resuming lets its next cron run it.
 */
import { CliError, EXIT } from './errors.ts';
import { apiError, callWorker } from './http.ts';
import type { Secret } from './secret.ts';

interface Pause {
  job: string;
  reason: string;
  by: string | null;
  since: string;
}

/** Pauses the job and returns the line to print. */
export async function pauseJob(url: string, secret: Secret, job: string, p: { reason: string; by?: string }): Promise<string> {
  const path = `/api/internal/jobs/${encodeURIComponent(job)}/pause`;
  const answer = await callWorker(url, path, secret, 'POST', p);
  if (answer.status !== 200) throw failure(url, path, answer);
  const pause = answer.body.pause as Pause | undefined;
  if (typeof pause?.since !== 'string') throw new CliError(`unexpected answer from ${url}${path}: ${JSON.stringify(answer.body)}`);
  return `${job}: paused${pause.by ? ` by ${pause.by}` : ''} since ${pause.since}: ${pause.reason}\nits runs are skipped until \`npm run job -- resume ${job}\``;
}

/** Resumes the job and returns the line to print. */
export async function resumeJob(url: string, secret: Secret, job: string): Promise<string> {
  const path = `/api/internal/jobs/${encodeURIComponent(job)}/resume`;
  const answer = await callWorker(url, path, secret, 'POST');
  if (answer.status !== 200) throw failure(url, path, answer);
  if (typeof answer.body.resumed !== 'boolean') throw new CliError(`unexpected answer from ${url}${path}: ${JSON.stringify(answer.body)}`);
  return answer.body.resumed ? `${job}: resumed; its next cron runs it` : `${job}: was not paused`;
}

function failure(url: string, path: string, answer: Awaited<ReturnType<typeof callWorker>>): CliError {
  if (answer.status === 404 && answer.body.error === 'unknown_job') {
    const jobs = Array.isArray(answer.body.jobs) ? answer.body.jobs.join(', ') : '(the Worker did not list them)';
    return new CliError(`unknown job. Jobs: ${jobs}`, EXIT.usage);
  }
  return apiError(`${url}${path}`, answer);
}
