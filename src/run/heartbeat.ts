/**
 * Heartbeat pings, Healthchecks.io style: `<url>/start` when a run takes its lock, `<url>` when it
 * succeeds, `<url>/fail` (with the error or the alarm as the body) when it fails or leaves data
 * overdue. The monitoring service alerts when a ping is late or a failure arrives, so a run that
 * never happened is noticed too. A ping that fails is logged, never fails the run.
 */
import { logEvent, publicMessage } from '../log';

export type PingKind = 'start' | 'success' | 'fail';

const PING_TIMEOUT_MS = 5_000;
const SUFFIX: Record<PingKind, string> = { start: '/start', success: '', fail: '/fail' };

/** Sends one ping. `rid` pairs start and end of a run in Healthchecks' UI. */
export async function ping(url: string, kind: PingKind, info: { job: string; runId: string; body?: string }): Promise<void> {
  try {
    const res = await fetch(`${url}${SUFFIX[kind]}?rid=${encodeURIComponent(info.runId)}`, {
      method: 'POST',
      body: info.body ?? '',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      signal: AbortSignal.timeout(PING_TIMEOUT_MS),
    });
    await res.body?.cancel();
    if (!res.ok) throw new Error(`the heartbeat service answered ${res.status}`);
  } catch (err) {
    logEvent('warn', 'heartbeat_failed', { job: info.job, runId: info.runId, kind, error: publicMessage(err) });
  }
}
