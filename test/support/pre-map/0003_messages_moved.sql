-- A message moved to another chat (UPDATE public.messages SET chat_id = ...) is, for
-- spacerr_jobs.empty_chats, a message inserted into the chat it moves to and a message deleted
-- from the chat it leaves (drizzle/0001_app_triggers.sql, section 2, keeps the list for INSERT and
-- DELETE only). Without this trigger the chat it moves to keeps its empty_chats row: a move that
-- commits after the empty-chat job's snapshot, before the job locks that row, finds nothing to
-- conflict with, and the job deletes the chat with the message just moved into it.
-- Row-level, because Postgres allows no transition table on UPDATE OF a column; the WHEN keeps
-- every other update of a message (content streamed in, edits) from calling the function at all.
-- AFTER ROW triggers fire once the whole UPDATE is done, so the NOT EXISTS below sees every row it
-- moved: a statement moving all of a chat's messages out leaves that chat listed.
CREATE OR REPLACE FUNCTION spacerr_jobs.update_empty_chats_for_moved_message() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The chat moved into: as for a first INSERT, its row is deleted inside the moving transaction,
  -- and that row delete is what the job's FOR UPDATE ... SKIP LOCKED conflicts with (in flight)
  -- or re-checks under READ COMMITTED (committed after its snapshot): the argument is next to the
  -- job's SQL in src/jobs/delete-stale-empty-chats.ts. Not a chat's first message: no row, one
  -- primary-key probe.
  DELETE FROM spacerr_jobs.empty_chats WHERE chat_id = NEW.chat_id;
  -- The chat moved out of: empty again if that was its last message, as after a DELETE.
  INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at)
  SELECT c.id, c.created_at FROM public.chats c
  WHERE c.id = OLD.chat_id
    AND NOT EXISTS (SELECT 1 FROM public.messages m WHERE m.chat_id = c.id)
  ON CONFLICT (chat_id) DO NOTHING;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER messages_moved_update_empty_chats
  AFTER UPDATE OF chat_id ON public.messages
  FOR EACH ROW
  WHEN (OLD.chat_id IS DISTINCT FROM NEW.chat_id)
  EXECUTE FUNCTION spacerr_jobs.update_empty_chats_for_moved_message();
--> statement-breakpoint

-- Chats that moves made before this migration left without messages were never listed: list them,
-- or they are never cleaned up. After the trigger above, in the same transaction: creating it
-- locked messages against writes, so no message can be inserted, moved or deleted unseen in
-- between. (The chats moved into, still listed though they have messages, need nothing: the job's
-- NOT EXISTS sees their committed messages and heals the row, and the trigger above deletes it on
-- the next move into them.)
INSERT INTO spacerr_jobs.empty_chats (chat_id, created_at)
SELECT c.id, c.created_at FROM public.chats c
WHERE NOT EXISTS (SELECT 1 FROM public.messages m WHERE m.chat_id = c.id)
ON CONFLICT (chat_id) DO NOTHING;
