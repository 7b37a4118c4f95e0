/**
 * What GET /api/internal/health reports: Postgres and Redis answer (each probe's latency, or its
 * error), and no alarm stands (data overdue for deletion, blob deletions parked, a job paused too
 * long). `paused` lists the pauses standing: a paused job alone is not unhealthy.
 */
import type { Invocation } from '../deps';
import { publicMessage } from '../log';
import { type Alarm, alarmsAt } from '../run/alarms';
import { listPauses, type Pause, pauseAlarms } from '../run/pauses';
import { JOBS } from '../jobs';

/** Probes Postgres (the alarms and pauses: two requests) and Redis (a ping), together. */
export async function healthReport(deps: Invocation) {
  let alarms: Alarm[] = [];
  let paused: Pause[] = [];
  const [postgres, redis] = await Promise.all([
    probe(async () => {
      const now = new Date();
      const [standing, pauses] = await Promise.all([alarmsAt(deps.db, JOBS, { config: deps.config, now }), listPauses(deps.db)]);
      paused = pauses;
      alarms = [...standing, ...pauseAlarms(pauses, deps.config, now)];
    }),
    probe(() => deps.redis.ping()),
  ]);
  return { ok: postgres.ok && redis.ok && alarms.length === 0, postgres, redis, alarms, paused };
}

async function probe(check: () => Promise<unknown>) {
  const started = Date.now();
  try {
    await check();
    return { ok: true, latencyMs: Date.now() - started };
  } catch (err) {
    return { ok: false, latencyMs: Date.now() - started, error: publicMessage(err) };
  }
}
