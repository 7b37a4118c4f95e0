/**
 * The app map the Worker bundles: app-map.json at the repository root, written by `npm run map`
 * from the app's Prisma schema (see docs/architecture.md, "The app map"). Typed here once; nothing else imports
 * the JSON. A build may bundle another map in its place by defining SPACERR_APP_MAP (esbuild's and
 * Vite's `define`): the test stack does, to run the Worker on each of the layouts in fixtures/.
 */
import bundled from '../../app-map.json';
import type { AppMap } from './types';

declare const SPACERR_APP_MAP: AppMap | undefined;

export const APP_MAP: AppMap = typeof SPACERR_APP_MAP === 'undefined' ? (bundled as AppMap) : SPACERR_APP_MAP;

export type * from './types';
export { ROLE_COLUMNS } from './types';
