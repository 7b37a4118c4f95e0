/** Whether a stored file is still named by a live row of the app: the purge job and the sweeps keep it then. */
import { type SQL, sql } from 'drizzle-orm';
import { APP } from '../app-map/app';

/**
 * A key is live while a row of the app names it: an attachments row's key, or a message source's
 * pathname (each found by the index the installer ensures). A message part naming it is not
 * looked for: that would scan every message's parts. For the outbox, Spacerr's pathnames carry a
 * random suffix per upload, so a deleted part's pathname does not come back; for the sweep of an
 * erased user's prefix, Spacerr records every file of a message as a message source (its storage
 * docs: they "always have a chatId and a messageId"), so a file in a chat given to another user
 * is found by its source row and kept.
 */
export function liveKey(key: SQL): SQL {
  const checks: SQL[] = [];
  if (APP.has('attachment')) {
    const a = APP.role('attachment');
    checks.push(sql`EXISTS (SELECT 1 FROM ${a.table} a WHERE a.${a.col('blobKey')} = ${key})`);
  }
  if (APP.has('messageSource') && APP.role('messageSource').has('pathname')) {
    const m = APP.role('messageSource');
    checks.push(sql`EXISTS (SELECT 1 FROM ${m.table} s WHERE s.${m.col('pathname')} = ${key})`);
  }
  return checks.length > 0 ? sql.join(checks, sql` OR `) : sql`false`;
}
