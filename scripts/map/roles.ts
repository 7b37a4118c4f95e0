/**
 * The conventions that find each role's model and the links between roles the jobs rely on. Data
 * only: derive.ts applies them, and the owner's overrides win over them.
 */
import type { Role } from '../../src/app-map/types.ts';

/** Roles in the order the map lists them. */
export const ROLES: readonly Role[] = ['user', 'chat', 'message', 'project', 'messageSource', 'attachment'];

export const REQUIRED_ROLES: readonly Role[] = ['user', 'chat', 'message'];

/** A role's model by convention: this model name, else a model `@@map`ped to one of these tables. */
export const ROLE_MODELS: Record<Role, { model: string; tables: string[] }> = {
  user: { model: 'User', tables: ['user', 'users'] },
  chat: { model: 'Chat', tables: ['chat', 'chats'] },
  message: { model: 'Message', tables: ['message', 'messages'] },
  project: { model: 'Project', tables: ['project', 'projects'] },
  messageSource: { model: 'MessageSource', tables: ['message_source', 'message_sources'] },
  attachment: { model: 'Attachment', tables: ['attachment', 'attachments'] },
};

/**
 * A role's column that points at a parent role. `cascade`: the jobs delete the parent and rely on
 * Postgres deleting the child rows with it, so anything but `ON DELETE CASCADE` is a gap.
 */
export interface RoleLink {
  role: Role;
  column: string;
  parent: Role;
  cascade: boolean;
  /** What the child rows are, for the gap's sentence. */
  rows: string;
}

export const ROLE_LINKS: readonly RoleLink[] = [
  { role: 'chat', column: 'userId', parent: 'user', cascade: true, rows: 'chats' },
  { role: 'chat', column: 'projectId', parent: 'project', cascade: false, rows: 'chats' },
  { role: 'message', column: 'chatId', parent: 'chat', cascade: true, rows: 'messages' },
  { role: 'project', column: 'userId', parent: 'user', cascade: true, rows: 'projects' },
  { role: 'messageSource', column: 'messageId', parent: 'message', cascade: true, rows: 'message sources' },
  { role: 'messageSource', column: 'chatId', parent: 'chat', cascade: true, rows: 'message sources' },
  { role: 'messageSource', column: 'attachmentId', parent: 'attachment', cascade: false, rows: 'message sources' },
  { role: 'attachment', column: 'userId', parent: 'user', cascade: true, rows: 'attachments' },
  { role: 'attachment', column: 'chatId', parent: 'chat', cascade: false, rows: 'attachments' },
  { role: 'attachment', column: 'messageId', parent: 'message', cascade: false, rows: 'attachments' },
  { role: 'attachment', column: 'projectId', parent: 'project', cascade: false, rows: 'attachments' },
];

/** Field names that hold a user's email without a foreign key (Better Auth's `verification.identifier`). */
export const USER_DATA_FIELDS = /^(email|emailAddress|identifier|.+Email)$/i;
