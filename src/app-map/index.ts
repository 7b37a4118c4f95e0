/**
 * The app map the Worker bundles: app-map.json at the repository root, written by `npm run map`
 * from the app's Prisma schema (see README, "The app map"). Typed here once; nothing else imports
 * the JSON.
 */
import map from '../../app-map.json';
import type { AppMap } from './types.ts';

export const APP_MAP = map as AppMap;

export type * from './types.ts';
export { ROLE_COLUMNS } from './types.ts';
