// The node host's database: libSQL (an embedded file by default, or sqld/Turso), migrated at
// start with the same migrations wrangler applies to D1.
import { fileURLToPath } from 'node:url';
import type { Client } from '@libsql/client';
// The driver on its own, without the entry point that also loads every network client.
import { drizzle } from 'drizzle-orm/libsql/sqlite3';
import { migrate } from 'drizzle-orm/libsql/migrator';
import * as schema from '../src/db/schema.ts';
import { wrapDatabase, type Database, type Db, type Statement } from '../src/db/client.ts';
import { createEmbeddedClient } from './embedded-client.ts';

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

export interface OpenOptions {
  migrate?: boolean;
  /**
   * An embedded file only: the client the queries go through, made from the connection's own
   * (the orders thread's write batches go to the serving thread: node-host/forwarded-writes.ts).
   */
  writeThrough?: (local: Client) => Client;
}

export async function openDatabase(url: string, authToken?: string, opts: OpenOptions = {}): Promise<OpenedDatabase> {
  const file = url.startsWith('file:');
  // An embedded file has its own client, which keeps prepared statements (node-host/embedded-client.ts),
  // on one connection: SQLite calls are synchronous in this process anyway, and the connection's
  // pragmas (synchronous, busy timeout) then hold for every statement. The HTTP and WebSocket
  // clients for sqld and Turso (and the `ws` package under them) load only for a remote URL.
  const client = file ? createEmbeddedClient(url, { timeout: BUSY_TIMEOUT_MS }) : (await import('@libsql/client')).createClient({ url, authToken });
  if (file) {
    // WAL lets readers proceed while another host writes; FULL makes every commit durable before
    // it is acknowledged.
    await client.execute('PRAGMA journal_mode = WAL');
    await client.execute('PRAGMA synchronous = FULL');
  }
  await client.execute('PRAGMA foreign_keys = ON');
  const db = drizzle(withImmediateBatches(file && opts.writeThrough ? opts.writeThrough(client) : client), { schema });
  if (opts.migrate !== false) await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  const wrapped = wrapDatabase(db as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> });
  return {
    // Group commit for a file only: there a failed transaction is known to be rolled back, so its
    // batches may be run again one by one; over the network a failure may hide a commit.
    database: file ? groupCommits(wrapped) : wrapped,
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

/** Batches one group commit takes at most; the rest go into the next one at once. */
const MAX_GROUP = 64;

/**
 * Group commit: the batches asked for in the same turn of the event loop are written in one
 * transaction, so that they share one durable commit (one sync of the write-ahead log under
 * synchronous = FULL, which blocks this process for milliseconds) instead of one each. With
 * several orders and requests running, commits that would each block the process in turn share
 * one. Nothing a caller is promised changes:
 *   - a caller hears of its batch only after the commit that holds it: as durable as before;
 *   - a batch is still atomic: the group commits whole or not at all;
 *   - batches run in the order they were asked, each statement seeing the ones before it;
 *   - when the group fails, nothing of it was committed (an embedded file: a failed transaction
 *     is rolled back), and each of its batches is run again on its own, so a batch that fails
 *     fails alone, with its own error, and the others are written.
 */
export function groupCommits(database: Database): Database {
  type Waiting = { statements: Statement[]; resolve(results: unknown[]): void; reject(err: unknown): void };
  let queue: Waiting[] = [];
  const flush = async () => {
    const group = queue.splice(0, MAX_GROUP);
    if (queue.length > 0) setImmediate(() => void flush());
    if (group.length === 1) {
      const [only] = group;
      return database.batch(only.statements).then(only.resolve, only.reject);
    }
    let results: unknown[];
    try {
      results = await database.batch(group.flatMap((w) => w.statements));
    } catch {
      for (const w of group) await database.batch(w.statements).then(w.resolve, w.reject);
      return;
    }
    let at = 0;
    for (const w of group) {
      w.resolve(results.slice(at, at + w.statements.length));
      at += w.statements.length;
    }
  };
  return {
    db: database.db,
    batch(statements) {
      if (statements.length === 0) return Promise.resolve([]);
      return new Promise((resolve, reject) => {
        if (queue.length === 0) setImmediate(() => void flush());
        queue.push({ statements: [...statements], resolve, reject });
      });
    },
  };
}
