// The path every other test stands on: inside workerd, Drizzle on neon-http reads and writes the
// real Postgres through the local Neon endpoint, and @upstash/redis round-trips through real Redis.
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { users } from '../support/app-tables';
import { provisionEnv, q, sql, type TestEnv, testDb, testRedis } from './support';

let e: TestEnv;
beforeAll(async () => {
  e = await provisionEnv();
});

describe('local stack from inside workerd', () => {
  it('writes and reads Postgres with Drizzle on neon-http, types intact', async () => {
    const db = testDb(e);
    const at = new Date('2026-01-02T03:04:05.678Z');
    await db.insert(users).values({ id: 'u1', email: 'u1@example.com', createdAt: at, deactivatedAt: at });
    const [row] = await db.select().from(users).where(eq(users.id, 'u1'));
    expect(row).toEqual({ id: 'u1', email: 'u1@example.com', name: null, createdAt: at, deactivatedAt: at });
    const [version] = await q<{ server_version: string }>(db, sql`SHOW server_version`);
    expect(version?.server_version).toMatch(/^\d+/);
  });

  it('runs a batch in one transaction: a failing statement undoes the others', async () => {
    const db = testDb(e);
    await expect(
      db.batch([
        db.insert(users).values({ id: 'u2', email: 'u2@example.com' }),
        db.insert(users).values({ id: 'u3', email: 'u1@example.com' }), // duplicate email
      ]),
    ).rejects.toThrow();
    expect(await db.select().from(users).where(eq(users.id, 'u2'))).toEqual([]);
  });

  it('round-trips @upstash/redis through real Redis', async () => {
    const redis = testRedis(e);
    await redis.zadd('active-streams', { score: 1700000000000, member: 'chat-1' });
    await redis.set('active-stream:chat-1', 'stream-abc');
    // automaticDeserialization is off in the Worker's client: scores come back as Redis sends them.
    expect(Number(await redis.zscore('active-streams', 'chat-1'))).toBe(1700000000000);
    expect(await redis.get('active-stream:chat-1')).toBe('stream-abc');
    expect(await redis.eval('return redis.call("ZCARD", KEYS[1])', ['active-streams'], [])).toBe(1);
  });

  it('gives each test env its own database and Redis keyspace', async () => {
    const other = await provisionEnv();
    expect(await testDb(other).select().from(users)).toEqual([]);
    expect(await testRedis(other).get('active-stream:chat-1')).toBeNull();
  });
});
