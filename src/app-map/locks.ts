/**
 * The lock that makes decisions about one chat's emptiness take turns: a transaction-scoped
 * advisory lock, in the two-key space `(EMPTY_CHAT_LOCK_CLASS, hashtext(chat id))`, so it cannot
 * meet an advisory lock of the app's own (one-key locks live apart from two-key ones, and the
 * class is the Worker's). It is held until the transaction ends, like a row lock, but writes
 * nothing to the chat row and does not conflict with the app's own locks on it (its foreign-key
 * checks, an `UPDATE` of the chat). Two chats whose ids hash alike share a lock: they take turns
 * needlessly, which is safe. Taken in the order of the key, so two transactions that each lock
 * several chats cannot deadlock on them.
 */

/** The first key of every empty-chat lock ('sjec'). */
export const EMPTY_CHAT_LOCK_CLASS = 0x736a6563;

/** The second key for the chat id `idSql` (an SQL expression of any type). */
export function emptyChatLockKey(idSql: string): string {
  return `pg_catalog.hashtext((${idSql})::text)`;
}

/**
 * A plpgsql statement that waits for the empty-chat lock of every chat id `idsSql` (a query of
 * one column) yields, in key order.
 */
export function lockEmptyChatDecisions(idsSql: string): string {
  return `PERFORM pg_catalog.pg_advisory_xact_lock(${EMPTY_CHAT_LOCK_CLASS}, k.key)
  FROM (SELECT DISTINCT ${emptyChatLockKey('s.id')} AS key FROM (${idsSql}) AS s(id) ORDER BY 1) k;`;
}
