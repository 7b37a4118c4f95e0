/**
 * The app map: what the Worker reads and deletes in the app's database, as physical names and
 * types. It is derived from the app's own Prisma schema by `npm run map` (scripts/map/), merged with
 * the owner's overrides, and written to `app-map.json`, the one file the Worker bundles. Nothing
 * else in the Worker names an app table or column.
 */

/** How a DateTime column is stored. `timestamp`: without time zone, holding UTC wall time (Prisma's default `TIMESTAMP(3)`). */
export type TimeType = 'timestamp' | 'timestamptz';

/** A column the Worker reads: its physical name, and for times how it is stored. */
export interface MappedColumn {
  /** The physical column name (after `@map`), as Postgres has it: quoted in SQL. */
  name: string;
  /** Postgres type as the catalog names it (`text`, `jsonb`, `timestamp(3) without time zone`, …). */
  type: string;
  /** For DateTime columns. */
  time?: TimeType;
  nullable: boolean;
}

/** A table the Worker reads, under the role it plays for the jobs. */
export interface MappedTable {
  /** The Prisma model it comes from. */
  model: string;
  /** The physical table name (after `@@map`). */
  table: string;
  /** The primary key column (a single column: every role's model has `@id`). */
  id: MappedColumn;
  /** The role's columns by their logical name (see ROLE_COLUMNS). */
  columns: Record<string, MappedColumn>;
}

/** `ON DELETE` as Postgres's catalog has it (pg_constraint.confdeltype spelled out). */
export type OnDelete = 'CASCADE' | 'SET NULL' | 'SET DEFAULT' | 'RESTRICT' | 'NO ACTION';

/** A foreign key between two mapped tables, or from any app table to the user table. */
export interface MappedForeignKey {
  /** The constraint's name as Prisma names it (`<table>_<columns>_fkey`) or as `map:` sets it. */
  constraint: string;
  /** The referencing model and table. */
  model: string;
  table: string;
  columns: string[];
  /** The referenced table. */
  references: string;
  onDelete: OnDelete;
}

/**
 * The roles the jobs need. `user`, `chat` and `message` are required; the others are optional
 * (a Spacerr build may lack them), and a missing one turns off what depends on it.
 */
export type Role = 'user' | 'chat' | 'message' | 'project' | 'messageSource' | 'attachment';

/** The logical columns of each role; those after `?` are optional. */
export const ROLE_COLUMNS = {
  user: { required: ['deactivatedAt'], optional: ['email'] },
  chat: { required: ['userId', 'createdAt'], optional: ['projectId', 'activeStreamId'] },
  message: { required: ['chatId'], optional: ['parts', 'createdAt'] },
  project: { required: ['userId'], optional: [] },
  // Spacerr's message_source is a file of a message (chatId, messageId, its stored pathname);
  // the older layout's message_sources row points at an attachment instead.
  messageSource: { required: ['messageId'], optional: ['chatId', 'pathname', 'attachmentId'] },
  attachment: { required: ['userId', 'blobKey'], optional: ['chatId', 'messageId', 'projectId'] },
} as const satisfies Record<Role, { required: readonly string[]; optional: readonly string[] }>;

/**
 * A column that holds a Stripe customer id on a row that goes when its user is deleted: the user
 * table itself (Better Auth's Stripe plugin adds `stripeCustomerId` to it), or a table whose rows
 * cascade from the user (a billing subscription row). Deleting such a row queues the customer for
 * deletion at Stripe (src/app-map/triggers.ts; the Stripe sweep in src/jobs/).
 */
export interface StripeCustomerColumn {
  /** The Prisma model and its physical table. */
  model: string;
  table: string;
  /** The column holding the customer id (`cus_…`). */
  column: MappedColumn;
  /** The column naming the row's user: the user table's id, or the cascading foreign key's column. */
  owner: MappedColumn;
}

/** Why a role, a column or a cascade is absent from the map: said by `npm run map` and the listing. */
export interface MapGap {
  role: Role;
  column?: string;
  why: string;
}

export interface AppMap {
  /** Format version of this file. */
  version: 1;
  /** The Postgres schema the app's tables live in (`public` unless the datasource says `schemas`). */
  schema: string;
  /** Where the map came from: the Prisma schema path it was derived from, and the overrides file. */
  derivedFrom: { prisma: string | null; overrides: string | null };
  /** `relationMode` of the Prisma datasource: with `prisma`, no foreign keys exist in the database. */
  relationMode: 'foreignKeys' | 'prisma';
  /** Each role the app has; absent roles are in `gaps`. */
  roles: Partial<Record<Role, MappedTable>>;
  /** The foreign keys between mapped roles (chat → user, message → chat, …), with their ON DELETE. */
  relations: MappedForeignKey[];
  /** Every foreign key in the app that references the user table (sessions, accounts, billing rows, …). */
  userReferences: MappedForeignKey[];
  /** Models that hold a user's data without a foreign key to the user (Better Auth's `verification`). */
  unlinkedUserData: { model: string; table: string; why: string }[];
  /** What could not be mapped, and why. */
  gaps: MapGap[];
  /**
   * Where the user's Stripe customer id lives (empty: Stripe erasure is off for this app, and a
   * gap says why). Absent in maps written before the field existed: read as empty.
   */
  stripeCustomers?: StripeCustomerColumn[];
  /** Settings no Prisma schema can say, from the overrides file (blob prefixes, the stream column, …). */
  settings: Record<string, unknown>;
}
