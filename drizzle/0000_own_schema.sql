-- The Worker's own schema: its tables, their sequences and indexes, its functions and its migration
-- journal live here, never in the app's schema (public, owned by the app's Prisma migrations).
-- IF NOT EXISTS throughout: drizzle's migrator has already created the schema for its journal, and
-- a deployment of the legacy layout has its tables moved in below before they would be created.
CREATE SCHEMA IF NOT EXISTS "spacerr_jobs";
--> statement-breakpoint
-- A deployment migrated by the legacy layout (drizzle/legacy: the Worker's tables in public, its
-- journal in drizzle.__drizzle_migrations) moves its tables here with every row: SET SCHEMA
-- rewrites nothing and takes the table's identity sequence, constraints and indexes along, all
-- named as below. Its queued outbox rows, stream deletions, source checks and run history stay.
DO $$
DECLARE t text;
BEGIN
  IF to_regclass('drizzle.__drizzle_migrations') IS NOT NULL THEN
    FOREACH t IN ARRAY ARRAY['job_runs', 'blob_deletions', 'stream_deletions', 'message_source_checks'] LOOP
      IF to_regclass(format('public.%I', t)) IS NOT NULL THEN
        EXECUTE format('ALTER TABLE public.%I SET SCHEMA spacerr_jobs', t);
      END IF;
    END LOOP;
  END IF;
END $$;
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "spacerr_jobs"."blob_deletions" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "spacerr_jobs"."blob_deletions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"blob_key" text NOT NULL,
	"enqueued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"parked_at" timestamp with time zone,
	CONSTRAINT "blob_deletions_blob_key_unique" UNIQUE("blob_key")
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "spacerr_jobs"."empty_chats" (
	"chat_id" text PRIMARY KEY NOT NULL,
	"created_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "spacerr_jobs"."job_runs" (
	"id" text PRIMARY KEY NOT NULL,
	"job" text NOT NULL,
	"trigger" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"status" text NOT NULL,
	"dry_run" boolean DEFAULT false NOT NULL,
	"counts" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"more" boolean DEFAULT false NOT NULL,
	"subrequests" integer DEFAULT 0 NOT NULL,
	"error" text,
	"lease_until" timestamp with time zone,
	"continues" text
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "spacerr_jobs"."message_source_checks" (
	"attachment_id" text PRIMARY KEY NOT NULL,
	"enqueued_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE IF NOT EXISTS "spacerr_jobs"."stream_deletions" (
	"chat_id" text PRIMARY KEY NOT NULL,
	"enqueued_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "blob_deletions_due_idx" ON "spacerr_jobs"."blob_deletions" USING btree ("next_attempt_at","id") WHERE "spacerr_jobs"."blob_deletions"."parked_at" IS NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "blob_deletions_parked_idx" ON "spacerr_jobs"."blob_deletions" USING btree ("parked_at") WHERE "spacerr_jobs"."blob_deletions"."parked_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "empty_chats_created_at_idx" ON "spacerr_jobs"."empty_chats" USING btree ("created_at");--> statement-breakpoint
CREATE UNIQUE INDEX IF NOT EXISTS "job_runs_one_running_idx" ON "spacerr_jobs"."job_runs" USING btree ("job") WHERE "spacerr_jobs"."job_runs"."status" = 'running';--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "job_runs_job_started_idx" ON "spacerr_jobs"."job_runs" USING btree ("job","started_at" DESC NULLS LAST);