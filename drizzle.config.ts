import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema.ts',
  out: './drizzle',
  // Everything the Worker owns is in its own schema, its migration journal included; the app's
  // schema (public, Prisma's) is never introspected or pushed to.
  schemaFilter: ['spacerr_jobs'],
  migrations: { schema: 'spacerr_jobs', table: '__drizzle_migrations' },
  dbCredentials: { url: process.env.DATABASE_URL ?? '' },
});
