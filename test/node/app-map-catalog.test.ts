/**
 * The app maps against real Postgres: each fixture's Prisma migrations applied to a fresh database,
 * then every table, column, type, primary key, foreign key and ON DELETE its app-map.json names is
 * looked up in the catalog. So the map says what `prisma migrate` really creates.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { checkMapAgainstCatalog } from '../../scripts/map/catalog.ts';
import { createDatabase } from '../../scripts/stack/migrate.ts';
import type { AppMap } from '../../src/app-map/types.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const FIXTURES = [
  { name: 'spacerr', map: 'app-map.json' },
  { name: 'prisma-defaults', map: 'fixtures/prisma-defaults/app-map.json' },
  { name: 'snake-plural', map: 'fixtures/snake-plural/app-map.json' },
];
const clients: pg.Client[] = [];
const created: string[] = [];

afterAll(async () => {
  for (const client of clients) await client.end();
  const admin = new pg.Client({ connectionString: inject('stack').postgresUrl });
  await admin.connect();
  for (const name of created) await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
  await admin.end();
});

/** A fresh database with the fixture's migrations applied in order, as `prisma migrate deploy` would. */
async function migrated(fixture: string): Promise<pg.Client> {
  const name = `app_map_${created.length}_${fixture.replace('-', '_')}_${process.pid}`;
  created.push(name);
  const client = new pg.Client({ connectionString: await createDatabase(inject('stack').postgresUrl, name) });
  await client.connect();
  clients.push(client);
  const dir = resolve(ROOT, 'fixtures', fixture, 'prisma/migrations');
  for (const migration of readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort())
    await client.query(readFileSync(join(dir, migration, 'migration.sql'), 'utf8'));
  return client;
}

const readMap = (path: string) => JSON.parse(readFileSync(resolve(ROOT, path), 'utf8')) as AppMap;

describe('each fixture map matches the database its migrations create', () => {
  for (const fixture of FIXTURES) {
    it(`${fixture.name}: ${fixture.map}`, async () => {
      const map = readMap(fixture.map);
      expect(map.derivedFrom.prisma).toContain(`fixtures/${fixture.name}/`);
      expect(await checkMapAgainstCatalog(await migrated(fixture.name), map)).toEqual([]);
    });
  }
});

describe('the check finds what differs', () => {
  it('a wrong type, table, nullability, ON DELETE and a missing foreign key are each reported', async () => {
    const client = await migrated('spacerr');
    const map = readMap('app-map.json');
    map.roles.user!.columns.deactivatedAt!.type = 'timestamp(6) with time zone';
    map.roles.chat!.columns.projectId!.nullable = false;
    map.roles.project!.table = 'projects';
    map.relations.find((r) => r.constraint === 'chat_projectId_fkey')!.onDelete = 'CASCADE';
    map.userReferences.push({ ...map.userReferences[0]!, constraint: 'verification_userId_fkey', table: 'verification' });
    await client.query('ALTER TABLE "message" DROP CONSTRAINT "message_chatId_fkey"');
    expect(await checkMapAgainstCatalog(client, map)).toEqual([
      'user.deactivatedAt: "user"."deactivatedAt" is timestamp(3) without time zone, the map says timestamp(6) with time zone',
      'chat.projectId: "chat"."projectId" is nullable, the map says NOT NULL',
      'project: no table public."projects"',
      'chat_projectId_fkey: ON DELETE SET NULL, the map says CASCADE',
      'no foreign key "message_chatId_fkey" on "message"',
      'no foreign key "verification_userId_fkey" on "verification"',
    ]);
  });
});
