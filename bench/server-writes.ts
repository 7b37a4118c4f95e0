/**
 * The app's writes timed inside Postgres, triggers off vs on: what the client-side timing of
 * bench/app-writes.ts cannot resolve on a loaded machine (a few µs against round trips of 100–300 µs
 * that the other processes on the cores stretch). Each block of chat turns is one `DO` block: every
 * write is the bench's own SQL text run as static PL/pgSQL ($1 bound to a variable, $2… to
 * literals, so it runs on a prepared plan as Prisma Client's statements do), followed by a
 * `COMMIT` (its own transaction: the triggers' work and the commit included), and timed with
 * clock_timestamp() around both. Blocks alternate off, on, on, off, … as the client's rounds do.
 */
import { loadavg } from 'node:os';
import pg from 'pg';
import { compared, median, percentile, triggersOn } from './measure.ts';
import type { ServerWriteKindResult, ServerWritesResult } from './result.ts';

/** Blocks of turns, half with the triggers on: 20 pairs of one block of each mode side by side. */
const BLOCKS = 40;
/**
 * Unmeasured turns at the start of each block: a DO block makes its plans on its first
 * statements, and the ALTER TABLE before it invalidated the tables' cached ones.
 */
const SETTLE_TURNS = 10;
/** The PL/pgSQL variable holding a turn's row id ($1 of every write). */
const TURN_ID = 'bench_turn_id';
const DELIMITER = '$bench_block$';

/** A write of one chat turn: $1 is the turn's row id (`w<turn>`), $2… are `args`. */
export interface TimedWrite {
  kind: string;
  text: string;
  args: unknown[];
}

/**
 * Times `n` of each write per mode inside Postgres on `client`'s database (a clone: it is written
 * to), toggling the triggers with `set` between blocks. Per kind: the median of each mode's
 * statements, their ratio and difference, and the difference of each pair of blocks
 * (`pairAddedUs`) with its spread. Leaves the triggers as the last block had them.
 */
export async function serverWriteCost(
  client: pg.Client,
  writes: TimedWrite[],
  set: (on: boolean) => Promise<void>,
  n: number,
  /** Prefix of the turns' row ids: another call on the same clone passes its own. */
  label = 'srv',
): Promise<ServerWritesResult> {
  const per = Math.ceil(n / (BLOCKS / 2));
  await client.query('CREATE TEMP TABLE bench_server_writes (block int, kind text, us float8[])');
  const loadStart = loadavg()[0]!;
  // An unmeasured block of each mode first (the tables' pages read, the functions compiled).
  for (const on of [false, true]) {
    await set(on);
    await client.query(doBlock(writes, `${label}warm${on ? 1 : 0}`, undefined, per));
  }
  for (let block = 0; block < BLOCKS; block++) {
    await set(triggersOn(block));
    await client.query(doBlock(writes, `${label}${block}`, block, per));
  }
  const loadEnd = loadavg()[0]!;
  const { rows } = await client.query<{ block: number; kind: string; us: number[] }>(
    'SELECT block, kind, us FROM pg_temp.bench_server_writes ORDER BY block',
  );
  await client.query('DROP TABLE pg_temp.bench_server_writes');
  const kinds: Record<string, ServerWriteKindResult> = {};
  for (const w of writes) {
    const byBlock = new Map(rows.filter((r) => r.kind === w.kind).map((r) => [r.block, r.us]));
    const of = (on: boolean) => [...byBlock].flatMap(([b, us]) => (triggersOn(b) === on ? us : []));
    const without = of(false);
    const withTriggers = of(true);
    // Each pair of blocks (0 and 1, 2 and 3, …) holds one block of each mode.
    const pairAddedUs: number[] = [];
    for (let b = 0; b + 1 < BLOCKS; b += 2) {
      const [on, off] = triggersOn(b) ? [b, b + 1] : [b + 1, b];
      pairAddedUs.push(median(byBlock.get(on)!) - median(byBlock.get(off)!));
    }
    kinds[w.kind] = {
      ...compared(without, withTriggers),
      pairAddedUs,
      addedSpread: {
        min: Math.min(...pairAddedUs),
        q1: percentile(pairAddedUs, 0.25),
        q3: percentile(pairAddedUs, 0.75),
        max: Math.max(...pairAddedUs),
      },
    };
  }
  return {
    blocks: BLOCKS,
    turnsPerBlock: per,
    statistic: 'median',
    kinds,
    loadAverage: { start: loadStart, end: loadEnd },
  };
}

/**
 * One block as a DO statement: SETTLE_TURNS + `per` chat turns, each write committed on its own
 * and timed; the µs of the measured turns go to pg_temp.bench_server_writes under `block` (none
 * for a warm-up block). A DO block may COMMIT when it is sent on its own, outside a transaction.
 */
function doBlock(writes: TimedWrite[], label: string, block: number | undefined, per: number): string {
  const us = (k: number) => `bench_us_${k}`;
  const turn = writes.map(
    (w, k) => `
    t0 := clock_timestamp();
    ${bind(w)};
    COMMIT;
    IF i > ${SETTLE_TURNS} THEN ${us(k)} := array_append(${us(k)}, extract(epoch FROM clock_timestamp() - t0)::float8 * 1e6); END IF;`,
  );
  const record =
    block === undefined
      ? ''
      : `INSERT INTO pg_temp.bench_server_writes VALUES ${writes
          .map((w, k) => `(${block}, ${pg.escapeLiteral(w.kind)}, ${us(k)})`)
          .join(', ')};`;
  const body = `
DECLARE
  t0 timestamptz;
  ${TURN_ID} text;
  ${writes.map((_, k) => `${us(k)} float8[] := '{}';`).join('\n  ')}
BEGIN
  FOR i IN 1..${SETTLE_TURNS + per} LOOP
    ${TURN_ID} := ${pg.escapeLiteral(`w${label}_`)} || i;${turn.join('')}
  END LOOP;
  ${record}
END`;
  if (body.includes(DELIMITER)) throw new Error(`a write's SQL holds ${DELIMITER}`);
  return `DO ${DELIMITER}${body}${DELIMITER}`;
}

/** The write's SQL with $1 → the turn's id variable and $2… → its args as literals. */
function bind(w: TimedWrite): string {
  return w.text.replace(/\$(\d+)/g, (_, k: string) => {
    if (k === '1') return TURN_ID;
    const arg = w.args[Number(k) - 2];
    if (arg === undefined) throw new Error(`${w.kind}: no value for $${k}`);
    return pg.escapeLiteral(String(arg));
  });
}
