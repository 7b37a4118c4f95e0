-- Triggers Drizzle cannot express. Statement-level triggers with transition tables: one
-- set-based statement per DELETE/INSERT, so a bulk delete of 100k rows costs one INSERT ... SELECT,
-- not 100k trigger calls.

-- 1. The blob outbox. Whenever attachments rows disappear -- deleted by this Worker, by a cascade
-- from users/projects/chats, or by the app -- their blob keys are queued in the same transaction.
-- A blob is therefore never orphaned (the key is committed with the delete) and never deleted
-- early (the outbox row exists only once the attachments row is gone).
CREATE FUNCTION enqueue_blob_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO blob_deletions (blob_key)
  SELECT blob_key FROM deleted_attachments
  ON CONFLICT (blob_key) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER attachments_enqueue_blob_deletions
  AFTER DELETE ON attachments
  REFERENCING OLD TABLE AS deleted_attachments
  FOR EACH STATEMENT EXECUTE FUNCTION enqueue_blob_deletions();
--> statement-breakpoint

-- 2. chats.has_messages, the indexable form of "this chat has a message". The first message of a
-- chat updates the chat row inside the inserting transaction. That row update is what makes the
-- empty-chat job race-safe: its SELECT ... FOR UPDATE SKIP LOCKED either skips the chat (the
-- insert is in flight and holds the row) or, in READ COMMITTED, re-evaluates NOT has_messages on
-- the committed row version and drops it. Only the first message writes (AND NOT has_messages),
-- so busy chats see no extra row updates.
CREATE FUNCTION mark_chats_with_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE chats SET has_messages = true
  WHERE id IN (SELECT DISTINCT chat_id FROM inserted_messages) AND NOT has_messages;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_mark_chats
  AFTER INSERT ON messages
  REFERENCING NEW TABLE AS inserted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION mark_chats_with_messages();
--> statement-breakpoint
CREATE FUNCTION unmark_emptied_chats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A chat whose last message was deleted is empty again. During a chat's own cascade the chat
  -- row is already gone and this matches nothing.
  UPDATE chats c SET has_messages = false
  WHERE c.id IN (SELECT DISTINCT chat_id FROM deleted_messages)
    AND c.has_messages
    AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_unmark_chats
  AFTER DELETE ON messages
  REFERENCING OLD TABLE AS deleted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION unmark_emptied_chats();
--> statement-breakpoint

-- 3. Stream state of deleted chats. Only a chat that had messages can have had a stream, so empty
-- chats (the bulk of deletions) queue nothing.
CREATE FUNCTION enqueue_stream_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO stream_deletions (chat_id)
  SELECT id FROM deleted_chats WHERE has_messages
  ON CONFLICT (chat_id) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER chats_enqueue_stream_deletions
  AFTER DELETE ON chats
  REFERENCING OLD TABLE AS deleted_chats
  FOR EACH STATEMENT EXECUTE FUNCTION enqueue_stream_deletions();
--> statement-breakpoint

-- 4. An attachment moved to another message may leave message_sources rows pointing at it from
-- the old message. Queue it for delete-orphaned-message-sources, which re-checks before deleting.
CREATE FUNCTION enqueue_message_source_checks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO message_source_checks (attachment_id) VALUES (NEW.id)
  ON CONFLICT (attachment_id) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER attachments_enqueue_source_checks
  AFTER UPDATE OF message_id ON attachments
  FOR EACH ROW
  WHEN (OLD.message_id IS NOT NULL AND OLD.message_id IS DISTINCT FROM NEW.message_id)
  EXECUTE FUNCTION enqueue_message_source_checks();
--> statement-breakpoint

-- Existing databases: make the flag true where it already is.
UPDATE chats c SET has_messages = true
WHERE NOT c.has_messages AND EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id);
