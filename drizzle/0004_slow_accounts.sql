-- Accounts whose deletion ran into STATEMENT_TIMEOUT_MS: the account job retries them in halves and
-- sets aside one that times out alone (src/jobs/delete-stale-deactivated-accounts.ts).
CREATE TABLE "spacerr_jobs"."slow_accounts" (
	"user_id" text PRIMARY KEY NOT NULL,
	"batch_size" integer NOT NULL,
	"timed_out_at" timestamp with time zone DEFAULT now() NOT NULL,
	"set_aside_at" timestamp with time zone,
	"run_id" text NOT NULL,
	"last_error" text NOT NULL,
	"chat_step" integer
);
--> statement-breakpoint
CREATE INDEX "slow_accounts_batch_size_idx" ON "spacerr_jobs"."slow_accounts" USING btree ("batch_size") WHERE "spacerr_jobs"."slow_accounts"."set_aside_at" IS NULL;