/**
 * The doctor's checks: a database against an app map (./contract.ts derives what the map asks
 * for). Reads only, in one read-only transaction; every check is a line with its verdict and, when
 * it fails, the fix. Remarks (warnings, notes) are lines that are not checks: what the map says is
 * off, user data no foreign key ties to the user.
 */
import pg from 'pg';
import type { AppMap, MappedForeignKey, OnDelete } from '../../src/app-map/types.ts';
import { migrationStatus } from '../deploy/migrations.ts';
import { APP_MAP_FILE, MIGRATIONS_DIR, readMap, WORKER_SCHEMA } from '../stack/migrate.ts';
import { wranglerConfig } from '../wrangler-config.ts';
import {
  foreignKeySql,
  installNeeds,
  prismaField,
  prismaIndex,
  prismaRelation,
  q,
  qualified,
  referencedId,
  tableNeeds,
} from './contract.ts';

export interface Check {
  ok: boolean;
  /** What was checked, and what was found when it failed. */
  line: string;
  /** How to fix it: SQL, and the Prisma schema line where one exists. */
  fix?: string[];
  /** Said under the line whatever the verdict (a SET NULL reference: the row survives its user). */
  notes?: string[];
}

/** A line that is not a check: a warning, or a note (what the map turned off). */
export interface Remark {
  remark: 'warning' | 'note';
  line: string;
}

export type Finding = Check | Remark;

export const isCheck = (f: Finding): f is Check => 'ok' in f;

/** The map the doctor checks when none is given: APP_MAP_FILE, else the bundled app-map.json. */
export function defaultMapFile(): string {
  return process.env.APP_MAP_FILE || APP_MAP_FILE;
}

export interface CheckOptions {
  /** With `false`, the migration check is left out (deploy checks migrations itself). */
  migrations?: boolean;
  /** The app map to check against; default: `defaultMapFile()`. */
  map?: AppMap;
  /** STREAM_STATE of the Worker checked for; default: the environment's, else wrangler.toml's. */
  streamState?: string;
}

/** The STREAM_STATE the Worker runs with: the environment's (a deploy's override), else wrangler.toml [vars]. */
export function defaultStreamState(): string | undefined {
  return process.env.STREAM_STATE || wranglerConfig().vars.STREAM_STATE;
}

/** Every check and remark for `databaseUrl`, in the order the doctor prints them. */
export async function examine(databaseUrl: string, opts: CheckOptions = {}): Promise<Finding[]> {
  const map = opts.map ?? readMap(defaultMapFile());
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 15_000 });
  await client.connect();
  let findings: Finding[];
  try {
    await client.query('BEGIN READ ONLY');
    const catalog = await readCatalog(client, map);
    const data = await dataRemarks(client, map, catalog);
    const streams = await streamColumnCheck(client, map, opts.streamState ?? defaultStreamState());
    await client.query('COMMIT');
    findings = [
      ...tableChecks(map, catalog),
      ...relationChecks(map, catalog),
      ...userReferenceChecks(map, catalog),
      ...map.unlinkedUserData.map((u): Remark => ({ remark: 'warning', line: `${qualified(map.schema, u.table)}: ${u.why}` })),
      ...data,
      ...map.gaps.map((g): Remark => ({ remark: 'note', line: `off: ${g.role}${g.column ? `.${g.column}` : ''}: ${g.why}` })),
      ...installChecks(map, catalog),
      ...streams,
    ];
  } finally {
    await client.end();
  }
  if (opts.migrations !== false) findings.push(await migrationCheck(databaseUrl));
  return findings;
}

/** The checks alone (what `npm run deploy` counts). */
export async function runChecks(databaseUrl: string, opts: CheckOptions = {}): Promise<Check[]> {
  return (await examine(databaseUrl, opts)).filter(isCheck);
}

interface ForeignKeyRow {
  name: string;
  schema: string;
  table: string;
  columns: string[];
  ref_schema: string;
  references: string;
  rule: OnDelete;
}

interface Catalog {
  columns: Array<{ table: string; column: string; type: string }>;
  foreignKeys: ForeignKeyRow[];
  indexes: Array<{ name: string; table: string; first_column: string; valid: boolean }>;
  triggers: Array<{ table: string; name: string; enabled: string; function: string; function_schema: string }>;
  functions: Array<{ name: string; secdef: boolean }>;
}

const RULE = `CASE con.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT'
                              WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END`;

async function readCatalog(client: pg.Client, map: AppMap): Promise<Catalog> {
  const schema = map.schema;
  const columns = await client.query<Catalog['columns'][number]>(
    `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped`,
    [schema],
  );
  // Every foreign key of the app's schema, and every one anywhere that references its tables.
  const foreignKeys = await client.query<ForeignKeyRow>(
    `SELECT con.conname AS name, n.nspname AS schema, cl.relname AS table,
            ARRAY(SELECT att.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, i)
                  JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.num ORDER BY k.i) AS columns,
            rn.nspname AS ref_schema, ref.relname AS references, ${RULE} AS rule
     FROM pg_constraint con
     JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
     JOIN pg_class ref ON ref.oid = con.confrelid JOIN pg_namespace rn ON rn.oid = ref.relnamespace
     WHERE con.contype = 'f' AND (n.nspname = $1 OR rn.nspname = $1)`,
    [schema],
  );
  const indexes = await client.query<Catalog['indexes'][number]>(
    `SELECT ic.relname AS name, tc.relname AS table, att.attname AS first_column, ix.indisvalid AS valid
     FROM pg_index ix
     JOIN pg_class ic ON ic.oid = ix.indexrelid JOIN pg_class tc ON tc.oid = ix.indrelid
     JOIN pg_namespace n ON n.oid = tc.relnamespace
     JOIN pg_attribute att ON att.attrelid = ix.indrelid AND att.attnum = ix.indkey[0]
     WHERE n.nspname = $1`,
    [schema],
  );
  const triggers = await client.query<Catalog['triggers'][number]>(
    `SELECT c.relname AS table, t.tgname AS name, t.tgenabled AS enabled, p.proname AS function, pn.nspname AS function_schema
     FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_namespace pn ON pn.oid = p.pronamespace
     WHERE n.nspname = $1 AND NOT t.tgisinternal`,
    [schema],
  );
  const functions = await client.query<Catalog['functions'][number]>(
    `SELECT p.proname AS name, p.prosecdef AS secdef
     FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1`,
    [WORKER_SCHEMA],
  );
  return {
    columns: columns.rows,
    foreignKeys: foreignKeys.rows,
    indexes: indexes.rows,
    triggers: triggers.rows,
    functions: functions.rows,
  };
}

/**
 * Rows of the app that the contract's rules on message sources (docs/contract.md, §5.6) say the
 * Worker deletes, counted: warnings, not checks, since the doctor cannot tell an orphan waiting
 * for the sweep from a row the app meant to keep. Only on a layout whose sources point at an
 * attachment (the older layout): Spacerr's message_source is itself the file and goes with its
 * message. Each count is one statement over the sources table.
 */
async function dataRemarks(client: pg.Client, map: AppMap, catalog: Catalog): Promise<Remark[]> {
  const source = map.roles.messageSource;
  const attachment = map.roles.attachment;
  const attachmentId = source?.columns.attachmentId;
  if (!source || !attachment || !attachmentId) return [];
  // Only columns the database has: a missing one is a ✗ of the table check already.
  const has = (table: string, column: string) => catalog.columns.some((c) => c.table === table && c.column === column);
  const messageId = source.columns.messageId;
  if (!has(source.table, attachmentId.name) || !messageId || !has(source.table, messageId.name)) return [];
  const sources = qualified(map.schema, source.table);
  const remarks: Remark[] = [];

  // (i) A source without an attachment is an orphan by the rule: the sweep deletes every one.
  const [noFile] = (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${sources} WHERE ${q(attachmentId.name)} IS NULL`))
    .rows;
  if ((noFile?.n ?? 0) > 0) {
    remarks.push({
      remark: 'warning',
      line:
        `${sources}: ${noFile!.n} message source(s) with ${attachmentId.name} NULL; delete-orphaned-message-sources deletes every ` +
        `such row at its next run (within 10 minutes while the app is used): a source the app stores without a file is deleted too (contract §5.6)`,
    });
  }

  // (ii) A source of another message than its attachment's (a reply citing the user's upload) is
  // deleted once that attachment is re-checked (moved to another message: queued by a trigger).
  const attMessage = attachment.columns.messageId;
  if (!attMessage || !has(attachment.table, attMessage.name)) return remarks;
  const queuedSql = (await workerTableExists(client, 'message_source_checks'))
    ? `count(*) FILTER (WHERE a.${q(attachment.id.name)} IN (SELECT attachment_id FROM ${WORKER_SCHEMA}.message_source_checks))::int`
    : '0';
  const [other] = (
    await client.query<{ n: number; queued: number }>(
      `SELECT count(*)::int AS n, ${queuedSql} AS queued
       FROM ${sources} s JOIN ${qualified(map.schema, attachment.table)} a ON a.${q(attachment.id.name)} = s.${q(attachmentId.name)}
       WHERE a.${q(attMessage.name)} IS DISTINCT FROM s.${q(messageId.name)}`,
    )
  ).rows;
  if ((other?.n ?? 0) > 0) {
    remarks.push({
      remark: 'warning',
      line:
        `${sources}: ${other!.n} message source(s) of another message than their attachment's ${attMessage.name}; ` +
        `each is deleted once its attachment is re-checked (moved to another message)` +
        `${other!.queued > 0 ? `, and ${other!.queued} of them are queued for that re-check now: the next run deletes them` : ''} (contract §5.6)`,
    });
  }
  return remarks;
}

async function workerTableExists(client: pg.Client, table: string): Promise<boolean> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${WORKER_SCHEMA}.${table}`]);
  return rows[0]?.ok === true;
}

/** 1. Each role's table, with each mapped column of the type the map says. */
function tableChecks(map: AppMap, catalog: Catalog): Check[] {
  return tableNeeds(map).map((need) => {
    const name = qualified(map.schema, need.table);
    const what = `table ${name} (${need.role}: model ${need.model})`;
    const found = new Map(catalog.columns.filter((c) => c.table === need.table).map((c) => [c.column, c.type]));
    if (found.size === 0) {
      return {
        ok: false,
        line: `${what} is missing`,
        fix: [`create it with the app's migrations, or re-run \`npm run map\` if the app's schema names it otherwise`],
      };
    }
    const wrong = need.columns.filter(({ column }) => sameType(found.get(column.name), column.type) === false);
    if (wrong.length === 0)
      return { ok: true, line: `${what}: ${need.columns.map((c) => `${c.column.name} ${c.column.type}`).join(', ')}` };
    return {
      ok: false,
      line: `${what}: ${wrong
        .map(({ column: c }) => `${c.name} ${found.has(c.name) ? `is ${found.get(c.name)}, expected ${c.type}` : `(${c.type}) is missing`}`)
        .join('; ')}`,
      fix: wrong.flatMap(({ logical, column: c }) => [
        found.has(c.name)
          ? `ALTER TABLE ${name} ALTER COLUMN ${q(c.name)} TYPE ${c.type};  -- or re-run \`npm run map\` if the app changed it`
          : `ALTER TABLE ${name} ADD COLUMN ${q(c.name)} ${c.type};  -- or re-run \`npm run map\` if the app renamed it`,
        `Prisma (model ${need.model}): ${prismaField(logical, c)}`,
      ]),
    };
  });
}

/**
 * Whether the catalog's type is the map's: `timestamp(6)` is `timestamp` (6 digits is Postgres's
 * default and its maximum; format_type names a precision only when one was given).
 */
function sameType(found: string | undefined, want: string): boolean {
  const norm = (t: string) => t.replace(/^(timestamp|time)\(6\)/, '$1');
  return found !== undefined && norm(found) === norm(want);
}

const arrow = (fk: { table: string; columns: string[]; references: string }) => `${fk.table}.${fk.columns.join(', ')} → ${fk.references}`;

function findForeignKey(map: AppMap, catalog: Catalog, want: MappedForeignKey): ForeignKeyRow | undefined {
  const inSchema = catalog.foreignKeys.filter((r) => r.schema === map.schema && r.table === want.table);
  return (
    inSchema.find((r) => r.name === want.constraint) ??
    inSchema.find((r) => r.ref_schema === map.schema && r.references === want.references && r.columns.join() === want.columns.join())
  );
}

/** 2. Each foreign key between roles, with the map's ON DELETE: the cascades a batch delete relies on. */
function relationChecks(map: AppMap, catalog: Catalog): Finding[] {
  if (map.relationMode === 'prisma') {
    return [
      {
        remark: 'warning',
        line: 'relationMode = "prisma": the app has no foreign keys in the database, so no cascade deletes what a deleted user or chat owned',
      },
    ];
  }
  return map.relations.map((want) => {
    const what = `foreign key ${arrow(want)} ON DELETE ${want.onDelete}`;
    const found = findForeignKey(map, catalog, want);
    if (found?.rule === want.onDelete) return { ok: true, line: `${what} (${found.name})` };
    return {
      ok: false,
      line: `${what}: ${found ? `is ON DELETE ${found.rule} (${found.name})` : 'is missing'}`,
      fix: [
        foreignKeySql(map, want, want.onDelete, found?.name),
        `Prisma (model ${want.model}): ${prismaRelation(map, want, want.onDelete)}`,
      ],
    };
  });
}

/**
 * 3. Every foreign key that references the user table, as the database has them (the map's
 * `userReferences` are what the app's schema said): a RESTRICT or NO ACTION one fails every
 * account batch that deletes a user with such a row; SET NULL keeps the row, without its user.
 */
function userReferenceChecks(map: AppMap, catalog: Catalog): Check[] {
  const user = map.roles.user;
  if (!user || map.relationMode === 'prisma') return [];
  // In the map's order, then those it lacks by name: the same lines on every run.
  const order = (r: ForeignKeyRow) => {
    const i = map.userReferences.findIndex((u) => u.constraint === r.name && u.table === r.table);
    return i === -1 ? map.userReferences.length : i;
  };
  const live = catalog.foreignKeys
    .filter((r) => r.ref_schema === map.schema && r.references === user.table)
    .sort((a, b) => order(a) - order(b) || a.table.localeCompare(b.table) || a.name.localeCompare(b.name));
  const checks: Check[] = [];
  for (const fk of live) {
    const relation = map.relations.find((r) => findForeignKey(map, catalog, r) === fk);
    const blocks = fk.rule === 'RESTRICT' || fk.rule === 'NO ACTION';
    // A foreign key between roles was checked against the map above; it is checked again here only
    // when the map itself says RESTRICT (that check passed, and every batch would still fail).
    if (relation && !(blocks && relation.onDelete === fk.rule)) continue;
    const known = map.userReferences.find((u) => u.constraint === fk.name && u.table === fk.table);
    const table = fk.schema === map.schema ? fk.table : `${fk.schema}.${fk.table}`;
    const what = `user reference ${arrow({ ...fk, table })} ON DELETE ${fk.rule} (${fk.name})`;
    const notes = known ? [] : ['not in the app map: re-run `npm run map` after the app adds a relation to the user'];
    if (!blocks) {
      if (fk.rule !== 'CASCADE')
        notes.unshift(
          `its rows survive their user, with ${fk.columns.join(', ')} set to ${fk.rule === 'SET NULL' ? 'NULL' : 'the default'}`,
        );
      checks.push({ ok: true, line: what, ...(notes.length > 0 && { notes }) });
      continue;
    }
    const mapped: MappedForeignKey = known ?? {
      constraint: fk.name,
      model: fk.table,
      table: fk.table,
      columns: fk.columns,
      references: fk.references,
      onDelete: fk.rule,
    };
    checks.push({
      ok: false,
      line: `${what}: deleting a user fails while ${table} has a row of theirs, so every account batch would fail`,
      fix: [
        `ALTER TABLE ${q(fk.schema)}.${q(fk.table)} DROP CONSTRAINT ${q(fk.name)}, ADD CONSTRAINT ${q(fk.name)} FOREIGN KEY (${fk.columns.map(q).join(', ')}) REFERENCES ${qualified(map.schema, user.table)}(${q(referencedId(map, user.table))}) ON DELETE CASCADE;  -- or SET NULL to keep the rows`,
        `Prisma (model ${mapped.model}): ${prismaRelation(map, mapped, 'CASCADE')}`,
      ],
      ...(notes.length > 0 && { notes }),
    });
  }
  // A reference the app's schema declares that the database lacks: its rows outlive their user.
  for (const want of map.userReferences) {
    if (map.relations.some((r) => r.constraint === want.constraint && r.table === want.table)) continue;
    if (findForeignKey(map, catalog, want)) continue;
    checks.push({
      ok: false,
      line: `user reference ${arrow(want)} ON DELETE ${want.onDelete} (${want.constraint}): is missing, so its rows outlive their user`,
      fix: [foreignKeySql(map, want, want.onDelete), `or re-run \`npm run map\` if the app dropped the relation`],
    });
  }
  return checks;
}

const MIGRATE = 'or: npm run db:migrate (installs everything the app map asks for)';

/** 5. Every function, trigger and index the installer would create from the map. */
function installChecks(map: AppMap, catalog: Catalog): Check[] {
  return installNeeds(map).map(({ object, sql }): Check => {
    if (object.kind === 'function') {
      const what = `function ${WORKER_SCHEMA}.${object.name}() SECURITY DEFINER`;
      const found = catalog.functions.find((f) => f.name === object.name);
      if (found?.secdef) return { ok: true, line: what };
      return {
        ok: false,
        line: `${what}: ${found ? 'is not SECURITY DEFINER (an app role without rights on spacerr_jobs would fail its writes)' : 'missing'}`,
        fix: ['npm run db:migrate  (re-creates it from the app map)'],
      };
    }
    if (object.kind === 'trigger') {
      const what = `trigger ${object.name} on ${object.table}`;
      const found = catalog.triggers.find((t) => t.table === object.table && t.name === object.name);
      if (!found) return { ok: false, line: `${what}: missing`, fix: [`${sql};`, MIGRATE] };
      if (found.function_schema !== WORKER_SCHEMA || found.function !== object.function) {
        return {
          ok: false,
          line: `${what}: calls ${found.function_schema}.${found.function}(), expected ${WORKER_SCHEMA}.${object.function}()`,
          fix: [`${sql};`, MIGRATE],
        };
      }
      if (found.enabled === 'D') {
        return {
          ok: false,
          line: `${what}: disabled`,
          fix: [`ALTER TABLE ${qualified(map.schema, object.table)} ENABLE TRIGGER ${q(object.name)};`],
        };
      }
      return { ok: true, line: what };
    }
    // An index: met by any valid index of the table led by the column (the installer's own rule).
    const what = `index on ${object.table} (${object.column})`;
    const found = catalog.indexes.find((i) => i.table === object.table && i.first_column === object.column && i.valid);
    if (found) return { ok: true, line: `${what}: ${found.name}` };
    return {
      ok: false,
      line: `${what}: missing`,
      fix: [`${sql.split(/;\n/).at(-1)};`, prismaIndex(map, object.table, object.column, object.partial)],
    };
  });
}

/**
 * 5b. With STREAM_STATE `resumable-stream` and the map naming the chat's active-stream column: the
 * Worker's role (this connection's) may read and reset that column, the one app column it writes
 * (docs/contract.md, §2).
 */
async function streamColumnCheck(client: pg.Client, map: AppMap, streamState: string | undefined): Promise<Check[]> {
  const chat = map.roles.chat;
  const column = chat?.columns.activeStreamId;
  if (streamState !== 'resumable-stream' || !chat || !column) return [];
  const table = qualified(map.schema, chat.table);
  const what = `UPDATE on ${chat.table}.${column.name} for the Worker's role (stale streams are reset there)`;
  const { rows } = await client.query<{ role: string; present: boolean; can: boolean | null }>(
    `SELECT current_user AS role,
            EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1) AND attname = $2 AND NOT attisdropped) AS present,
            CASE WHEN to_regclass($1) IS NULL THEN NULL
                 ELSE has_column_privilege(to_regclass($1), $2, 'SELECT') AND has_column_privilege(to_regclass($1), $2, 'UPDATE') END AS can`,
    [table, column.name],
  );
  const row = rows[0]!;
  if (!row.present) {
    return [{ ok: false, line: `${what}: the column is missing`, fix: ['npm run map  (the map names a column the database lacks)'] }];
  }
  if (row.can) return [{ ok: true, line: what }];
  return [
    {
      ok: false,
      line: `${what}: ${row.role} lacks SELECT or UPDATE on it, so every run of clear-stale-streams would fail`,
      fix: [`GRANT SELECT (${q(chat.id.name)}, ${q(column.name)}), UPDATE (${q(column.name)}) ON ${table} TO ${q(row.role)};`],
    },
  ];
}

/** 6. The Worker's own schema is at drizzle/'s latest migration. */
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

/** The lines the doctor prints: ✓ or ✗ per check (its notes and, under a ✗, its fix), ! and - for remarks. */
export function formatChecks(findings: Finding[]): string[] {
  return findings.flatMap((f) =>
    isCheck(f)
      ? [`${f.ok ? '✓' : '✗'} ${f.line}`, ...(f.notes ?? []).map((n) => `    note: ${n}`), ...(f.fix ?? []).map((x) => `    fix: ${x}`)]
      : [`${f.remark === 'warning' ? '! warning:' : '- note:'} ${f.line}`],
  );
}
