/**
 * Added round-trip time for the local Neon and Upstash endpoints (`npm run bench -- --rtt-ms 25`):
 * a Worker reaches Neon and Upstash over the internet in tens of milliseconds, not the ~1 ms of
 * loopback. Each request is handed to the server's handlers `rttMs` after it arrived.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Delays every request of `server` by `rttMs` (0 or undefined: no change). Call once, after createServer. */
export function addLatency(server: Server, rttMs: number | undefined): void {
  if (!rttMs) return;
  const handlers = server.listeners('request') as Handler[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) =>
    setTimeout(() => {
      for (const handler of handlers) handler.call(server, req, res);
    }, rttMs),
  );
}
