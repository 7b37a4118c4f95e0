/**
 * `app-map.overrides.json`: what the owner says where the schema's conventions do not. Read by
 * `npm run map`, never written by it. Checked once here; an unknown key or role fails with its path.
 *
 *   {
 *     "schema": "app",                                   the Postgres schema (default: public)
 *     "roles": {
 *       "messageSource": {
 *         "model": "ChatFile",                           the Prisma model playing the role
 *         "columns": { "pathname": "storagePath" }       logical column → Prisma field (or column)
 *       }
 *     },
 *     "stripeCustomers": [                               where the Stripe customer id lives
 *       { "table": "user", "column": "stripeCustomerId" }  model or table; field or column ([]: off)
 *     ],
 *     "settings": {                                      copied to the map's settings
 *       "blobPrefixes": ["chat-attachments/<userId>/"]   per-user file prefixes, swept after an erasure
 *     }
 *   }
 */
import { existsSync, readFileSync } from 'node:fs';
import { ROLE_COLUMNS, type Role } from '../../src/app-map/types.ts';
import { BLOB_PREFIXES_SETTING, prefixProblem } from '../../src/blobs/prefix-rules.ts';
import { MapError } from './errors.ts';

export interface RoleOverride {
  model?: string;
  columns?: Record<string, string>;
}

/** A place the Stripe customer id lives: a model (or its table) and a field (or its column). */
export interface StripeCustomerOverride {
  table: string;
  column: string;
}

export interface ParsedOverrides {
  schema?: string;
  roles: Partial<Record<Role, RoleOverride>>;
  /** Replaces the convention when given (scripts/map/stripe.ts). */
  stripeCustomers?: StripeCustomerOverride[];
  settings: Record<string, unknown>;
}

export const NO_OVERRIDES: ParsedOverrides = { roles: {}, settings: {} };

/** The overrides in `path`, or none when the file does not exist. */
export function readOverrides(path: string): ParsedOverrides | undefined {
  if (!existsSync(path)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new MapError(`${path} is not JSON: ${(err as Error).message}`);
  }
  return parseOverrides(raw, path);
}

/** Validates overrides data; `where` names the file in messages. */
export function parseOverrides(raw: unknown, where = 'overrides'): ParsedOverrides {
  const top = object(raw, where);
  only(top, ['schema', 'roles', 'stripeCustomers', 'settings'], where);
  const parsed: ParsedOverrides = { roles: {}, settings: top.settings === undefined ? {} : object(top.settings, `${where}: settings`) };
  if (top.schema !== undefined) parsed.schema = string(top.schema, `${where}: schema`);
  const prefixes = parsed.settings[BLOB_PREFIXES_SETTING];
  if (prefixes !== undefined) {
    const path = `${where}: settings.${BLOB_PREFIXES_SETTING}`;
    if (!Array.isArray(prefixes)) throw new MapError(`${path}: expected an array of pathname templates`);
    for (const [i, t] of prefixes.entries()) {
      const problem = prefixProblem(t);
      if (problem) throw new MapError(`${path}[${i}]: ${JSON.stringify(t)} ${problem}`);
    }
  }
  if (top.stripeCustomers !== undefined) {
    if (!Array.isArray(top.stripeCustomers)) throw new MapError(`${where}: stripeCustomers: expected an array`);
    parsed.stripeCustomers = top.stripeCustomers.map((entry: unknown, i) => {
      const path = `${where}: stripeCustomers[${i}]`;
      const o = object(entry, path);
      only(o, ['table', 'column'], path);
      return { table: string(o.table, `${path}.table`), column: string(o.column, `${path}.column`) };
    });
  }
  const roles = top.roles === undefined ? {} : object(top.roles, `${where}: roles`);
  for (const [role, value] of Object.entries(roles)) {
    if (!(role in ROLE_COLUMNS))
      throw new MapError(`${where}: roles.${role}: no such role (roles: ${Object.keys(ROLE_COLUMNS).join(', ')})`);
    const path = `${where}: roles.${role}`;
    const entry = object(value, path);
    only(entry, ['model', 'columns'], path);
    const override: RoleOverride = {};
    if (entry.model !== undefined) override.model = string(entry.model, `${path}.model`);
    if (entry.columns !== undefined) {
      const known: readonly string[] = [...ROLE_COLUMNS[role as Role].required, ...ROLE_COLUMNS[role as Role].optional];
      override.columns = {};
      for (const [logical, field] of Object.entries(object(entry.columns, `${path}.columns`))) {
        if (!known.includes(logical)) throw new MapError(`${path}.columns.${logical}: not a column of ${role} (${known.join(', ')})`);
        override.columns[logical] = string(field, `${path}.columns.${logical}`);
      }
    }
    parsed.roles[role as Role] = override;
  }
  return parsed;
}

function object(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MapError(`${path}: expected an object`);
  return value as Record<string, unknown>;
}

function string(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw new MapError(`${path}: expected a non-empty string`);
  return value;
}

function only(value: Record<string, unknown>, keys: string[], path: string): void {
  const extra = Object.keys(value).filter((k) => !keys.includes(k));
  if (extra.length > 0) throw new MapError(`${path}: unknown key ${extra.join(', ')} (known: ${keys.join(', ')})`);
}
