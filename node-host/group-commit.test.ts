// The node host's group commit (node-host/db.ts), through drizzle on a real libSQL file: the
// batches asked for in one turn share one transaction, and each caller still gets its own results
// or its own error, in order.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/libsql/sqlite3';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { LibsqlBatchError, type Client } from '@libsql/core/api';
import { createEmbeddedClient } from './embedded-client.ts';
import { groupCommits } from './db.ts';
import { wrapDatabase, type Database, type Db } from '../src/db/client.ts';
import { makeTempDir } from '../test/harness/tmp.ts';

const t = sqliteTable('t', { id: integer('id').primaryKey(), v: text('v').notNull().unique() });

describe('group commit', () => {
  let raw: Client;
  let transactions: number;
  let database: Database;

  beforeEach(async () => {
    raw = createEmbeddedClient(`file:${makeTempDir('group-')}/g.db`);
    await raw.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
    transactions = 0;
    // Counts the transactions asked of the client (drizzle's batch is one client batch).
    const counting = new Proxy(raw, {
      get(target, prop, receiver) {
        if (prop === 'batch') return (...args: Parameters<Client['batch']>) => (transactions++, target.batch(args[0], 'write'));
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    database = groupCommits(wrapDatabase(drizzle(counting) as unknown as Db & { batch(s: unknown[]): Promise<unknown[]> }));
  });
  afterEach(() => raw.close());

  const values = async () => (await raw.execute('SELECT v FROM t ORDER BY id')).rows.map((r) => r.v);
  const insert = (v: string) => database.db.insert(t).values({ v });

  it('writes the batches of one turn in one transaction, and answers each with its own results', async () => {
    const count = database.db.select({ n: sql<number>`count(*)` }).from(t);
    const [a, b, c] = (await Promise.all([
      database.batch([insert('a').returning({ id: t.id })]),
      database.batch([insert('b'), count]),
      database.batch([database.db.select({ v: t.v }).from(t).orderBy(t.id)]),
    ])) as [[Array<{ id: number }>], [unknown, Array<{ n: number }>], [Array<{ v: string }>]];
    expect(transactions).toBe(1);
    expect(a[0]).toEqual([{ id: 1 }]);
    // Each statement sees the ones asked before it.
    expect(b[1]).toEqual([{ n: 2 }]);
    expect(c[0]).toEqual([{ v: 'a' }, { v: 'b' }]);
    // A batch asked later is the next transaction.
    await database.batch([database.db.update(t).set({ v: 'A' }).where(eq(t.v, 'a'))]);
    expect(transactions).toBe(2);
    expect(await values()).toEqual(['A', 'b']);
  });

  it('when one batch fails, it fails alone with its own error, and the others are written in order', async () => {
    await raw.execute({ sql: 'INSERT INTO t (v) VALUES (?)', args: ['taken'] });
    const outcomes = await Promise.allSettled([
      database.batch([insert('first')]),
      database.batch([insert('second'), insert('taken')]),
      database.batch([insert('third')]),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const err = (outcomes[1] as PromiseRejectedResult).reason;
    expect(err).toBeInstanceOf(LibsqlBatchError);
    // The statement's index within its own batch, not within the group.
    expect((err as LibsqlBatchError).statementIndex).toBe(1);
    // The failed batch left nothing, not even its first statement.
    expect(await values()).toEqual(['taken', 'first', 'third']);
    // The group, then each batch alone.
    expect(transactions).toBe(4);
  });

  it('asks nothing of the database for an empty batch', async () => {
    expect(await database.batch([])).toEqual([]);
    expect(transactions).toBe(0);
  });
});
