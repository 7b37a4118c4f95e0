-- Legal holds: an account under one is never erased and nothing it owns is deleted by any job
-- (src/db/holds.ts; read by primary key inside every deleting statement).
CREATE TABLE "spacerr_jobs"."legal_holds" (
	"user_id" text PRIMARY KEY NOT NULL,
	"reason" text NOT NULL,
	"placed_by" text,
	"since" timestamp with time zone NOT NULL,
	"until" timestamp with time zone
);
