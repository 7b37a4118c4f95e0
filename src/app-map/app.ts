/**
 * The bundled app map as SQL (src/app-map/sql.ts): what every job's SQL names the app's tables
 * and columns through. One instance per isolate; the map is a bundled constant.
 */
import { APP_MAP } from './index';
import { appSql } from './sql';
import type { Role } from './types';

export const APP = appSql(APP_MAP);

/** The key a role's rows are counted under in a run's counts (the same on every layout). */
export const COUNT_KEYS: Record<Role, string> = {
  user: 'users',
  project: 'projects',
  chat: 'chats',
  message: 'messages',
  attachment: 'attachments',
  messageSource: 'message_sources',
};
