/**
 * One app connection of the soak: a dedicated Postgres connection (a Session, as the app's own
 * pool would hold) plus R2 and Redis, doing what the app does all day while the jobs run. It
 * creates rows already "old" where that makes them stale work for the jobs (the thresholds are
 * set to their minimums), so every race the jobs must survive happens within seconds.
 */
import { ACTIVE_STREAMS_KEY, streamKey } from '../../src/redis/streams';
import { Session, type TestEnv, testRedis } from '../worker/support';
import { type ChatRow, count, type Ledger, type UserRow } from './ledger';

type Op = (c: AppConnection) => Promise<void>;

/** Kind → weight. Deactivations are rarer than messages, as in the app. */
const OPS: Array<[string, number, Op]> = [
  ['create_user', 4, (c) => c.createUser()],
  ['create_chat', 12, (c) => c.createChat()],
  ['first_message', 12, (c) => c.addFirstMessage()],
  ['message', 10, (c) => c.addMessage()],
  ['attachment', 10, (c) => c.addAttachment()],
  ['delete_attachment', 4, (c) => c.deleteAttachment()],
  ['move_attachment', 3, (c) => c.moveAttachment()],
  ['deactivate', 4, (c) => c.deactivate()],
  ['reactivate', 4, (c) => c.reactivate()],
  ['delete_project', 2, (c) => c.deleteProject()],
  ['delete_chat', 2, (c) => c.deleteChat()],
  ['heartbeat', 12, (c) => c.heartbeat()],
  ['stale_heartbeat', 3, (c) => c.staleHeartbeat()],
];
const TOTAL_WEIGHT = OPS.reduce((n, [, w]) => n + w, 0);

const isForeignKeyViolation = (err: unknown) => /foreign key constraint/.test(String((err as Error).message));

export class AppConnection {
  private n = 0;
  private readonly users: UserRow[] = [];
  private readonly attachments: Array<{ id: string; chatId: string }> = [];
  private readonly redis;

  private constructor(
    private readonly e: TestEnv,
    private readonly session: Session,
    private readonly ledger: Ledger,
    /** Unique per connection and run: ids and blob keys are never reused. */
    private readonly tag: string,
  ) {
    this.redis = testRedis(e);
  }

  static async open(e: TestEnv, ledger: Ledger, tag: string) {
    return new AppConnection(e, await Session.open(e), ledger, tag);
  }

  close() {
    return this.session.close();
  }

  /** Plays random operations until `stopAt` (epoch ms). */
  async play(stopAt: number) {
    while (Date.now() < stopAt) {
      let pick = Math.random() * TOTAL_WEIGHT;
      const [kind, , op] = OPS.find(([, w]) => (pick -= w) < 0) ?? OPS[0]!;
      try {
        await op(this);
      } catch (err) {
        count(this.ledger, `${kind}:error`);
        // Unexpected: surfaced in the summary, and the test fails on it.
        this.ledger.ops[`error: ${kind}: ${String((err as Error).message).slice(0, 120)}`] = 1;
      }
    }
  }

  private id(kind: string) {
    return `${this.tag}-${kind}${this.n++}`;
  }

  private pick<T>(items: T[]): T | undefined {
    return items[Math.floor(Math.random() * items.length)];
  }

  private activeUser() {
    return this.pick(this.users.filter((u) => u.state === 'active'));
  }

  private liveChats(pred: (c: ChatRow) => boolean = () => true) {
    const active = new Set(this.users.filter((u) => u.state === 'active').map((u) => u.id));
    return [...this.ledger.chats.values()].filter((c) => c.id.startsWith(this.tag) && !c.gone && active.has(c.userId) && pred(c));
  }

  async createUser() {
    const id = this.id('u');
    const project = `${id}-p0`;
    await this.session.query(
      `WITH u AS (INSERT INTO users (id, email, name) VALUES ($1, $1 || '@soak.test', 'soak') RETURNING id)
       INSERT INTO projects (id, user_id, name) SELECT $2, id, 'p' FROM u`,
      [id, project],
    );
    const user: UserRow = { id, state: 'active', reactivations: 0, projects: [project] };
    this.users.push(user);
    this.ledger.users.set(id, user);
    count(this.ledger, 'create_user');
  }

  /** Half of the chats are created 5 minutes old: empty, they are stale at once. */
  async createChat() {
    const user = this.activeUser();
    if (!user) return this.createUser();
    const id = this.id('c');
    const projectId = Math.random() < 0.5 ? (this.pick(user.projects) ?? null) : null;
    const old = Math.random() < 0.5;
    await this.session.query(
      `INSERT INTO chats (id, user_id, project_id, title, created_at)
       VALUES ($1, $2, $3, 't', now() - make_interval(mins => $4))`,
      [id, user.id, projectId, old ? 5 : 0],
    );
    this.ledger.chats.set(id, { id, userId: user.id, projectId, hasMessage: false, firstMessage: null, gone: false });
    count(this.ledger, old ? 'create_chat:old' : 'create_chat:fresh');
  }

  /** The race of docs/contract.md, §7: a first message into an old empty chat the job may be deleting. */
  async addFirstMessage() {
    const chat = this.pick(this.liveChats((c) => !c.hasMessage));
    if (!chat) return this.createChat();
    const id = this.id('m');
    try {
      await this.session.query(`INSERT INTO messages (id, chat_id, role, content) VALUES ($1, $2, 'user', '{"text":"hi"}')`, [id, chat.id]);
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
      chat.gone = true; // the job deleted the empty chat first: the app was told, nothing committed
      return count(this.ledger, 'first_message:chat_already_deleted');
    }
    chat.hasMessage = true;
    chat.firstMessage = id;
    this.ledger.messages.set(id, chat.id);
    count(this.ledger, 'first_message');
  }

  async addMessage() {
    const chat = this.pick(this.liveChats((c) => c.hasMessage));
    if (!chat) return this.addFirstMessage();
    const id = this.id('m');
    // A chat with a committed message of an active user must exist: a failure here is a lost chat.
    await this.session.query(`INSERT INTO messages (id, chat_id, role, content) VALUES ($1, $2, 'assistant', '{"text":"ok"}')`, [
      id,
      chat.id,
    ]);
    this.ledger.messages.set(id, chat.id);
    count(this.ledger, 'message');
  }

  /** Blob first, then the row (the app's upload order); a row that cannot be inserted takes its blob back. */
  async addAttachment() {
    const chat = this.pick(this.liveChats());
    if (!chat) return this.createChat();
    const id = this.id('a');
    const key = `soak/${id}`;
    await this.e.BLOBS.put(key, `blob ${id}`);
    try {
      await this.session.query(
        `WITH a AS (
           INSERT INTO attachments (id, user_id, project_id, chat_id, message_id, blob_key, content_type, size_bytes)
           VALUES ($1, $2, $3, $4, $5, $6, 'text/plain', 10) RETURNING id, message_id)
         INSERT INTO message_sources (id, message_id, attachment_id) SELECT id || '-s', message_id, id FROM a WHERE message_id IS NOT NULL`,
        [id, chat.userId, chat.projectId, chat.id, chat.firstMessage, key],
      );
    } catch (err) {
      if (!isForeignKeyViolation(err)) throw err;
      await this.e.BLOBS.delete(key); // never referenced by a committed row
      chat.gone = true;
      return count(this.ledger, 'attachment:chat_already_deleted');
    }
    this.attachments.push({ id, chatId: chat.id });
    count(this.ledger, 'attachment');
  }

  async deleteAttachment() {
    const attachment = this.attachments.splice(Math.floor(Math.random() * this.attachments.length), 1)[0];
    if (!attachment) return this.addAttachment();
    await this.session.query(`DELETE FROM attachments WHERE id = $1`, [attachment.id]);
    count(this.ledger, 'delete_attachment');
  }

  /** Cites the attachment from another message of its chat: the old message's source becomes an orphan. */
  async moveAttachment() {
    const attachment = this.pick(this.attachments);
    const chat = attachment && this.ledger.chats.get(attachment.chatId);
    if (!attachment || !chat || chat.gone || this.ledger.users.get(chat.userId)?.state !== 'active') return this.addAttachment();
    const message = this.pick([...this.ledger.messages].filter(([, chatId]) => chatId === chat.id).map(([m]) => m));
    if (!message) return this.addMessage();
    // 0 rows: the attachment went with its chat (an empty chat the job deleted, or its user's account).
    const rows = await this.session.query(`UPDATE attachments SET message_id = $2 WHERE id = $1 RETURNING id`, [attachment.id, message]);
    count(this.ledger, rows.length ? 'move_attachment' : 'move_attachment:already_deleted');
  }

  /** Deactivated two days ago: past ACCOUNT_RETENTION_DAYS=1, the account job may delete it now. */
  async deactivate() {
    const user = this.activeUser();
    if (!user) return this.createUser();
    await this.session.query(`UPDATE users SET deactivated_at = now() - interval '2 days' WHERE id = $1`, [user.id]);
    user.state = 'deactivated';
    count(this.ledger, 'deactivate');
    // Half the time the user comes back at once, racing the account job.
    if (Math.random() < 0.5) await this.reactivateUser(user);
  }

  async reactivate() {
    const user = this.pick(this.users.filter((u) => u.state === 'deactivated'));
    if (!user) return this.deactivate();
    await this.reactivateUser(user);
  }

  private async reactivateUser(user: UserRow) {
    const rows = await this.session.query(`UPDATE users SET deactivated_at = NULL WHERE id = $1 RETURNING id`, [user.id]);
    if (rows.length === 0) {
      user.state = 'gone'; // the job deleted the account first: legitimate, it was past retention
      return count(this.ledger, 'reactivate:account_already_deleted');
    }
    user.state = 'active';
    user.reactivations++;
    count(this.ledger, 'reactivate');
  }

  async deleteProject() {
    const user = this.activeUser();
    const project = user && this.pick(user.projects);
    if (!user || !project) return this.createUser();
    await this.session.query(`DELETE FROM projects WHERE id = $1`, [project]);
    this.ledger.deletedProjects.add(project);
    for (const chat of this.ledger.chats.values()) if (chat.projectId === project) chat.gone = true;
    user.projects = user.projects.filter((p) => p !== project);
    const next = this.id('p');
    await this.session.query(`INSERT INTO projects (id, user_id, name) VALUES ($1, $2, 'p')`, [next, user.id]);
    user.projects.push(next);
    count(this.ledger, 'delete_project');
  }

  async deleteChat() {
    const chat = this.pick(this.liveChats());
    if (!chat) return this.createChat();
    await this.session.query(`DELETE FROM chats WHERE id = $1`, [chat.id]);
    chat.gone = true;
    count(this.ledger, 'delete_chat');
  }

  /** What a streaming chat does every few seconds: a fresh score and its stream id. */
  async heartbeat() {
    const chat = this.pick(this.liveChats((c) => c.hasMessage));
    if (!chat) return this.addFirstMessage();
    const at = Date.now();
    await this.redis.zadd(ACTIVE_STREAMS_KEY, { score: at, member: chat.id });
    await this.redis.set(streamKey(chat.id), `stream-${chat.id}`);
    this.ledger.heartbeats.set(chat.id, at);
    count(this.ledger, 'heartbeat');
  }

  /** A stream that stopped 5 minutes ago (the client went away): the job must remove it. */
  async staleHeartbeat() {
    const chat = this.pick(this.liveChats());
    if (!chat) return this.createChat();
    await this.redis.zadd(ACTIVE_STREAMS_KEY, { score: Date.now() - 5 * 60_000, member: chat.id });
    await this.redis.set(streamKey(chat.id), `stream-${chat.id}`);
    this.ledger.heartbeats.delete(chat.id);
    count(this.ledger, 'stale_heartbeat');
  }
}
