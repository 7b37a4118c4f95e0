-- Operator control: jobs paused without a deploy (job_pauses, read inside each run's lock request),
-- and the cron slot each scheduled run is for (job_runs.slot, .missed), so a slot whose delivery
-- never came is caught up once and a slot delivered twice runs once (src/run/slots.ts).
CREATE TABLE "spacerr_jobs"."job_pauses" (
	"job" text PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"paused_by" text,
	"since" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "spacerr_jobs"."job_runs" ADD COLUMN "slot" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "spacerr_jobs"."job_runs" ADD COLUMN "missed" jsonb;--> statement-breakpoint
CREATE UNIQUE INDEX "job_runs_one_slot_idx" ON "spacerr_jobs"."job_runs" USING btree ("job","slot") WHERE "spacerr_jobs"."job_runs"."slot" IS NOT NULL AND "spacerr_jobs"."job_runs"."status" <> 'skipped';--> statement-breakpoint
CREATE INDEX "job_runs_job_slot_idx" ON "spacerr_jobs"."job_runs" USING btree ("job","slot" DESC NULLS LAST) WHERE "spacerr_jobs"."job_runs"."slot" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "job_runs_missed_idx" ON "spacerr_jobs"."job_runs" USING btree ("job","started_at" DESC NULLS LAST) WHERE "spacerr_jobs"."job_runs"."missed" IS NOT NULL;