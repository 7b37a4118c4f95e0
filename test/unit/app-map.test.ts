/**
 * `npm run map`: the app map derived from Prisma schemas by Prisma's own engine — the three
 * fixtures, the gaps a schema can have, the overrides, and the committed maps (which must be what
 * their schemas derive, so they cannot drift).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AppMap } from '../../src/app-map/types.ts';
import { buildMap } from '../../scripts/map/build.ts';
import { deriveMap } from '../../scripts/map/derive.ts';
import { foreignKeyName } from '../../scripts/map/foreign-keys.ts';
import { NO_OVERRIDES, type ParsedOverrides, parseOverrides } from '../../scripts/map/overrides.ts';
import { parseSchema, readSchemaFiles } from '../../scripts/map/prisma.ts';

const ROOT = resolve(import.meta.dirname, '../..');

const fixture = (name: string, prisma: string) => buildMap({ prisma: `fixtures/${name}/prisma/${prisma}`, overrides: null, root: ROOT });

/** A small app: User, Chat and Message, with `chatUser` as the chat's relation to its user. */
function schema({ datasource = '', chatUser = 'onDelete: Cascade', extra = '' } = {}): string {
  return `
datasource db {
  provider = "postgresql"
  ${datasource}
}
model User {
  id            String    @id
  deactivatedAt DateTime?
  chats         Chat[]
}
model Chat {
  id        String    @id
  userId    String
  user      User      @relation(fields: [userId], references: [id]${chatUser ? `, ${chatUser}` : ''})
  createdAt DateTime  @default(now())
  messages  Message[]
  ${extra}
}
model Message {
  id     String @id
  chatId String
  chat   Chat   @relation(fields: [chatId], references: [id], onDelete: Cascade)
}`;
}

function derive(text: string, overrides: ParsedOverrides = NO_OVERRIDES): AppMap {
  return deriveMap({
    schema: parseSchema([['schema.prisma', text]]),
    overrides,
    derivedFrom: { prisma: 'schema.prisma', overrides: null },
  });
}

describe('the Spacerr fixture (multi-file, singular snake_case tables, camelCase columns)', () => {
  const map = fixture('spacerr', 'schema');

  it('maps the user to "user" with deactivatedAt as TIMESTAMP(3) without time zone', () => {
    expect(map.roles.user).toMatchObject({ model: 'User', table: 'user', id: { name: 'id', type: 'text' } });
    expect(map.roles.user?.columns.deactivatedAt).toEqual({
      name: 'deactivatedAt',
      type: 'timestamp(3) without time zone',
      time: 'timestamp',
      nullable: true,
    });
  });

  it('maps chat, message, message_source and project with their columns', () => {
    expect(map.roles.chat?.table).toBe('chat');
    expect(Object.keys(map.roles.chat!.columns)).toEqual(['userId', 'createdAt', 'projectId', 'activeStreamId']);
    expect(map.roles.message?.table).toBe('message');
    expect(map.roles.message?.columns.parts).toEqual({ name: 'parts', type: 'jsonb', nullable: false });
    expect(map.roles.messageSource?.table).toBe('message_source');
    expect(Object.keys(map.roles.messageSource!.columns)).toEqual(['messageId', 'chatId', 'pathname']);
    expect(map.roles.project).toMatchObject({ table: 'project', columns: { userId: { name: 'userId', type: 'text' } } });
  });

  it('lists the relations between roles with Prisma constraint names and their ON DELETE', () => {
    const rules = Object.fromEntries(map.relations.map((r) => [r.constraint, r.onDelete]));
    expect(rules).toEqual({
      project_userId_fkey: 'CASCADE',
      chat_userId_fkey: 'CASCADE',
      chat_projectId_fkey: 'SET NULL',
      message_chatId_fkey: 'CASCADE',
      message_source_chatId_fkey: 'CASCADE',
      message_source_messageId_fkey: 'CASCADE',
    });
  });

  it('lists every foreign key to the user, Better Auth and billing tables included', () => {
    const rules = Object.fromEntries(map.userReferences.map((r) => [r.table, r.onDelete]));
    expect(rules).toMatchObject({
      session: 'CASCADE',
      account: 'CASCADE',
      passkey: 'CASCADE',
      billing_subscription: 'CASCADE',
      deactivation_feedback: 'SET NULL',
      chat: 'CASCADE',
      project: 'CASCADE',
    });
  });

  it('lists verification as user data without a foreign key', () => {
    expect(map.unlinkedUserData).toEqual([{ model: 'Verification', table: 'verification', why: expect.stringContaining('identifier') }]);
  });

  it('has no attachment role, as a gap and not an error', () => {
    expect(map.roles.attachment).toBeUndefined();
    expect(map.gaps).toContainEqual({ role: 'attachment', why: expect.stringContaining('model Attachment not found') });
    expect(map.gaps.filter((g) => g.column && !g.why.includes('optional'))).toEqual([]);
  });
});

describe('the other layouts', () => {
  it('prisma-defaults (no @@map) names tables as their models', () => {
    const map = fixture('prisma-defaults', 'schema.prisma');
    expect(map.roles.user?.table).toBe('User');
    expect(map.roles.chat?.table).toBe('Chat');
    expect(map.roles.messageSource?.table).toBe('MessageSource');
    expect(map.relations.map((r) => r.constraint)).toContain('Chat_userId_fkey');
  });

  it('snake-plural (@map, @db.Timestamptz(6)) gives users."deactivated_at" as timestamptz', () => {
    const map = fixture('snake-plural', 'schema.prisma');
    expect(map.roles.user?.table).toBe('users');
    expect(map.roles.user?.columns.deactivatedAt).toEqual({
      name: 'deactivated_at',
      type: 'timestamp(6) with time zone',
      time: 'timestamptz',
      nullable: true,
    });
    expect(map.roles.attachment?.columns.blobKey?.name).toBe('blob_key');
    expect(map.relations.find((r) => r.constraint === 'attachments_message_id_fkey')?.onDelete).toBe('SET NULL');
  });
});

describe('gaps and errors', () => {
  it('a schema with relationMode = "prisma" says so, with a gap for each cascade the jobs rely on', () => {
    const map = derive(schema({ datasource: 'relationMode = "prisma"' }));
    expect(map.relationMode).toBe('prisma');
    expect(map.gaps).toContainEqual({ role: 'chat', column: 'userId', why: expect.stringContaining('relationMode = "prisma"') });
    expect(map.gaps).toContainEqual({ role: 'message', column: 'chatId', why: expect.stringContaining('no foreign key exists') });
  });

  it("a chat → user relation without onDelete gets Prisma's default, Restrict, and a gap naming it", () => {
    const map = derive(schema({ chatUser: '' }));
    expect(map.relations.find((r) => r.constraint === 'Chat_userId_fkey')?.onDelete).toBe('RESTRICT');
    expect(map.gaps).toContainEqual({
      role: 'chat',
      column: 'userId',
      why: "chat.userId → user is onDelete: Restrict (Prisma's default, none given), not Cascade: deleting a user would fail while it has chats",
    });
  });

  it('an optional relation without onDelete defaults to SET NULL', () => {
    const map = derive(
      schema({ extra: 'reviewerId String?\n  reviewer User? @relation("review", fields: [reviewerId], references: [id])' }).replace(
        'chats         Chat[]',
        'chats Chat[]\n  reviews Chat[] @relation("review")',
      ),
    );
    expect(map.userReferences.find((r) => r.constraint === 'Chat_reviewerId_fkey')?.onDelete).toBe('SET NULL');
  });

  it('a relation map: names the constraint', () => {
    const map = derive(schema({ chatUser: 'onDelete: Cascade, map: "chat_owner_fk"' }));
    expect(map.relations.map((r) => r.constraint)).toContain('chat_owner_fk');
  });

  it('a missing Project model is a gap of the optional role, not an error', () => {
    const map = derive(schema());
    expect(map.roles.project).toBeUndefined();
    expect(map.gaps).toContainEqual({ role: 'project', why: expect.stringContaining('model Project not found') });
  });

  it('a missing User model fails with a message that says how to name it', () => {
    const text = schema()
      .replace('model User {', 'model Person {')
      .replaceAll(' User ', ' Person ')
      .replace('User      @relation', 'Person    @relation');
    expect(() => derive(text)).toThrow(/model User not found \(the user role; name its model in the overrides: "roles": \{ "user"/);
  });

  it('a missing required column is a gap naming the model and field', () => {
    const map = derive(schema().replace('deactivatedAt DateTime?', ''));
    expect(map.gaps).toContainEqual({ role: 'user', column: 'deactivatedAt', why: 'model User has no field deactivatedAt (required)' });
  });

  it("a syntax error surfaces Prisma's own message, file and line", () => {
    expect(() => derive(schema().replace('createdAt DateTime  @default(now())', 'createdAt DateTime  @default(now()'))).toThrow(
      /Prisma rejects the schema:\nerror: .*\n\s+-->\s+schema\.prisma:\d+/,
    );
  });

  it("the user model's @@schema is the map's schema; a role in another schema is a gap", () => {
    const text = schema({ datasource: 'schemas = ["auth", "app"]' })
      .replace('chats         Chat[]', 'chats Chat[]\n  @@schema("auth")')
      .replace('messages  Message[]', 'messages Message[]\n  @@schema("auth")')
      .replace(/(onDelete: Cascade\)\n)}/, '$1  @@schema("app")\n}');
    const map = derive(text);
    expect(map.schema).toBe('auth');
    expect(map.gaps).toContainEqual({ role: 'message', why: 'model Message is in schema "app", the map\'s schema is "auth"' });
  });

  it('reads a schema folder recursively, every *.prisma file in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'app-map-'));
    const [head, models] = schema().split('model User');
    mkdirSync(join(dir, 'models/nested'), { recursive: true });
    writeFileSync(join(dir, 'base.prisma'), head!);
    writeFileSync(join(dir, 'models/nested/user.prisma'), `model User${models}`);
    writeFileSync(join(dir, 'models/notes.txt'), 'not a schema');
    expect(readSchemaFiles(dir).map(([path]) => relative(dir, path))).toEqual(['base.prisma', join('models', 'nested', 'user.prisma')]);
    expect(buildMap({ prisma: dir, overrides: null, root: ROOT }).roles.chat?.table).toBe('Chat');
  });

  it('a provider other than postgresql is refused', () => {
    expect(() => derive(schema().replace('"postgresql"', '"mysql"'))).toThrow(/reads Postgres only/);
  });

  it('constraint names are cut at 58 bytes before _fkey, as Prisma cuts them for Postgres', () => {
    expect(foreignKeyName('chat', ['userId'])).toBe('chat_userId_fkey');
    const long = foreignKeyName('a_table_with_a_rather_long_name', ['andAColumnWithAnEvenLongerName']);
    expect(long).toBe(`${'a_table_with_a_rather_long_name_andAColumnWithAnEvenLongerName'.slice(0, 58)}_fkey`);
    expect(Buffer.byteLength(long)).toBe(63);
  });
});

describe('overrides', () => {
  const chatFile = schema().replace(
    'model Message {',
    `model ChatFile {
  id          String  @id
  messageId   String
  message     Message @relation(fields: [messageId], references: [id], onDelete: Cascade)
  storagePath String  @map("storage_path")
}
model Message {
  files ChatFile[]`,
  );

  it("name a role's model and a logical column's field", () => {
    const overrides = parseOverrides({
      roles: { messageSource: { model: 'ChatFile', columns: { pathname: 'storagePath' } } },
      settings: { blobPrefix: 'chat-attachments/' },
    });
    const map = derive(chatFile, overrides);
    expect(map.roles.messageSource).toMatchObject({
      model: 'ChatFile',
      table: 'ChatFile',
      columns: { pathname: { name: 'storage_path', type: 'text' } },
    });
    expect(map.settings).toEqual({ blobPrefix: 'chat-attachments/' });
  });

  it('set the Postgres schema', () => {
    expect(derive(schema(), parseOverrides({ schema: 'app' })).schema).toBe('app');
  });

  it('naming a model or field the schema lacks fails, naming the override', () => {
    expect(() => derive(chatFile, parseOverrides({ roles: { messageSource: { model: 'Nope' } } }))).toThrow(
      /roles\.messageSource\.model is "Nope"/,
    );
    expect(() =>
      derive(chatFile, parseOverrides({ roles: { messageSource: { model: 'ChatFile', columns: { pathname: 'path' } } } })),
    ).toThrow(/roles\.messageSource\.columns\.pathname is "path"/);
  });

  it('an unknown role, column or key is refused when the file is read', () => {
    expect(() => parseOverrides({ roles: { chats: {} } })).toThrow(/roles\.chats: no such role/);
    expect(() => parseOverrides({ roles: { chat: { columns: { owner: 'x' } } } })).toThrow(/not a column of chat/);
    expect(() => parseOverrides({ role: {} })).toThrow(/unknown key role/);
  });
});

describe('where the Stripe customer id lives', () => {
  it("Spacerr's fixture: Better Auth's user.stripeCustomerId and the billing row that cascades with the user", () => {
    expect(fixture('spacerr', 'schema').stripeCustomers?.map((s) => [s.table, s.column.name, s.owner.name])).toEqual([
      ['user', 'stripeCustomerId', 'id'],
      ['billing_subscription', 'stripeCustomerId', 'userId'],
    ]);
  });

  it("a model whose rows outlive the user (Better Auth's subscription, by referenceId) is a gap, not a place", () => {
    const map = derive(
      schema({ extra: '' }).replace('deactivatedAt DateTime?', 'deactivatedAt DateTime?\n  stripeCustomerId String?') +
        '\nmodel Subscription {\n  id String @id\n  referenceId String\n  stripeCustomerId String?\n}',
    );
    expect(map.stripeCustomers?.map((s) => s.table)).toEqual(['User']);
    expect(map.gaps).toContainEqual({
      role: 'user',
      column: 'stripeCustomerId',
      why: expect.stringMatching(/^Subscription\.stripeCustomerId: Subscription has no foreign key to User with onDelete: Cascade/),
    });
  });

  it('a billing row whose key to the user is SET NULL outlives the user: a gap', () => {
    const text = schema()
      .replace('deactivatedAt DateTime?', 'deactivatedAt DateTime?\n  invoices Invoice[]')
      .concat(
        '\nmodel Invoice {\n  id String @id\n  userId String?\n  user User? @relation(fields: [userId], references: [id], onDelete: SetNull)\n  stripeCustomerId String?\n}',
      );
    const map = derive(text);
    expect(map.stripeCustomers).toEqual([]);
    expect(map.gaps).toContainEqual({
      role: 'user',
      column: 'stripeCustomerId',
      why: expect.stringMatching(/^Invoice\.stripeCustomerId: Invoice has no foreign key to User with onDelete: Cascade/),
    });
  });

  it('none anywhere: Stripe erasure is off, said as a gap', () => {
    const map = derive(schema());
    expect(map.stripeCustomers).toEqual([]);
    expect(map.gaps).toContainEqual({ role: 'user', column: 'stripeCustomerId', why: expect.stringContaining('Stripe erasure is off') });
  });

  it('the overrides name the table and column instead (by model or table, field or column), or turn it off with []', () => {
    const text = schema().replace('deactivatedAt DateTime?', 'deactivatedAt DateTime?\n  billingId String? @map("billing_id")');
    const named = derive(text, parseOverrides({ stripeCustomers: [{ table: 'User', column: 'billing_id' }] }));
    expect(named.stripeCustomers?.map((s) => [s.table, s.column.name, s.owner.name])).toEqual([['User', 'billing_id', 'id']]);
    const off = derive(
      schema().replace('deactivatedAt DateTime?', 'deactivatedAt DateTime?\n  stripeCustomerId String?'),
      parseOverrides({ stripeCustomers: [] }),
    );
    expect(off.stripeCustomers).toEqual([]);
    expect(() => derive(text, parseOverrides({ stripeCustomers: [{ table: 'Chat', column: 'nope' }] }))).toThrow(
      /stripeCustomers\[0\]: model Chat has no field nope/,
    );
    expect(() => parseOverrides({ stripeCustomers: [{ table: 'User' }] })).toThrow(
      /stripeCustomers\[0\]\.column: expected a non-empty string/,
    );
  });
});

describe('the committed maps are what their schemas derive', () => {
  for (const path of ['app-map.json', 'fixtures/prisma-defaults/app-map.json', 'fixtures/snake-plural/app-map.json']) {
    it(path, () => {
      const committed = JSON.parse(readFileSync(resolve(ROOT, path), 'utf8')) as AppMap;
      const { prisma, overrides } = committed.derivedFrom;
      expect(JSON.parse(JSON.stringify(buildMap({ prisma: prisma!, overrides, root: ROOT })))).toEqual(committed);
    });
  }

  it('app-map.json is the Spacerr fixture with the root overrides', () => {
    const committed = JSON.parse(readFileSync(resolve(ROOT, 'app-map.json'), 'utf8')) as AppMap;
    expect(committed.derivedFrom).toEqual({ prisma: 'fixtures/spacerr/prisma/schema', overrides: 'app-map.overrides.json' });
  });
});

describe('npm run map (the command)', () => {
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(process.execPath, [resolve(ROOT, 'scripts/map.ts'), ...args], { cwd: ROOT }, (err, stdout, stderr) =>
        done({ code: err ? Number(err.code) : 0, stdout, stderr }),
      );
    });

  it('--check passes on the committed map and fails, naming the part, on a changed one', async () => {
    expect(await run(['--check'])).toMatchObject({ code: 0, stdout: expect.stringContaining('✓ app-map.json is what') });
    const dir = mkdtempSync(join(tmpdir(), 'app-map-'));
    const changed = JSON.parse(readFileSync(resolve(ROOT, 'app-map.json'), 'utf8')) as AppMap;
    changed.roles.chat!.table = 'chats';
    writeFileSync(join(dir, 'app-map.json'), JSON.stringify(changed));
    const result = await run(['--check', '--out', join(dir, 'app-map.json')]);
    expect(result).toMatchObject({ code: 1, stderr: expect.stringContaining('differs from what the schema derives (roles)') });
  });

  it('writes the map and the summary; a schema Prisma rejects exits 1 with its message', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'app-map-'));
    const written = await run(['--prisma', 'fixtures/snake-plural/prisma/schema.prisma', '--no-overrides', '--out', join(dir, 'map.json')]);
    expect(written).toMatchObject({ code: 0, stdout: expect.stringMatching(/user → "users" \(model User\)[\s\S]*gaps \(5\)/) });
    expect(readFileSync(join(dir, 'map.json'), 'utf8')).toBe(readFileSync(resolve(ROOT, 'fixtures/snake-plural/app-map.json'), 'utf8'));
    writeFileSync(join(dir, 'bad.prisma'), 'datasource db {\n  provider = "postgresql"\n}\nmodel User {\n  id String @id\n  x  Strin\n}\n');
    const bad = await run(['--prisma', join(dir, 'bad.prisma'), '--out', join(dir, 'bad.json')]);
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringContaining('Type "Strin" is neither a built-in type') });
    expect(await run([])).toMatchObject({ code: 2, stderr: expect.stringContaining('--prisma is required') });
  });
});
