-- What the Worker installs on the app's tables (docs/contract.md, §3): triggers, whose functions
-- live in spacerr_jobs, and the indexes its jobs need. Nothing else: no column, no table, no
-- function in the app's schema. The app's tables are named with their schema (public) everywhere,
-- since these functions run in the app's sessions, whatever their search_path.
-- Statement-level triggers with transition tables: one set-based statement per DELETE/INSERT, so a
-- bulk delete of 100k rows costs one INSERT ... SELECT, not 100k trigger calls.

-- The legacy layout (drizzle/legacy) had its functions in public, a chats.has_messages column and
-- a partial index on it. None of these exist on a fresh database.
DROP TRIGGER IF EXISTS attachments_enqueue_blob_deletions ON public.attachments;
--> statement-breakpoint
DROP TRIGGER IF EXISTS attachments_enqueue_source_checks ON public.attachments;
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_mark_chats ON public.messages;
--> statement-breakpoint
DROP TRIGGER IF EXISTS messages_unmark_chats ON public.messages;
--> statement-breakpoint
DROP TRIGGER IF EXISTS chats_enqueue_stream_deletions ON public.chats;
--> statement-breakpoint
DROP FUNCTION IF EXISTS public.enqueue_blob_deletions();
--> statement-breakpoint
DROP FUNCTION IF EXISTS public.enqueue_message_source_checks();
--> statement-breakpoint
DROP FUNCTION IF EXISTS public.mark_chats_with_messages();
--> statement-breakpoint
DROP FUNCTION IF EXISTS public.unmark_emptied_chats();
--> statement-breakpoint
DROP FUNCTION IF EXISTS public.enqueue_stream_deletions();
--> statement-breakpoint
-- Only when the column is there: ALTER TABLE takes an exclusive lock on chats even to do nothing.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = 'chats' AND column_name = 'has_messages') THEN
    DROP INDEX IF EXISTS public.chats_empty_created_at_idx;
    ALTER TABLE public.chats DROP COLUMN has_messages;
  END IF;
END $$;
--> statement-breakpoint

-- 1. The blob outbox. Whenever attachments rows disappear -- deleted by this Worker, by a cascade
-- from users/projects/chats, or by the app -- their blob keys are queued in the same transaction.
-- A blob is therefore never orphaned (the key is committed with the delete) and never deleted
-- early (the outbox row exists only once the attachments row is gone). A key queued again (its
-- attachment came back and was deleted again) re-arms its outbox row: parked or backed off, it
-- becomes due now with a fresh count of attempts, since the blob under it is a new object.
CREATE OR REPLACE FUNCTION spacerr_jobs.enqueue_blob_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO spacerr_jobs.blob_deletions (blob_key)
  SELECT blob_key FROM deleted_attachments
  ON CONFLICT (blob_key) DO UPDATE
    SET enqueued_at = now(), attempts = 0, next_attempt_at = now(), last_error = NULL, parked_at = NULL;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER attachments_enqueue_blob_deletions
  AFTER DELETE ON public.attachments
  REFERENCING OLD TABLE AS deleted_attachments
  FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.enqueue_blob_deletions();
--> statement-breakpoint

-- 2. spacerr_jobs.empty_chats, the indexable form of "this chat has no message", kept without a
-- column on the app's table. A chat is empty when created; its first message deletes its row
-- inside the inserting transaction, and that row delete is what makes the empty-chat job
-- race-safe (the job locks the row FOR UPDATE SKIP LOCKED: the argument is next to its SQL in
-- src/jobs/delete-stale-empty-chats.ts). Later messages find no row: one primary-key probe each.
CREATE OR REPLACE FUNCTION spacerr_jobs.add_new_empty_chats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at)
  SELECT id, created_at FROM inserted_chats
  ON CONFLICT (chat_id) DO UPDATE SET created_at = EXCLUDED.created_at;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER chats_add_empty_chats
  AFTER INSERT ON public.chats
  REFERENCING NEW TABLE AS inserted_chats
  FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.add_new_empty_chats();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION spacerr_jobs.remove_chats_with_messages() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM spacerr_jobs.empty_chats
  WHERE chat_id = ANY(ARRAY(SELECT DISTINCT chat_id FROM inserted_messages));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_remove_empty_chats
  AFTER INSERT ON public.messages
  REFERENCING NEW TABLE AS inserted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.remove_chats_with_messages();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION spacerr_jobs.add_emptied_chats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- A chat whose last message was deleted is empty again. During a chat's own cascade the chat
  -- row is already gone and this adds nothing.
  INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at)
  SELECT c.id, c.created_at FROM public.chats c
  WHERE c.id = ANY(ARRAY(SELECT DISTINCT chat_id FROM deleted_messages))
    AND NOT EXISTS (SELECT 1 FROM public.messages m WHERE m.chat_id = c.id)
  ON CONFLICT (chat_id) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_add_emptied_chats
  AFTER DELETE ON public.messages
  REFERENCING OLD TABLE AS deleted_messages
  FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.add_emptied_chats();
--> statement-breakpoint
-- The job orders and cuts off by the copy of created_at; a chat whose created_at the app changes
-- keeps its copy in step (row-level: Postgres allows no transition table on UPDATE OF a column).
CREATE OR REPLACE FUNCTION spacerr_jobs.move_empty_chat() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE spacerr_jobs.empty_chats SET created_at = NEW.created_at WHERE chat_id = NEW.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER chats_move_empty_chats
  AFTER UPDATE OF created_at ON public.chats
  FOR EACH ROW
  WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at)
  EXECUTE FUNCTION spacerr_jobs.move_empty_chat();
--> statement-breakpoint

-- TRUNCATE fires no DELETE trigger: a truncated chats table empties the list, and truncated
-- messages make every chat empty again (a full scan, as rare as the TRUNCATE).
CREATE OR REPLACE FUNCTION spacerr_jobs.truncate_empty_chats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE spacerr_jobs.empty_chats;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER chats_truncate_empty_chats
  AFTER TRUNCATE ON public.chats
  FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.truncate_empty_chats();
--> statement-breakpoint
CREATE OR REPLACE FUNCTION spacerr_jobs.add_all_chats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at)
  SELECT id, created_at FROM public.chats
  ON CONFLICT (chat_id) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_truncate_add_all_chats
  AFTER TRUNCATE ON public.messages
  FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.add_all_chats();
--> statement-breakpoint

-- 3. Deleted chats. Their empty_chats rows go, and only a chat that had messages can have had a
-- stream: those (the deleted chats without an empty_chats row) are queued in stream_deletions, so
-- their stream state in Redis is removed without scanning the keyspace. Empty chats (the bulk of
-- deletions) queue nothing. One function, because the order matters: queue, then forget.
CREATE OR REPLACE FUNCTION spacerr_jobs.forget_deleted_chats() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH emptied AS (
    DELETE FROM spacerr_jobs.empty_chats
    WHERE chat_id = ANY(ARRAY(SELECT id FROM deleted_chats))
    RETURNING chat_id
  )
  INSERT INTO spacerr_jobs.stream_deletions (chat_id)
  SELECT id FROM deleted_chats WHERE id NOT IN (SELECT chat_id FROM emptied)
  ON CONFLICT (chat_id) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER chats_forget_deleted_chats
  AFTER DELETE ON public.chats
  REFERENCING OLD TABLE AS deleted_chats
  FOR EACH STATEMENT EXECUTE FUNCTION spacerr_jobs.forget_deleted_chats();
--> statement-breakpoint

-- 4. An attachment moved to another message may leave message_sources rows pointing at it from
-- the old message. Queue it for delete-orphaned-message-sources, which re-checks before deleting.
CREATE OR REPLACE FUNCTION spacerr_jobs.enqueue_message_source_checks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO spacerr_jobs.message_source_checks (attachment_id) VALUES (NEW.id)
  ON CONFLICT (attachment_id) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER attachments_enqueue_source_checks
  AFTER UPDATE OF message_id ON public.attachments
  FOR EACH ROW
  WHEN (OLD.message_id IS NOT NULL AND OLD.message_id IS DISTINCT FROM NEW.message_id)
  EXECUTE FUNCTION spacerr_jobs.enqueue_message_source_checks();
--> statement-breakpoint

-- 5. The indexes the jobs need on the app's tables (docs/contract.md, §3, each with its reason).
-- IF NOT EXISTS: an app that declares them itself (the @@index lines of the contract's "With
-- Prisma" section create the same names) keeps its own. Foreign-key indexes: the cascades of a
-- batch delete find the children probe by probe.
CREATE INDEX IF NOT EXISTS projects_user_id_idx ON public.projects (user_id);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS chats_user_id_idx ON public.chats (user_id);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS chats_project_id_idx ON public.chats (project_id);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS messages_chat_id_idx ON public.messages (chat_id);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS attachments_user_id_idx ON public.attachments (user_id);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS attachments_project_id_idx ON public.attachments (project_id);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS attachments_chat_id_idx ON public.attachments (chat_id);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS attachments_message_id_idx ON public.attachments (message_id);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS message_sources_message_id_idx ON public.message_sources (message_id);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS message_sources_attachment_id_idx ON public.message_sources (attachment_id);
--> statement-breakpoint
-- Partial: only deactivated users, and only orphaned sources, are ever looked up; both stay tiny.
CREATE INDEX IF NOT EXISTS users_deactivated_at_idx ON public.users (deactivated_at) WHERE deactivated_at IS NOT NULL;
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS message_sources_orphaned_idx ON public.message_sources (id) WHERE attachment_id IS NULL;
--> statement-breakpoint

-- 6. The chats that are empty now. After the triggers above, in the same transaction: creating
-- them locked chats and messages against writes, so no message can land unseen in between.
INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at)
SELECT c.id, c.created_at FROM public.chats c
WHERE NOT EXISTS (SELECT 1 FROM public.messages m WHERE m.chat_id = c.id)
ON CONFLICT (chat_id) DO NOTHING;
--> statement-breakpoint

-- 7. The legacy layout's migration journal (drizzle.__drizzle_migrations, recognised by its three
-- migrations' timestamps); the journal is now spacerr_jobs.__drizzle_migrations.
DO $$
DECLARE other_rows boolean;
BEGIN
  IF to_regclass('drizzle.__drizzle_migrations') IS NOT NULL THEN
    EXECUTE 'SELECT EXISTS (SELECT 1 FROM drizzle.__drizzle_migrations
                            WHERE created_at NOT IN (1795325929015, 1795325945661, 1795331922559))'
      INTO other_rows;
    IF NOT other_rows THEN
      DROP TABLE drizzle.__drizzle_migrations;
      BEGIN
        DROP SCHEMA drizzle; -- only if nothing else lives there
      EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
      END;
    END IF;
  END IF;
END $$;
