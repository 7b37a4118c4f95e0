/** Shared by the Node tests that drive the local Neon endpoint with the real Neon client. */
import { NeonDbError } from '@neondatabase/serverless';
import { expect } from 'vitest';

/** `url` with its database replaced by `db`. */
export function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.href;
}

/** The rejection of `promise` as a NeonDbError (fails the test if it resolves or throws something else). */
export async function rejection(promise: Promise<unknown>): Promise<NeonDbError> {
  const err = await promise.then(
    () => expect.unreachable('query should have failed'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NeonDbError);
  return err as NeonDbError;
}
