// The database handle the core works with. drizzle's libSQL and D1 drivers share the async
// sqlite-core query builder; both offer `batch`, which is the only way to write several rows
// atomically on D1 (no interactive transactions there), so every multi-row write uses it.
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import type { BaseSQLiteDatabase, SQLiteTable } from 'drizzle-orm/sqlite-core';
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

/**
 * A row's values as a selection, for `insert(table).select(…)`: an insert that happens only when
 * the select's condition holds, decided in the same statement. Every column of the table, in its
 * order, each value encoded as its column encodes it.
 */
export function literalRow<T extends SQLiteTable>(table: T, row: T['$inferInsert']): { [K in keyof T['_']['columns']]: SQL.Aliased<T['$inferSelect'][K & keyof T['$inferSelect']]> } {
  const selection: Record<string, SQL.Aliased> = {};
  for (const [key, column] of Object.entries(getTableColumns(table))) {
    const value = (row as Record<string, unknown>)[key];
    selection[key] = sql`${value === undefined ? null : sql.param(value, column)}`.as(column.name);
  }
  return selection as ReturnType<typeof literalRow<T>>;
}
