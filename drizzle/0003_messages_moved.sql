-- Moving a message between chats keeps spacerr_jobs.empty_chats true: the trigger this migration
-- once created is now generated from the app map with the others (src/app-map/triggers.ts,
-- "message_updated"), and `npm run db:migrate` installs it. Kept so the journal's order stays.
SELECT 1;
