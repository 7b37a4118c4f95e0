/**
 * The per-user prefixes of the app's files, from the app map's settings (`blobPrefixes`, written
 * from app-map.overrides.json by `npm run map`): each a pathname template with one `<userId>`
 * followed by `/`, as Spacerr's `chat-attachments/<userId>/`. After a user's erasure every file
 * under each of its prefixes is listed and deleted by the blob purge job (src/files/blob-sweeps.ts).
 *
 * The `/` after the id is what keeps one user's prefix from reaching another's: `…/u_1/` is not a
 * prefix of `…/u_10/…`. An id that itself holds a `/` is never swept: its prefix could lie inside
 * another user's (`u_1/x/` inside `u_1/`).
 */

export const USER_ID = '<userId>';
export const BLOB_PREFIXES_SETTING = 'blobPrefixes';

/** Why `template` cannot be a per-user prefix, or undefined when it can. */
export function prefixProblem(template: unknown): string | undefined {
  if (typeof template !== 'string' || template === '') return 'expected a non-empty string';
  const at = template.indexOf(USER_ID);
  if (at === -1 || template.indexOf(USER_ID, at + 1) !== -1) return `must hold ${USER_ID} exactly once`;
  if (template[at + USER_ID.length] !== '/') return `${USER_ID} must be followed by "/" (else the prefix of u_1 is also u_10's)`;
  if (template.startsWith('/')) return 'must not start with "/" (pathnames do not)';
  return undefined;
}

/** The prefix of `template` for one user. */
export function prefixFor(template: string, userId: string): string {
  return template.replace(USER_ID, userId);
}
