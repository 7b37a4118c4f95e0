import { neon, neonConfig } from '@neondatabase/serverless';
import { drizzle, type NeonHttpDatabase } from 'drizzle-orm/neon-http';
import * as schema from './schema';

export type Db = NeonHttpDatabase<typeof schema>;

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
