/**
 * Which failures are worth another try, decided from what the error is — its class, the HTTP
 * status, the SQLSTATE — and never from a search over its message: an Upstash error's message
 * carries the command and its arguments (chat ids, a cutoff in ms), which may contain "503".
 *
 * The shapes, as the clients build them (read in their sources):
 * - `@neondatabase/serverless` throws `NeonDbError`. When fetch itself failed (network, our
 *   timeout) it sets `sourceError`. On HTTP 400 it copies Postgres' fields (`code` = SQLSTATE);
 *   Neon's proxy also answers 400 with an empty `code` for a connection lost mid-query
 *   ("connection closed", "error communicating with the server") and for a wrong password. Any
 *   other status becomes the message "Server error (HTTP status N): <body>".
 * - Drizzle wraps a driver error as `DrizzleQueryError` ("Failed query: …") with it as `cause`.
 * - `@upstash/redis` throws `UpstashError("<server reply>, command was: <the command as JSON>")`
 *   on a non-2xx answer, `UpstashError("<server reply>")` for an error in a 2xx answer, and
 *   `UpstashJSONParseError` when the answer is not JSON. It keeps no HTTP status, so the server's
 *   reply (the part before ", command was:") decides, by its Redis error code: LOADING, BUSY,
 *   TRYAGAIN, MASTERDOWN, CLUSTERDOWN and READONLY are transient, ERR, WRONGTYPE, NOSCRIPT,
 *   WRONGPASS… are not (`ERR max requests limit exceeded` is the daily quota: retrying only spends it).
 * - fetch rejects with a `TypeError` when the network fails, and our `AbortSignal.timeout`
 *   with a `TimeoutError` (an `AbortError` when aborted otherwise).
 */
import { DrizzleQueryError } from 'drizzle-orm';

export interface Failure {
  transient: boolean;
  /** What the decision rests on, for tests and logs. */
  kind: string;
}

/** SQLSTATEs of a connection or a server in trouble, or of a transaction that lost a race. */
const TRANSIENT_SQLSTATES = new Set(['40001', '40P01', '57P01', '57P02', '57P03', '53300']);
/** Class 08: connection exceptions. */
const TRANSIENT_SQLSTATE_CLASSES = new Set(['08']);
/** Neon's proxy on a connection lost mid-query: HTTP 400, empty `code`, one of these messages. */
const NEON_CONNECTION_LOST = ['connection closed', 'error communicating with the server'];
/** The Neon driver's text for any status but 400 (`Server error (HTTP status N): body`). */
const NEON_SERVER_ERROR = /^Server error \(HTTP status (\d{3})\)/;
/** Redis error codes that mean "not now" rather than "not this". */
const TRANSIENT_REDIS_CODES = new Set(['LOADING', 'BUSY', 'TRYAGAIN', 'MASTERDOWN', 'CLUSTERDOWN', 'READONLY']);
const UPSTASH_COMMAND_SUFFIX = ', command was: ';
/**
 * workerd rejects fetch with a plain `Error` (not a TypeError) when the connection drops; its
 * message is the runtime's own, whole, with nothing of ours in it.
 */
const WORKERD_NETWORK_ERRORS = new Set(['Network connection lost.']);

/** True when trying the same request again may succeed. */
export function isTransient(err: unknown): boolean {
  return classifyFailure(err).transient;
}

/**
 * True when our own timeout ended the request (through Drizzle's and Neon's wrappers): the
 * endpoint is slow or hung, and at Neon the abandoned statement was cancelled and rolled back.
 */
export function timedOut(err: unknown): boolean {
  return /(^|: )timeout$/.test(classifyFailure(err).kind);
}

/**
 * True when the statement ran out of time: Postgres cancelled it (SQLSTATE 57014, query_canceled:
 * `statement_timeout`, set inside the batch's transaction) or our own abort ended the request.
 * Either way the transaction was rolled back, and the same statement would only time out again.
 */
export function statementTimedOut(err: unknown): boolean {
  return timedOut(err) || classifyFailure(err).kind === 'SQLSTATE 57014';
}

/** The decision and what it rests on. */
export function classifyFailure(err: unknown): Failure {
  if (!(err instanceof Error) && !isDomException(err)) return { transient: false, kind: 'not an error' };
  const e = err as Error & Record<string, unknown>;
  if (err instanceof DrizzleQueryError && err.cause !== undefined) return classifyFailure(err.cause);
  if (e.name === 'TimeoutError') return { transient: true, kind: 'timeout' };
  if (e.name === 'AbortError') return { transient: true, kind: 'aborted' };
  if (e.name === 'NeonDbError') return neonFailure(e);
  if (e.name === 'UpstashJSONParseError') return { transient: true, kind: 'upstash: answer not JSON (a gateway page)' };
  if (e.name === 'UpstashError') return upstashFailure(e.message);
  if (err instanceof TypeError) return { transient: true, kind: 'network (fetch TypeError)' };
  if (e.constructor === Error && WORKERD_NETWORK_ERRORS.has(e.message)) return { transient: true, kind: 'network (workerd)' };
  if (typeof e.status === 'number') return statusFailure(e.status);
  return { transient: false, kind: 'other error' };
}

/** By HTTP status: 5xx, 408 and 429 are worth another try, except 507 (the answer is too big). */
export function statusFailure(status: number): Failure {
  if (status === 507 || status === 413) return { transient: false, kind: `HTTP ${status} (too large)` };
  return { transient: status >= 500 || status === 408 || status === 429, kind: `HTTP ${status}` };
}

/** By SQLSTATE: a lost connection, a server starting or full, a serialization failure or deadlock. */
export function sqlstateFailure(code: string): Failure {
  const transient = TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SQLSTATE_CLASSES.has(code.slice(0, 2));
  return { transient, kind: `SQLSTATE ${code}` };
}

function neonFailure(e: Error & Record<string, unknown>): Failure {
  if (e.sourceError !== undefined) {
    const source = classifyFailure(e.sourceError);
    // fetch never reached an answer: network, or our own timeout. Either way, not the statement.
    return { transient: true, kind: `neon: ${source.transient ? source.kind : 'fetch failed'}` };
  }
  const code = typeof e.code === 'string' ? e.code : '';
  if (code !== '') return sqlstateFailure(code);
  const status = NEON_SERVER_ERROR.exec(e.message)?.[1];
  if (status !== undefined) return statusFailure(Number(status));
  // HTTP 400 without a SQLSTATE: a connection lost mid-query (transient) or a wrong password
  // or malformed request (permanent). Only Neon's own two messages for the first are retried.
  if (NEON_CONNECTION_LOST.some((m) => e.message === m || e.message.startsWith(`${m}:`) || e.message.startsWith(`${m} `))) {
    return { transient: true, kind: 'neon: connection lost (400, no SQLSTATE)' };
  }
  return { transient: false, kind: 'neon: 400 without SQLSTATE' };
}

function upstashFailure(message: string): Failure {
  const cut = message.indexOf(UPSTASH_COMMAND_SUFFIX);
  const reply = cut === -1 ? message : message.slice(0, cut);
  const code = /^[A-Z]+(?=\s|$)/.exec(reply)?.[0];
  // Redis and Upstash's REST layer answer with a Redis error code (`ERR max requests limit
  // exceeded`, `WRONGPASS …`); a reply without one comes from in front of them (a 5xx's text).
  if (code === undefined) return { transient: true, kind: 'upstash: reply without a Redis error code' };
  return { transient: TRANSIENT_REDIS_CODES.has(code), kind: `upstash: ${code}` };
}

function isDomException(err: unknown): boolean {
  return typeof DOMException !== 'undefined' && err instanceof DOMException;
}
