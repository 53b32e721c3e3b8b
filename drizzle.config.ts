import { defineConfig } from 'drizzle-kit';

// One schema, one migrations folder: drizzle-kit writes it, the node host applies it at start,
// `wrangler d1 migrations apply` applies it for the Worker (wrangler.toml migrations_dir).
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/schema.ts',
  out: './migrations',
});
