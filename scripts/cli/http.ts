/**
 * The CLI's calls to the Worker's internal API, with every failure turned into a message an
 * operator can act on: unreachable, wrong secret, unknown job, a non-JSON answer.
 */
import { CliError, EXIT } from './errors.ts';
import type { Secret } from './secret.ts';

/** A run may take its whole time budget (25 s by default); this only catches a hung connection. */
const REQUEST_TIMEOUT_MS = 120_000;

export interface WorkerAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** Calls `{baseUrl}{path}` with the bearer secret (and `body` as JSON) and returns the status and parsed JSON body. */
export async function callWorker(
  baseUrl: string,
  path: string,
  secret: Secret,
  method: 'GET' | 'POST' | 'DELETE',
  body?: unknown,
): Promise<WorkerAnswer> {
  const url = new URL(path, baseUrl);
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${secret.value}`,
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new CliError(unreachable(baseUrl, err));
  }
  const text = await res.text();
  if (res.status === 401) {
    throw new CliError(`wrong or missing CRON_SECRET for ${baseUrl} (the secret came from ${secret.source})`, EXIT.usage);
  }
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) {
    const type = res.headers.get('content-type') ?? 'no content type';
    throw new CliError(`unexpected answer from ${url}: HTTP ${res.status} (${type}), not the jobs API's JSON — is the URL right?`);
  }
  return { status: res.status, body: answer as Record<string, unknown> };
}

/** The error for an answer that is neither a run report nor a listing. */
export function apiError(url: string, answer: WorkerAnswer): CliError {
  const { status, body } = answer;
  const message = typeof body.message === 'string' ? body.message : JSON.stringify(body);
  const code = typeof body.error === 'string' ? `${body.error}: ` : '';
  return new CliError(`${url} answered HTTP ${status}: ${code}${message}`, status === 400 || status === 404 ? EXIT.usage : EXIT.failed);
}

function unreachable(baseUrl: string, err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (err as Error).message;
  const host = new URL(baseUrl).hostname;
  const local = host === 'localhost' || host === '127.0.0.1' || host === '::1' || host === '[::1]';
  const hint = local ? 'is `npm run dev` running?' : 'check the URL and that the Worker is deployed';
  return `cannot reach ${baseUrl} (${why}) — ${hint}`;
}
