// The database handle the core works with. drizzle's libSQL and D1 drivers share the async
// sqlite-core query builder; both offer `batch`, which is the only way to write several rows
// atomically on D1 (no interactive transactions there), so every multi-row write uses it.
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { BatchItem } from 'drizzle-orm/batch';
import type * as schema from './schema.ts';

export type Db = BaseSQLiteDatabase<'async', unknown, typeof schema>;

export interface Database {
  db: Db;
  /** Runs the statements atomically, in order. */
  batch(statements: readonly BatchItem<'sqlite'>[]): Promise<unknown[]>;
}

/** Wraps a drizzle database created by a host driver (libsql or d1). */
export type Statement = BatchItem<'sqlite'>;

export function wrapDatabase(db: Db & { batch(statements: unknown[]): Promise<unknown[]> }): Database {
  return { db, batch: async (statements) => (statements.length === 0 ? [] : db.batch([...statements])) };
}
