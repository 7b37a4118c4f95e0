-- A key queued again (its attachment came back and was deleted again) re-arms its outbox row:
-- parked or backed off, it becomes due now with a fresh count of attempts, since the blob under it
-- is a new object that must be deleted. Before, ON CONFLICT DO NOTHING left a parked row parked
-- and the new blob orphaned.
CREATE OR REPLACE FUNCTION enqueue_blob_deletions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO blob_deletions (blob_key)
  SELECT blob_key FROM deleted_attachments
  ON CONFLICT (blob_key) DO UPDATE
    SET enqueued_at = now(), attempts = 0, next_attempt_at = now(), last_error = NULL, parked_at = NULL;
  RETURN NULL;
END $$;
