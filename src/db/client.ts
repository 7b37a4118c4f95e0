import { neon, neonConfig } from '@neondatabase/serverless';
import { drizzle, type NeonHttpDatabase } from 'drizzle-orm/neon-http';
import * as schema from './schema';

export type Db = NeonHttpDatabase<typeof schema>;

/** A query that has not answered by then is abandoned (and retried if the budget allows). */
export const QUERY_TIMEOUT_MS = 10_000;

// Also module-global in the driver, and the same for every invocation: a per-request timeout, so a
// hung Neon endpoint costs one bounded wait instead of the whole invocation.
neonConfig.fetchFunction = (input: Parameters<typeof fetch>[0], init?: Parameters<typeof fetch>[1]) =>
  fetch(input, { ...init, signal: AbortSignal.timeout(QUERY_TIMEOUT_MS) });

/**
 * Drizzle on Neon's HTTP driver: every query (or batch) is one HTTPS request, so one
 * subrequest, and a batch runs in one transaction. With `neonHttpEndpoint` set (local development
 * and tests only) queries go to the local endpoint that speaks the same protocol.
 */
export function createDb(databaseUrl: string, neonHttpEndpoint: string | undefined): Db {
  if (neonHttpEndpoint) {
    // neonConfig.fetchEndpoint is module-global in the driver; every invocation of this Worker
    // sets the same value, so concurrent requests cannot disagree about it.
    neonConfig.fetchEndpoint = () => neonHttpEndpoint;
  }
  return drizzle({ client: neon(databaseUrl), schema });
}
