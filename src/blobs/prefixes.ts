/** The per-user prefixes the bundled app map names (src/blobs/prefix-rules.ts says what they are). */
import { APP_MAP } from '../app-map';
import { BLOB_PREFIXES_SETTING, prefixProblem } from './prefix-rules';

export { prefixFor } from './prefix-rules';

/** The templates the bundled map names (none: no sweep). A bad one is a programmer error here: `npm run map` refuses it. */
export const BLOB_PREFIXES: readonly string[] = (() => {
  const raw = APP_MAP.settings[BLOB_PREFIXES_SETTING];
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw new Error(`app map: settings.${BLOB_PREFIXES_SETTING} must be an array`);
  for (const t of raw) {
    const problem = prefixProblem(t);
    if (problem) throw new Error(`app map: settings.${BLOB_PREFIXES_SETTING}: ${JSON.stringify(t)} ${problem}`);
  }
  return raw as string[];
})();
