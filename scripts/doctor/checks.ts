/**
 * The doctor's checks: a database against the contract (./contract.ts). Reads only, in one
 * read-only transaction; every check is a line with its verdict and, when it fails, the fix.
 */
import pg from 'pg';
import { migrationStatus } from '../deploy/migrations.ts';
import { MIGRATIONS_DIR, WORKER_SCHEMA } from '../stack/migrate.ts';
import { APP_SCHEMA, createIndexSql, FOREIGN_KEYS, INDEXES, prismaField, TABLES, TRIGGERS } from './contract.ts';

export interface Check {
  ok: boolean;
  /** What was checked, and what was found when it failed. */
  line: string;
  /** How to fix it: SQL, and the Prisma schema line where one exists. */
  fix?: string[];
}

/** Runs every check against `databaseUrl`; with `migrations: false`, the migration one is left out. */
export async function runChecks(databaseUrl: string, opts: { migrations?: boolean } = {}): Promise<Check[]> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 15_000 });
  await client.connect();
  try {
    await client.query('BEGIN READ ONLY');
    const checks = [
      ...(await tableChecks(client)),
      ...(await foreignKeyChecks(client)),
      ...(await indexChecks(client)),
      ...(await triggerChecks(client)),
    ];
    await client.query('COMMIT');
    if (opts.migrations !== false) checks.push(await migrationCheck(databaseUrl));
    return checks;
  } finally {
    await client.end();
  }
}

async function tableChecks(client: pg.Client): Promise<Check[]> {
  const { rows } = await client.query<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = $1`,
    [APP_SCHEMA],
  );
  return Object.entries(TABLES).map(([table, columns]) => {
    const found = new Map(rows.filter((r) => r.table_name === table).map((r) => [r.column_name, r.data_type]));
    const name = `${APP_SCHEMA}.${table}`;
    if (found.size === 0) {
      return { ok: false, line: `table ${name} is missing`, fix: [`create it with the app's migrations (docs/contract.md, §2)`] };
    }
    const wrong = Object.entries(columns).filter(([column, type]) => found.get(column) !== type);
    if (wrong.length === 0) return { ok: true, line: `table ${name}: ${Object.keys(columns).join(', ')}` };
    return {
      ok: false,
      line: `table ${name}: ${wrong.map(([c, t]) => `${c} ${found.has(c) ? `is ${found.get(c)}, expected ${t}` : `(${t}) is missing`}`).join('; ')}`,
      fix: wrong.flatMap(([c, t]) => [
        found.has(c)
          ? `ALTER TABLE ${name} ALTER COLUMN ${c} TYPE ${t};`
          : `ALTER TABLE ${name} ADD COLUMN ${c} ${t};  -- or rename the column holding it`,
        `Prisma: ${prismaField(c, t)}`,
      ]),
    };
  });
}

async function foreignKeyChecks(client: pg.Client): Promise<Check[]> {
  const { rows } = await client.query<{ name: string; table: string; column: string; references: string; rule: string }>(
    `SELECT con.conname AS name, cl.relname AS table, att.attname AS column, ref.relname AS references,
            CASE con.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT'
                                 WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END AS rule
     FROM pg_constraint con
     JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
     JOIN pg_class ref ON ref.oid = con.confrelid
     JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
     WHERE con.contype = 'f' AND n.nspname = $1 AND array_length(con.conkey, 1) = 1`,
    [APP_SCHEMA],
  );
  return FOREIGN_KEYS.map((want) => {
    const what = `foreign key ${want.table}.${want.column} → ${want.references} ON DELETE ${want.onDelete}`;
    const found = rows.find((r) => r.table === want.table && r.column === want.column && r.references === want.references);
    if (found?.rule === want.onDelete) return { ok: true, line: what };
    const add = `ADD CONSTRAINT ${want.table}_${want.column}_fkey FOREIGN KEY (${want.column}) REFERENCES ${APP_SCHEMA}.${want.references}(id) ON DELETE ${want.onDelete}`;
    return {
      ok: false,
      line: `${what}: ${found ? `is ON DELETE ${found.rule} (${found.name})` : 'is missing'}`,
      fix: [
        `ALTER TABLE ${APP_SCHEMA}.${want.table} ${found ? `DROP CONSTRAINT ${found.name}, ` : ''}${add};`,
        `Prisma (model of ${want.table}): ${want.prisma}`,
      ],
    };
  });
}

async function indexChecks(client: pg.Client): Promise<Check[]> {
  const { rows } = await client.query<{ name: string; table: string; first_column: string; valid: boolean; partial: string | null }>(
    `SELECT ic.relname AS name, tc.relname AS table, att.attname AS first_column, ix.indisvalid AS valid,
            pg_get_expr(ix.indpred, ix.indrelid) AS partial
     FROM pg_index ix
     JOIN pg_class ic ON ic.oid = ix.indexrelid JOIN pg_class tc ON tc.oid = ix.indrelid
     JOIN pg_namespace n ON n.oid = tc.relnamespace
     JOIN pg_attribute att ON att.attrelid = ix.indrelid AND att.attnum = ix.indkey[0]
     WHERE n.nspname = $1`,
    [APP_SCHEMA],
  );
  return INDEXES.map((need) => {
    const what = `index on ${need.table} (${need.column})${need.where ? ` WHERE ${need.where}` : ''} — ${need.why}`;
    // A partial need is met by its own index; a plain one by any valid index led by the column
    // (not by a partial one, which serves only its predicate).
    const found = rows.find(
      (r) =>
        r.table === need.table && r.valid && (need.where ? r.name === need.name : r.first_column === need.column && r.partial === null),
    );
    if (found) return { ok: true, line: `${what}: ${found.name}` };
    return {
      ok: false,
      line: `${what}: missing`,
      fix: [
        createIndexSql(need),
        need.prisma
          ? `Prisma (model of ${need.table}): ${need.prisma}`
          : 'Prisma: none (partial index; see docs/contract.md, "With Prisma")',
      ],
    };
  });
}

async function triggerChecks(client: pg.Client): Promise<Check[]> {
  const { rows } = await client.query<{ table: string; name: string; enabled: string }>(
    `SELECT c.relname AS table, t.tgname AS name, t.tgenabled AS enabled
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND NOT t.tgisinternal`,
    [APP_SCHEMA],
  );
  return TRIGGERS.map((need) => {
    const found = rows.find((r) => r.table === need.table && r.name === need.name);
    const what = `trigger ${need.name} on ${need.table}`;
    if (found && found.enabled !== 'D') return { ok: true, line: what };
    if (found)
      return { ok: false, line: `${what}: disabled`, fix: [`ALTER TABLE ${APP_SCHEMA}.${need.table} ENABLE TRIGGER ${need.name};`] };
    return { ok: false, line: `${what}: missing`, fix: [need.create, 'or, on a database not yet migrated: npm run db:migrate'] };
  });
}

async function migrationCheck(databaseUrl: string): Promise<Check> {
  const status = await migrationStatus(databaseUrl, MIGRATIONS_DIR);
  const latest = status.at(-1)?.tag ?? '(none)';
  const notApplied = status.filter((m) => m.state !== 'applied');
  if (notApplied.length === 0) return { ok: true, line: `schema ${WORKER_SCHEMA} at the latest migration, ${latest}` };
  return {
    ok: false,
    line: `schema ${WORKER_SCHEMA} not at the latest migration ${latest}: ${notApplied.map((m) => `${m.tag} ${m.state}`).join(', ')}`,
    fix: ['npm run db:migrate  (or npm run deploy -- --migrate)'],
  };
}

/** The lines the doctor prints for `checks`: ✓ or ✗, and under a ✗ its fix. */
export function formatChecks(checks: Check[]): string[] {
  return checks.flatMap((c) => [`${c.ok ? '✓' : '✗'} ${c.line}`, ...(c.fix ?? []).map((f) => `    fix: ${f}`)]);
}
