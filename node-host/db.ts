// The node host's database: libSQL (an embedded file by default, or sqld/Turso), migrated at
// start with the same migrations wrangler applies to D1.
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from '@libsql/client';
import { drizzle } from 'drizzle-orm/libsql';
import { migrate } from 'drizzle-orm/libsql/migrator';
import * as schema from '../src/db/schema.ts';
import { wrapDatabase, type Database, type Db } from '../src/db/client.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

export interface OpenedDatabase {
  database: Database;
  client: Client;
  close(): void;
}

export async function openDatabase(url: string, authToken?: string, opts: { migrate?: boolean } = {}): Promise<OpenedDatabase> {
  const client = createClient({ url, authToken });
  if (url.startsWith('file:')) {
    // WAL lets readers (downloads) proceed while the scheduler writes; FULL makes every commit
    // durable before it is acknowledged; the busy timeout lets two hosts share one file.
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA synchronous = FULL');
    await client.execute('PRAGMA busy_timeout = 10000');
  }
  await client.execute('PRAGMA foreign_keys = ON');
  const db = drizzle(client, { schema });
  if (opts.migrate !== false) await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return { database: wrapDatabase(db as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }), client, close: () => client.close() };
}
