/**
 * A real Standard Webhooks receiver for the account events tests: an HTTP server on loopback that
 * checks every request with the library's own verifier (`Webhook#verify`, which also rejects a
 * stale timestamp) and records each attempt it received. It can be made to fail for real:
 * `http503` answers 503 after verifying; `reset` destroys the connection without an answer.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type ReceiverMode = 'ok' | 'http503' | 'reset';

export interface ReceivedAttempt {
  webhookId: string;
  /** True when the library's verifier accepted the signature and timestamp. */
  verified: boolean;
  /** What the receiver answered (0: the connection was reset). */
  status: number;
  body: { type: string; timestamp: string; data: Record<string, string> } | null;
}

const PATH = '/hooks/account-events';

export async function startWebhookReceiver(secret: string) {
  const verifier = new Webhook(secret);
  const attempts: ReceivedAttempt[] = [];
  let mode: ReceiverMode = 'ok';
  const server = createServer(async (req, res) => {
    const payload = await readBody(req);
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
    let verified = false;
    try {
      verifier.verify(payload, headers);
      verified = true;
    } catch {
      verified = false;
    }
    let body: ReceivedAttempt['body'] = null;
    try {
      body = JSON.parse(payload);
    } catch {
      body = null;
    }
    // A wrong URL (another path) is answered 404, a wrong secret 400: what a real receiver says.
    const wrongPath = req.url !== PATH;
    const status = mode === 'reset' ? 0 : wrongPath ? 404 : !verified ? 400 : mode === 'http503' ? 503 : 204;
    attempts.push({ webhookId: headers['webhook-id'] ?? '', verified, status, body });
    if (status === 0) req.socket.destroy();
    else res.writeHead(status).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${PATH}`,
    attempts,
    setMode(m: ReceiverMode) {
      mode = m;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

async function readBody(req: IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return body;
}
