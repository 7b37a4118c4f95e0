-- The Stripe outbox: customer ids of deleted users, queued by the triggers src/app-map/triggers.ts
-- installs where the app map names them, deleted at Stripe by src/jobs/delete-stripe-customers.ts.
CREATE TABLE "spacerr_jobs"."stripe_customer_deletions" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "spacerr_jobs"."stripe_customer_deletions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"customer_id" text NOT NULL,
	"owner_id" text,
	"enqueued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"parked_at" timestamp with time zone,
	"deleted_at" timestamp with time zone,
	CONSTRAINT "stripe_customer_deletions_customer_id_unique" UNIQUE("customer_id")
);
--> statement-breakpoint
CREATE INDEX "stripe_customer_deletions_due_idx" ON "spacerr_jobs"."stripe_customer_deletions" USING btree ("next_attempt_at","id") WHERE "spacerr_jobs"."stripe_customer_deletions"."parked_at" IS NULL AND "spacerr_jobs"."stripe_customer_deletions"."deleted_at" IS NULL;--> statement-breakpoint
CREATE INDEX "stripe_customer_deletions_parked_idx" ON "spacerr_jobs"."stripe_customer_deletions" USING btree ("parked_at") WHERE "spacerr_jobs"."stripe_customer_deletions"."parked_at" IS NOT NULL AND "spacerr_jobs"."stripe_customer_deletions"."deleted_at" IS NULL;--> statement-breakpoint
CREATE INDEX "stripe_customer_deletions_deleted_idx" ON "spacerr_jobs"."stripe_customer_deletions" USING btree ("deleted_at") WHERE "spacerr_jobs"."stripe_customer_deletions"."deleted_at" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "stripe_customer_deletions_owner_idx" ON "spacerr_jobs"."stripe_customer_deletions" USING btree ("owner_id");