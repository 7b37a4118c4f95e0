CREATE TABLE "spacerr_jobs"."blob_sweeps" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "spacerr_jobs"."blob_sweeps_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"owner_id" text NOT NULL,
	"prefix" text NOT NULL,
	"store" text,
	"cursor" text,
	"enqueued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"parked_at" timestamp with time zone,
	"deleted" integer DEFAULT 0 NOT NULL,
	"kept" integer DEFAULT 0 NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "spacerr_jobs"."blob_deletions" ADD COLUMN "store" text;--> statement-breakpoint
ALTER TABLE "spacerr_jobs"."blob_deletions" ADD COLUMN "owner_id" text;--> statement-breakpoint
CREATE UNIQUE INDEX "blob_sweeps_owner_prefix_idx" ON "spacerr_jobs"."blob_sweeps" USING btree ("owner_id","prefix");--> statement-breakpoint
CREATE INDEX "blob_sweeps_due_idx" ON "spacerr_jobs"."blob_sweeps" USING btree ("next_attempt_at","id") WHERE "spacerr_jobs"."blob_sweeps"."parked_at" IS NULL AND "spacerr_jobs"."blob_sweeps"."finished_at" IS NULL;--> statement-breakpoint
CREATE INDEX "blob_sweeps_parked_idx" ON "spacerr_jobs"."blob_sweeps" USING btree ("parked_at") WHERE "spacerr_jobs"."blob_sweeps"."parked_at" IS NOT NULL AND "spacerr_jobs"."blob_sweeps"."finished_at" IS NULL;--> statement-breakpoint
CREATE INDEX "blob_sweeps_finished_idx" ON "spacerr_jobs"."blob_sweeps" USING btree ("finished_at") WHERE "spacerr_jobs"."blob_sweeps"."finished_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "blob_deletions_owner_idx" ON "spacerr_jobs"."blob_deletions" USING btree ("owner_id") WHERE "spacerr_jobs"."blob_deletions"."owner_id" IS NOT NULL;--> statement-breakpoint
-- hand-written:
-- The rows already queued name R2 keys: R2 was the one store the purge job deleted from.
UPDATE "spacerr_jobs"."blob_deletions" SET "store" = 'r2' WHERE "store" IS NULL;
--> statement-breakpoint
-- Makes every parked row of both blob queues due again with a fresh count, one row of 1 per row
-- (the requeue route counts them): one statement, as the route runs a job's requeue.
CREATE OR REPLACE FUNCTION "spacerr_jobs"."requeue_parked_blobs"() RETURNS SETOF integer LANGUAGE sql
SET search_path = pg_catalog, pg_temp AS $fn$
  WITH files AS (
    UPDATE spacerr_jobs.blob_deletions SET parked_at = NULL, attempts = 0, next_attempt_at = now()
    WHERE parked_at IS NOT NULL RETURNING 1
  ), sweeps AS (
    UPDATE spacerr_jobs.blob_sweeps SET parked_at = NULL, attempts = 0, next_attempt_at = now()
    WHERE parked_at IS NOT NULL AND finished_at IS NULL RETURNING 1
  )
  SELECT 1 FROM files UNION ALL SELECT 1 FROM sweeps
$fn$;
