-- What the Worker installs on the app's tables (triggers, their functions, the indexes its jobs
-- need) is no longer a migration: it depends on the app's own names, so `npm run db:migrate`
-- generates it from the app map after these migrations (src/app-map/triggers.ts,
-- scripts/db/app-objects.ts). A database that ran this migration's earlier text keeps its rows;
-- the installer replaces the triggers that text created. What stays here is the move away from
-- the legacy layout (drizzle/legacy), which only ever had snake_case plural tables.

-- The legacy layout had its functions in public, a chats.has_messages column and a partial index
-- on it; its triggers go first (they depend on those functions). None of these exist on a fresh
-- database, nor on an app whose tables are named otherwise.
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM (VALUES
      ('attachments_enqueue_blob_deletions', 'attachments'), ('attachments_enqueue_source_checks', 'attachments'),
      ('messages_mark_chats', 'messages'), ('messages_unmark_chats', 'messages'),
      ('chats_enqueue_stream_deletions', 'chats')) AS t(tg, tbl) LOOP
    IF to_regclass(format('public.%I', r.tbl)) IS NOT NULL THEN
      EXECUTE format('DROP TRIGGER IF EXISTS %I ON public.%I', r.tg, r.tbl);
    END IF;
  END LOOP;
END $$;
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
