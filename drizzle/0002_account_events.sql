CREATE TABLE "spacerr_jobs"."account_events" (
	"id" text PRIMARY KEY NOT NULL,
	"type" text NOT NULL,
	"user_id" text NOT NULL,
	"deactivated_at" timestamp with time zone NOT NULL,
	"data" jsonb NOT NULL,
	"run_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	"last_error" text,
	"parked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE UNIQUE INDEX "account_events_once_idx" ON "spacerr_jobs"."account_events" USING btree ("user_id","deactivated_at","type");--> statement-breakpoint
CREATE INDEX "account_events_due_idx" ON "spacerr_jobs"."account_events" USING btree ("next_attempt_at","id") WHERE "spacerr_jobs"."account_events"."delivered_at" IS NULL AND "spacerr_jobs"."account_events"."parked_at" IS NULL;--> statement-breakpoint
CREATE INDEX "account_events_parked_idx" ON "spacerr_jobs"."account_events" USING btree ("parked_at") WHERE "spacerr_jobs"."account_events"."parked_at" IS NOT NULL AND "spacerr_jobs"."account_events"."delivered_at" IS NULL;--> statement-breakpoint
CREATE INDEX "account_events_delivered_idx" ON "spacerr_jobs"."account_events" USING btree ("delivered_at") WHERE "spacerr_jobs"."account_events"."delivered_at" IS NOT NULL;