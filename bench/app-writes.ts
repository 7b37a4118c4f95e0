/**
 * What the Worker costs the app itself, not the jobs:
 * - `appWriteCost`: the app's own writes, timed with the Worker's triggers off and on, side by
 *   side on one clone: each kind of write Spacerr does while a user chats, one statement in its
 *   own transaction as Prisma Client sends it.
 * - `installWait`: how long an app insert waits while `migrateDatabase` installs the Worker's
 *   objects on a database full of data (scripts/db/app-objects.ts: each locking step under a
 *   50 ms lock_timeout, retried; indexes CONCURRENTLY).
 * Both measure; neither judges a time.
 */
import pg from 'pg';
import { uninstallAppObjects } from '../scripts/db/app-objects.ts';
import { migrateDatabase } from '../scripts/stack/migrate.ts';
import { type BenchLayout, requiredColumns, rowColumns, workerTriggers } from './layout.ts';
import { connect } from './measure.ts';
import type { AppWritesResult, InstallWaitResult, WriteKindResult } from './result.ts';

/** The kinds of app write timed, in the order one chat turn does them. */
export const WRITE_KINDS = ['insert chat', 'insert message', 'update message parts', 'bump chat updatedAt'] as const;
export type WriteKind = (typeof WRITE_KINDS)[number];

/** Alternating rounds (off, on, off, on, …): neither mode gets the warm cache or the bigger table alone. */
const ROUNDS = 6;

/** A prepared write: its SQL text (parameters: $1 the row's id, $2 the chat's or a value). */
interface Write {
  kind: WriteKind;
  text: string;
  params(i: string): unknown[];
}

/**
 * Times `n` writes of each kind with the Worker's triggers disabled and `n` with them enabled, in
 * alternating rounds on the database at `url` (a clone: it is written to). A kind the layout
 * cannot do is listed in `skipped` with the reason.
 */
export async function appWriteCost(url: string, L: BenchLayout, n: number): Promise<AppWritesResult> {
  const client = await connect(url);
  try {
    const triggers = await workerTriggers(client, L);
    const { writes, skipped } = await appWrites(client, L);
    const set = async (on: boolean) => {
      for (const [name, table] of triggers) {
        await client.query(`ALTER TABLE ${table} ${on ? 'ENABLE' : 'DISABLE'} TRIGGER ${pg.escapeIdentifier(name)}`);
      }
    };
    const totals = Object.fromEntries(writes.map((w) => [w.kind, { withoutMs: 0, withMs: 0, n: 0 }]));
    const per = Math.ceil(n / (ROUNDS / 2));
    // An unmeasured warm-up of both modes (plans cached, the tables' pages read once).
    for (const on of [false, true]) {
      await set(on);
      await turns(client, writes, `warm${on ? 1 : 0}`, 20);
    }
    for (let round = 0; round < ROUNDS; round++) {
      const on = round % 2 === 1;
      await set(on);
      const ms = await turns(client, writes, `r${round}`, per);
      for (const w of writes) {
        const t = totals[w.kind]!;
        if (on) t.withMs += ms[w.kind]!;
        else t.withoutMs += ms[w.kind]!;
        if (on) t.n += per;
      }
    }
    await set(true);
    const kinds: Record<string, WriteKindResult> = {};
    for (const [kind, t] of Object.entries(totals)) {
      kinds[kind] = {
        n: t.n,
        withoutUs: (t.withoutMs / t.n) * 1000,
        withUs: (t.withMs / t.n) * 1000,
        ratio: t.withMs / t.withoutMs,
      };
    }
    return { rounds: ROUNDS, triggers: triggers.map(([name]) => name), kinds, skipped };
  } finally {
    await client.end();
  }
}

/** `per` chat turns: each kind once per turn, every statement timed from here (loopback). */
async function turns(client: pg.Client, writes: Write[], prefix: string, per: number): Promise<Record<string, number>> {
  const ms: Record<string, number> = Object.fromEntries(writes.map((w) => [w.kind, 0]));
  for (let i = 0; i < per; i++) {
    const id = `${prefix}_${i}`;
    for (const w of writes) {
      const started = performance.now();
      await client.query(w.text, w.params(id));
      ms[w.kind]! += performance.now() - started;
    }
  }
  return ms;
}

/** The writes of one chat turn on this layout, names from the map and the catalog. */
async function appWrites(client: pg.Client, L: BenchLayout): Promise<{ writes: Write[]; skipped: Record<string, string> }> {
  const chat = L.t('chat');
  const message = L.t('message');
  const skipped: Record<string, string> = {};
  // An active user of the dataset (not every 10th, not every 50th offset 1).
  const userId = 'u2';
  const chatRow = await rowColumns(client, L, 'chat', {
    id: '$1::text',
    userId: '$2::text',
    createdAt: L.ago('chat', 'createdAt', `interval '0 s'`),
  });
  const messageRow = await rowColumns(client, L, 'message', {
    id: `$1::text || '_m'`,
    chatId: '$1::text',
    parts: L.has('message', 'parts') ? `'[{"type":"text","text":"hello"}]'::jsonb` : undefined,
    createdAt: L.has('message', 'createdAt') ? L.ago('message', 'createdAt', `interval '0 s'`) : undefined,
  });
  const writes: Write[] = [
    {
      kind: 'insert chat',
      text: `INSERT INTO ${chat.q} (${chatRow.columns.join(', ')}) VALUES (${chatRow.exprs.join(', ')})`,
      params: (id) => [`w${id}`, userId],
    },
    {
      kind: 'insert message',
      text: `INSERT INTO ${message.q} (${messageRow.columns.join(', ')}) VALUES (${messageRow.exprs.join(', ')})`,
      params: (id) => [`w${id}`],
    },
  ];
  if (L.has('message', 'parts')) {
    // A streamed answer: the message's parts rewritten with more text, by its id.
    writes.push({
      kind: 'update message parts',
      text: `UPDATE ${message.q} SET ${message.c('parts')} = $2::jsonb WHERE ${message.c('id')} = $1::text || '_m'`,
      params: (id) => [`w${id}`, JSON.stringify([{ type: 'text', text: `hello, streamed answer ${'x'.repeat(200)}` }])],
    });
  } else skipped['update message parts'] = 'the map has no message parts';
  // Prisma's @updatedAt: a NOT NULL timestamp without a default, which the map does not name.
  const mapped = new Set([chat.col('id').name, ...Object.values(L.map.roles.chat!.columns).map((c) => c.name)]);
  const updatedAt = (await requiredColumns(client, L, 'chat')).find((c) => c.type.startsWith('timestamp') && !mapped.has(c.name));
  if (updatedAt) {
    const now = updatedAt.type.startsWith('timestamp without') ? `(now() AT TIME ZONE 'UTC')` : 'now()';
    writes.push({
      kind: 'bump chat updatedAt',
      text: `UPDATE ${chat.q} SET ${pg.escapeIdentifier(updatedAt.name)} = ${now} WHERE ${chat.c('id')} = $1::text`,
      params: (id) => [`w${id}`],
    });
  } else skipped['bump chat updatedAt'] = 'the chat table has no @updatedAt column (NOT NULL timestamp without default)';
  return { writes, skipped };
}

/**
 * On `url` (a clone of a full template), removes the Worker's objects (its schema, and the
 * `spacerr_jobs_*` triggers and indexes on the app's tables), then runs `migrateDatabase` while
 * `loops` app sessions insert messages into existing chats back to back. Before it, the same
 * loops run for `baselineMs` with nothing else going on: the insert latency the install is
 * compared with.
 */
export async function installWait(url: string, L: BenchLayout, chats: number, loops = 2, baselineMs = 2000): Promise<InstallWaitResult> {
  const admin = await connect(url);
  try {
    await admin.query('SET client_min_messages = warning');
    await uninstallAppObjects(admin, L.map);
  } finally {
    await admin.end();
  }
  const sessions = await Promise.all(Array.from({ length: loops }, () => connect(url)));
  try {
    const message = L.t('message');
    const row = await rowColumns(sessions[0]!, L, 'message', {
      id: '$1::text',
      chatId: '$2::text',
      parts: L.has('message', 'parts') ? `'[{"type":"text","text":"during the install"}]'::jsonb` : undefined,
      createdAt: L.has('message', 'createdAt') ? L.ago('message', 'createdAt', `interval '0 s'`) : undefined,
    });
    const text = `INSERT INTO ${message.q} (${row.columns.join(', ')}) VALUES (${row.exprs.join(', ')})`;
    let seq = 0;
    const loop = async (session: pg.Client, until: Promise<unknown>) => {
      let done = false;
      void until.finally(() => (done = true));
      const latencies: number[] = [];
      while (!done) {
        const chat = `c${1 + Math.floor(Math.random() * chats)}`;
        const started = performance.now();
        await session.query(text, [`install_${seq++}`, chat]);
        latencies.push(performance.now() - started);
      }
      return latencies;
    };
    const baselineDone = new Promise((r) => setTimeout(r, baselineMs));
    const baseline = (await Promise.all(sessions.map((s) => loop(s, baselineDone)))).flat();

    const started = performance.now();
    const install = migrateDatabase(url, L.map);
    const during = (
      await Promise.all(
        sessions.map((s) =>
          loop(
            s,
            install.catch(() => {}),
          ),
        ),
      )
    ).flat();
    const report = await install;
    const installMs = performance.now() - started;
    return {
      loops,
      installMs,
      steps: report.steps,
      skipped: report.skipped,
      retries: report.retries,
      inserts: during.length,
      maxInsertMs: Math.max(0, ...during),
      p99InsertMs: percentile(during, 0.99),
      over50Ms: during.filter((ms) => ms > 50).length,
      over100Ms: during.filter((ms) => ms > 100).length,
      baseline: { inserts: baseline.length, maxInsertMs: Math.max(0, ...baseline), p99InsertMs: percentile(baseline, 0.99) },
    };
  } finally {
    for (const s of sessions) await s.end();
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}
