/**
 * One JSON object per line: Workers Logs indexes its fields, so `job`, `runId`, `status` and the
 * counts can be queried directly.
 */
export function logEvent(level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown>): void {
  const line = JSON.stringify({ level, event, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}
