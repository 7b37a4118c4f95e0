/**
 * What the Worker costs the app itself, not the jobs:
 * - `appWriteCost`: the app's own writes, timed with the Worker's triggers off and on, side by
 *   side on one clone: each kind of write Spacerr does while a user chats, one statement in its
 *   own transaction as Prisma Client sends it; timed from the client and inside Postgres.
 * - `installWait`: how long an app insert waits while `migrateDatabase` installs the Worker's
 *   objects on a database full of data (scripts/db/app-objects.ts: each locking step under a
 *   short lock_timeout, retried; indexes CONCURRENTLY), each slow insert put down to the step
 *   it overlapped.
 * Both measure; neither judges a time.
 */
import { loadavg } from 'node:os';
import pg from 'pg';
import { type StepTiming, uninstallAppObjects } from '../scripts/db/app-objects.ts';
import { migrateDatabase } from '../scripts/stack/migrate.ts';
import { type BenchLayout, requiredColumns, rowColumns, workerTriggers } from './layout.ts';
import { compared, connect, mean, median, percentile, triggersOn } from './measure.ts';
import { serverWriteCost, type TimedWrite } from './server-writes.ts';
import type { AppWritesResult, InstallStepResult, InstallWaitResult, WriteKindResult } from './result.ts';

/** The kinds of app write timed, in the order one chat turn does them. */
export const WRITE_KINDS = ['insert chat', 'insert message', 'update message parts', 'bump chat updatedAt'] as const;
export type WriteKind = (typeof WRITE_KINDS)[number];

/**
 * Rounds in the order off, on, on, off, off, on, … (each pair of rounds one of each mode, and
 * each mode first as often as last): neither mode gets the warm cache or the smaller tables alone.
 */
const ROUNDS = 12;
/** Unmeasured chat turns after each switch of mode (plans made again after the ALTER TABLE). */
const SETTLE_TURNS = 10;
/** Unmeasured chat turns of each mode before the first round. */
const WARM_TURNS = 100;

/** A prepared write: its SQL text, $1 the turn's row id (`w<turn>`), $2… the values in `args`. */
export interface Write extends TimedWrite {
  kind: WriteKind;
}

/**
 * Times `n` writes of each kind with the Worker's triggers disabled and `n` with them enabled, in
 * ROUNDS alternating rounds on the database at `url` (a clone: it is written to). Per kind: the
 * median of each mode's statements, their ratio, and the spread of that ratio over the pairs of
 * rounds (each pair side by side, so the machine's load moves both). A kind the layout cannot do
 * is listed in `skipped` with the reason. Then the same writes timed inside Postgres on the same
 * clone (`server`, bench/server-writes.ts), which the client's round trips and the machine's load
 * do not blur.
 */
export async function appWriteCost(url: string, L: BenchLayout, n: number): Promise<AppWritesResult> {
  const client = await connect(url);
  try {
    const triggers = await workerTriggers(client, L);
    const { writes, skipped } = await appWrites(client, L);
    const loadStart = loadavg()[0]!;
    const set = triggerSwitch(client, triggers);
    const per = Math.ceil(n / (ROUNDS / 2));
    // An unmeasured warm-up of both modes (plans cached, the tables' pages read once).
    for (const on of [false, true]) {
      await set(on);
      await turns(client, writes, `warm${on ? 1 : 0}`, WARM_TURNS);
    }
    /** Per kind, per round: every statement's µs. */
    const rounds: Array<Record<string, number[]>> = [];
    for (let round = 0; round < ROUNDS; round++) {
      await set(triggersOn(round));
      await turns(client, writes, `s${round}`, SETTLE_TURNS);
      rounds.push(await turns(client, writes, `r${round}`, per));
    }
    const loadEnd = loadavg()[0]!;
    const kinds: Record<string, WriteKindResult> = {};
    for (const w of writes) {
      const of = (on: boolean) => rounds.flatMap((r, i) => (triggersOn(i) === on ? r[w.kind]! : []));
      const without = of(false);
      const withTriggers = of(true);
      // Each pair of rounds (0 and 1, 2 and 3, …) holds one round of each mode.
      const pairRatios: number[] = [];
      for (let i = 0; i + 1 < ROUNDS; i += 2) {
        const [on, off] = triggersOn(i) ? [rounds[i]!, rounds[i + 1]!] : [rounds[i + 1]!, rounds[i]!];
        pairRatios.push(median(on[w.kind]!) / median(off[w.kind]!));
      }
      kinds[w.kind] = {
        ...compared(without, withTriggers),
        meanWithoutUs: mean(without),
        meanWithUs: mean(withTriggers),
        pairRatios,
        spread: { min: Math.min(...pairRatios), max: Math.max(...pairRatios) },
      };
    }
    const server = await serverWriteCost(client, writes, set, n);
    await set(true);
    return {
      rounds: ROUNDS,
      statistic: 'median',
      triggers: triggers.map(([name]) => name),
      kinds,
      skipped,
      loadAverage: { start: loadStart, end: loadEnd },
      server,
    };
  } finally {
    await client.end();
  }
}

/** Turns the Worker's `triggers` (bench/layout.ts workerTriggers) on or off with ALTER TABLE. */
export function triggerSwitch(client: pg.Client, triggers: Array<[string, string]>): (on: boolean) => Promise<void> {
  return async (on) => {
    for (const [name, table] of triggers) {
      await client.query(`ALTER TABLE ${table} ${on ? 'ENABLE' : 'DISABLE'} TRIGGER ${pg.escapeIdentifier(name)}`);
    }
  };
}

/** `per` chat turns: each kind once per turn, every statement timed from here (loopback), in µs. */
async function turns(client: pg.Client, writes: Write[], prefix: string, per: number): Promise<Record<string, number[]>> {
  const us: Record<string, number[]> = Object.fromEntries(writes.map((w) => [w.kind, []]));
  for (let i = 0; i < per; i++) {
    const id = `${prefix}_${i}`;
    for (const w of writes) {
      const started = performance.now();
      await client.query(w.text, [`w${id}`, ...w.args]);
      us[w.kind]!.push((performance.now() - started) * 1000);
    }
  }
  return us;
}

/** The writes of one chat turn on this layout, names from the map and the catalog. */
export async function appWrites(client: pg.Client, L: BenchLayout): Promise<{ writes: Write[]; skipped: Record<string, string> }> {
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
      args: [userId],
    },
    {
      kind: 'insert message',
      text: `INSERT INTO ${message.q} (${messageRow.columns.join(', ')}) VALUES (${messageRow.exprs.join(', ')})`,
      args: [],
    },
  ];
  if (L.has('message', 'parts')) {
    // A streamed answer: the message's parts rewritten with more text, by its id.
    writes.push({
      kind: 'update message parts',
      text: `UPDATE ${message.q} SET ${message.c('parts')} = $2::jsonb WHERE ${message.c('id')} = $1::text || '_m'`,
      args: [JSON.stringify([{ type: 'text', text: `hello, streamed answer ${'x'.repeat(200)}` }])],
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
      args: [],
    });
  } else skipped['bump chat updatedAt'] = 'the chat table has no @updatedAt column (NOT NULL timestamp without default)';
  return { writes, skipped };
}

/** An app insert slower than this is listed with the install step it overlapped most. */
const SLOW_MS = 50;

/**
 * On `url` (a clone of a full template), removes the Worker's objects (its schema, and the
 * `spacerr_jobs_*` triggers and indexes on the app's tables), then runs `migrateDatabase` while
 * `loops` app sessions insert messages into existing chats back to back, recording when each step
 * of the install ran and when each insert started and ended. Right after it, the same loops run
 * for as long as the install took with nothing else going on (the triggers now installed): the
 * baseline, as many inserts on the same machine, so its longest wait is the one to compare with.
 */
export async function installWait(url: string, L: BenchLayout, chats: number, loops = 2): Promise<InstallWaitResult> {
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
    /** Inserts back to back until `until` settles: each one's start (performance.now()) and ms. */
    const loop = async (session: pg.Client, until: Promise<unknown>) => {
      let done = false;
      void until.finally(() => (done = true));
      const inserts: Array<{ startMs: number; ms: number }> = [];
      while (!done) {
        const chat = `c${1 + Math.floor(Math.random() * chats)}`;
        const startMs = performance.now();
        await session.query(text, [`install_${seq++}`, chat]);
        inserts.push({ startMs, ms: performance.now() - startMs });
      }
      return inserts;
    };

    const load = [loadavg()[0]!];
    const timeline: StepTiming[] = [];
    const started = performance.now();
    const install = migrateDatabase(url, L.map, { onStep: (t) => timeline.push(t) });
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
    load.push(loadavg()[0]!);
    const baselineDone = new Promise((r) => setTimeout(r, installMs));
    const baseline = (await Promise.all(sessions.map((s) => loop(s, baselineDone)))).flat();
    load.push(loadavg()[0]!);

    const ms = during.map((i) => i.ms);
    /** The step that overlapped the insert longest (its wait began, or ended, in that step). */
    const stepOf = (i: { startMs: number; ms: number }) => {
      let best: StepTiming | undefined;
      let bestOverlap = 0;
      for (const t of timeline) {
        const overlap = Math.min(t.endMs, i.startMs + i.ms) - Math.max(t.startMs, i.startMs);
        if (overlap > bestOverlap) [best, bestOverlap] = [t, overlap];
      }
      return best?.what ?? 'between steps';
    };
    const steps: InstallStepResult[] = timeline.map((t) => {
      const inside = during.filter((i) => stepOf(i) === t.what);
      return {
        what: t.what,
        atMs: t.startMs - started,
        ms: t.endMs - t.startMs,
        retries: t.retries,
        longestTransactionMs: t.longestTransactionMs,
        inserts: inside.length,
        maxInsertMs: Math.max(0, ...inside.map((i) => i.ms)),
        overSlowMs: inside.filter((i) => i.ms > SLOW_MS).length,
      };
    });
    return {
      loops,
      installMs,
      steps: report.steps,
      skipped: report.skipped,
      retries: report.retries,
      inserts: during.length,
      maxInsertMs: Math.max(0, ...ms),
      p99InsertMs: percentile(ms, 0.99),
      over50Ms: ms.filter((m) => m > 50).length,
      over100Ms: ms.filter((m) => m > 100).length,
      slowMs: SLOW_MS,
      slowInserts: during
        .filter((i) => i.ms > SLOW_MS)
        .sort((a, b) => b.ms - a.ms)
        .map((i) => ({ ms: i.ms, atMs: i.startMs - started, step: stepOf(i) })),
      timeline: steps,
      loadAverage: { start: load[0]!, end: load[1]!, afterBaseline: load[2]! },
      baseline: {
        ms: installMs,
        inserts: baseline.length,
        maxInsertMs: Math.max(0, ...baseline.map((i) => i.ms)),
        p99InsertMs: percentile(
          baseline.map((i) => i.ms),
          0.99,
        ),
        over50Ms: baseline.filter((i) => i.ms > 50).length,
        over100Ms: baseline.filter((i) => i.ms > 100).length,
      },
    };
  } finally {
    for (const s of sessions) await s.end();
  }
}
