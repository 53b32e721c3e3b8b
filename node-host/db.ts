// The node host's database: libSQL (an embedded file by default, or sqld/Turso), migrated at
// start with the same migrations wrangler applies to D1.
import { fileURLToPath } from 'node:url';
import type { Client } from '@libsql/client';
// The driver on its own, without the entry point that also loads every network client.
import { drizzle } from 'drizzle-orm/libsql/sqlite3';
import { migrate } from 'drizzle-orm/libsql/migrator';
import * as schema from '../src/db/schema.ts';
import { wrapDatabase, type Database, type Db } from '../src/db/client.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

/** How long a write waits for another process's write to finish (two hosts on one file). */
const BUSY_TIMEOUT_MS = 10_000;

export interface OpenedDatabase {
  database: Database;
  client: Client;
  /**
   * Moves everything in the write-ahead log into the database file and empties the log (an
   * embedded file; a no-op for a remote server), so that the file alone holds every commit.
   */
  checkpoint(): Promise<void>;
  close(): void;
}

export async function openDatabase(url: string, authToken?: string, opts: { migrate?: boolean } = {}): Promise<OpenedDatabase> {
  const file = url.startsWith('file:');
  // An embedded file needs the SQLite engine alone; the HTTP and WebSocket clients for sqld and
  // Turso (and the `ws` package under them) load only for a remote URL.
  const { createClient } = file ? await import('@libsql/client/sqlite3') : await import('@libsql/client');
  // One connection for a file: SQLite calls are synchronous in this process anyway, and the
  // connection's pragmas (synchronous, busy timeout) then hold for every statement.
  const client = createClient({ url, authToken, ...(file ? { concurrency: 1, timeout: BUSY_TIMEOUT_MS } : {}) });
  if (file) {
    // WAL lets readers proceed while another host writes; FULL makes every commit durable before
    // it is acknowledged.
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA synchronous = FULL');
  }
  await client.execute('PRAGMA foreign_keys = ON');
  const db = drizzle(withImmediateBatches(client), { schema });
  if (opts.migrate !== false) await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return {
    database: wrapDatabase(db as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }),
    client,
    async checkpoint() {
      if (file) await client.execute('PRAGMA wal_checkpoint(TRUNCATE)');
    },
    close: () => client.close(),
  };
}

/**
 * Batches are write transactions: begin them IMMEDIATE so that, with another host writing, they
 * wait for the lock (busy timeout) instead of failing when a deferred transaction has to upgrade
 * from reading to writing.
 */
function withImmediateBatches(client: Client): Client {
  return new Proxy(client, {
    get(target, prop, receiver) {
      if (prop === 'batch') return (stmts: Parameters<Client['batch']>[0], mode?: Parameters<Client['batch']>[1]) => target.batch(stmts, mode ?? 'write');
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
