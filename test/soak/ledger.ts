/**
 * What the soak driver knows it committed, so the invariants can tell a row the jobs deleted
 * legitimately from one they lost. Each app connection owns its own users (and everything under
 * them), so the only races are between the app and the jobs — the ones the Worker must survive.
 */

export type UserState = 'active' | 'deactivated' | 'gone';

export interface UserRow {
  id: string;
  state: UserState;
  /** Reactivations the app saw commit (UPDATE … RETURNING answered a row). */
  reactivations: number;
  projects: string[];
}

export interface ChatRow {
  id: string;
  userId: string;
  projectId: string | null;
  /** The app committed a message into it: from then on only a user or project delete removes it. */
  hasMessage: boolean;
  /** Its first committed message, which new attachments cite. */
  firstMessage: string | null;
  /** Deleted by the app, or found gone (an empty chat the job removed: legitimate). */
  gone: boolean;
}

export interface Ledger {
  users: Map<string, UserRow>;
  deletedProjects: Set<string>;
  chats: Map<string, ChatRow>;
  /** message id → chat id, for every message whose INSERT committed. */
  messages: Map<string, string>;
  /** chat id → epoch ms of the last heartbeat the app wrote for it (fresh ones only). */
  heartbeats: Map<string, number>;
  /** Operations attempted, by kind and outcome (`kind` or `kind:outcome`). */
  ops: Record<string, number>;
}

export function newLedger(): Ledger {
  return { users: new Map(), deletedProjects: new Set(), chats: new Map(), messages: new Map(), heartbeats: new Map(), ops: {} };
}

export function count(ledger: Ledger, kind: string) {
  ledger.ops[kind] = (ledger.ops[kind] ?? 0) + 1;
}

/** A chat whose rows must still exist: it holds a committed message and nothing above it was deleted. */
export function mustSurvive(ledger: Ledger, chat: ChatRow): boolean {
  const user = ledger.users.get(chat.userId);
  return (
    chat.hasMessage && !chat.gone && user?.state === 'active' && (chat.projectId === null || !ledger.deletedProjects.has(chat.projectId))
  );
}
