/**
 * Every event the Worker logs, one name each (docs/operations.md, Troubleshooting, lists what each means).
 * Query them in Workers Logs as `event = "…"`.
 */
export const LOG_EVENTS = [
  'job_run',
  'job_run_record_failed',
  'config_invalid',
  'unknown_cron',
  'tick',
  'slots_missed',
  'slot_check_failed',
  'continuation_sent',
  'continuation_failed',
  'continuation_limit',
  'continuation_invalid',
  'recovery_sent',
  'recovery_failed',
  'recovery_exhausted',
  'heartbeat_failed',
  'http_error',
  'requeued',
  'job_paused',
  'job_resumed',
  'status_sign_in',
  'hold_placed',
  'hold_lifted',
] as const;
export type LogEvent = (typeof LOG_EVENTS)[number];
export type LogLevel = 'info' | 'warn' | 'error';

/**
 * One JSON object per line: Workers Logs indexes its fields, so `job`, `runId`, `status` and the
 * counts can be queried directly.
 */
export function logEvent(level: LogLevel, event: LogEvent, fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

/**
 * An error message fit for a caller and a log line: the error's class and message, with anything
 * that looks like a connection string or bearer token masked. Never a stack or the SQL text.
 */
export function publicMessage(err: unknown): string {
  // Drizzle wraps driver errors as "Failed query: <sql>\nparams: …"; the driver's error is the cause.
  while (err instanceof Error && err.message.startsWith('Failed query') && err.cause !== undefined) err = err.cause;
  const name = err instanceof Error ? err.name : 'Error';
  const raw = err instanceof Error ? err.message : String(err);
  const firstLine = raw.split('\n')[0] ?? '';
  const masked = firstLine.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, '<url>').replace(/Bearer\s+\S+/gi, 'Bearer <redacted>');
  return `${name}: ${masked}`.slice(0, 300);
}
