// The client of the embedded database (a `file:` URL): @libsql/client's `Client`, which drizzle's
// libSQL driver drives, over the same engine (the `libsql` package) with its prepared
// statements kept.
//
// @libsql/client's own embedded client (`@libsql/client/sqlite3`) prepares every statement anew,
// reads its columns twice, fetches every integer as a BigInt to turn it back into a number, and
// builds each row with a defineProperty per value: 0.13 ms for a one-row select by primary key
// here, where the engine itself takes 0.01 ms with the statement kept. Certkeep runs some forty
// statements per certificate it obtains, on the one thread that also answers every request, so
// that overhead was a tenth of the CPU of obtaining certificates in bulk (`npm run bench scale`).
//
// What a caller sees is what @libsql/client's gives, for the part of `Client` Certkeep uses:
//   - a result set's rows are objects with the columns as enumerable properties (the first of
//     two columns of one name wins) and the values at indexes 0…length-1 (not enumerable);
//   - integers are numbers, and one beyond Number.MAX_SAFE_INTEGER is an error, not a rounded
//     value (intMode "number"); text is a string, a blob an ArrayBuffer, null null;
//   - `batch` runs its statements in one transaction (BEGIN IMMEDIATE for "write") and rolls it
//     back when one fails, with a LibsqlBatchError naming the statement; SQLite's errors are
//     LibsqlErrors with SQLite's codes.
// Interactive transactions (`transaction()`) are not offered: Certkeep writes through batches
// only, as D1 has no interactive transactions (src/db/client.ts).
import Database from 'libsql';
import { LibsqlBatchError, LibsqlError, type Client, type InArgs, type InStatement, type InValue, type ResultSet, type Row, type TransactionMode } from '@libsql/core/api';
import { expandConfig } from '@libsql/core/config';
import { ResultSetImpl, transactionModeToBegin } from '@libsql/core/util';

/**
 * Prepared statements kept, the least recently used dropped first. Certkeep's statements are a
 * few hundred distinct texts (drizzle renders a query the same way each time, its values bound
 * as parameters); a text with values inlined (an IN list of varying length) takes one slot and
 * is pushed out by the statements in steady use.
 */
const STATEMENT_CACHE_SIZE = 256;

type Connection = Database.Database;
type Statement = Database.Statement;

interface Prepared {
  statement: Statement;
  /** Whether the statement returns rows (a SELECT, or a write with RETURNING). */
  reader: boolean;
  columns: string[];
  columnTypes: string[];
  /** The prototype of its rows: `length`, and each named column's value at its index. */
  rowPrototype: object;
  /** Positions whose column gives the row a property of that name (the first of each name). */
  named: number[];
  /** The other positions (a second column of one name): their value is an own index of the row. */
  unnamed: number[];
}

export interface EmbeddedClientOptions {
  /** How long a write waits for another connection's write to end (ms): SQLite's busy timeout. */
  timeout?: number;
}

/** A client of the database file named by a `file:` URL (as @libsql/client parses it). */
export function createEmbeddedClient(url: string, opts: EmbeddedClientOptions = {}): Client {
  const config = expandConfig({ url }, true);
  if (config.scheme !== 'file') throw new LibsqlError(`not a file: URL: ${JSON.stringify(url)}`, 'URL_INVALID');
  return new EmbeddedClient(new Database(config.path, { timeout: opts.timeout }));
}

class EmbeddedClient implements Client {
  closed = false;
  readonly protocol = 'file';
  readonly #db: Connection;
  readonly #statements = new Map<string, Prepared>();

  constructor(db: Connection) {
    this.#db = db;
  }

  async execute(stmtOrSql: InStatement | string, args?: InArgs): Promise<ResultSet> {
    this.#checkOpen();
    const stmt = typeof stmtOrSql === 'string' ? { sql: stmtOrSql, args } : statementOf(stmtOrSql);
    return this.#run(stmt.sql, stmt.args);
  }

  async batch(stmts: Array<InStatement | [string, InArgs?]>, mode: TransactionMode = 'deferred'): Promise<ResultSet[]> {
    this.#checkOpen();
    return this.#inTransaction(transactionModeToBegin(mode), stmts.map(statementOf));
  }

  /** drizzle's migrator: the statements in one transaction with foreign keys off (as @libsql/client does). */
  async migrate(stmts: InStatement[]): Promise<ResultSet[]> {
    this.#checkOpen();
    this.#run('PRAGMA foreign_keys=off');
    try {
      return this.#inTransaction('BEGIN DEFERRED', stmts.map(statementOf));
    } finally {
      this.#run('PRAGMA foreign_keys=on');
      // The schema changed: statements prepared before are compiled anew rather than kept.
      this.#statements.clear();
    }
  }

  async executeMultiple(sql: string): Promise<void> {
    this.#checkOpen();
    try {
      this.#db.exec(sql);
    } catch (err) {
      throw libsqlError(err);
    } finally {
      this.#statements.clear();
    }
  }

  transaction(): Promise<never> {
    return Promise.reject(new LibsqlError('the embedded client runs statements in batches only, not interactive transactions', 'TRANSACTION_UNSUPPORTED'));
  }

  sync(): Promise<never> {
    return Promise.reject(new LibsqlError('an embedded database file has nothing to sync with', 'SYNC_NOT_SUPPORTED'));
  }

  reconnect(): void {
    throw new LibsqlError('the embedded client cannot reconnect: open a new one', 'RECONNECT_UNSUPPORTED');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#statements.clear();
    this.#db.close();
  }

  #checkOpen(): void {
    if (this.closed) throw new LibsqlError('The client is closed', 'CLIENT_CLOSED');
  }

  #inTransaction(begin: string, stmts: Array<{ sql: string; args?: InArgs }>): ResultSet[] {
    this.#run(begin);
    try {
      const results = stmts.map((stmt, i) => {
        try {
          return this.#run(stmt.sql, stmt.args);
        } catch (err) {
          if (!(err instanceof LibsqlError)) throw err;
          throw new LibsqlBatchError(err.message, i, err.code, err.extendedCode, err.rawCode, err.cause instanceof Error ? err.cause : undefined);
        }
      });
      this.#run('COMMIT');
      return results;
    } catch (err) {
      // A failed COMMIT may have ended the transaction already (SQLite rolls back on some errors).
      if (this.#db.inTransaction) this.#run('ROLLBACK');
      throw err;
    }
  }

  #run(sql: string, args?: InArgs): ResultSet {
    const prepared = this.#prepared(sql);
    const bound = bindArgs(args);
    try {
      if (!prepared.reader) {
        const info = prepared.statement.run(bound);
        return new ResultSetImpl([], [], [], info.changes, BigInt(info.lastInsertRowid));
      }
      const rows = (prepared.statement.all(bound) as unknown[][]).map((values) => toRow(prepared, values));
      return new ResultSetImpl(prepared.columns, prepared.columnTypes, rows, 0, undefined);
    } catch (err) {
      throw libsqlError(err);
    }
  }

  #prepared(sql: string): Prepared {
    const kept = this.#statements.get(sql);
    if (kept) {
      // Most recently used last: Map keeps insertion order.
      this.#statements.delete(sql);
      this.#statements.set(sql, kept);
      return kept;
    }
    let statement: Statement;
    try {
      statement = this.#db.prepare(sql);
    } catch (err) {
      throw libsqlError(err);
    }
    const prepared = describe(statement);
    this.#statements.set(sql, prepared);
    if (this.#statements.size > STATEMENT_CACHE_SIZE) this.#statements.delete(this.#statements.keys().next().value!);
    return prepared;
  }
}

/** A statement in its one form: its text and its arguments (positional or named). */
function statementOf(stmt: InStatement | [string, InArgs?]): { sql: string; args?: InArgs } {
  if (Array.isArray(stmt)) return { sql: stmt[0], args: stmt[1] };
  return typeof stmt === 'string' ? { sql: stmt } : stmt;
}

function describe(statement: Statement): Prepared {
  const reader = statement.reader;
  if (!reader) return { statement, reader, columns: [], columnTypes: [], ...rowShape([]) };
  // Integers as BigInt, so that one beyond 2^53 is noticed rather than rounded (toValue).
  statement.raw(true).safeIntegers(true);
  const described: Database.ColumnDefinition[] = statement.columns();
  const columns: string[] = described.map((c) => c.name);
  return { statement, reader, columns, columnTypes: described.map((c) => c.type ?? ''), ...rowShape(columns) };
}

type RowShape = Pick<Prepared, 'rowPrototype' | 'named' | 'unnamed'> & { columns: string[] };

function rowShape(columns: string[]): Omit<RowShape, 'columns'> {
  // A name that is an index or `length` would stand for something else on a row.
  const named = columns.flatMap((name, i) => (columns.indexOf(name) === i && name !== 'length' && !/^\d+$/.test(name) ? [i] : []));
  const unnamed = columns.flatMap((_, i) => (named.includes(i) ? [] : [i]));
  // A row holds its values once, under their names; the prototype reads them by index.
  const rowPrototype = Object.create(Object.prototype, { length: { value: columns.length } }) as object;
  for (const i of named) {
    const name = columns[i];
    Object.defineProperty(rowPrototype, i, {
      get(this: Record<string, unknown>) {
        return this[name];
      },
    });
  }
  return { rowPrototype, named, unnamed };
}

function toRow(shape: RowShape, values: unknown[]): Row {
  const row = Object.create(shape.rowPrototype) as Record<string, unknown>;
  for (const i of shape.named) row[shape.columns[i]] = toValue(values[i]);
  for (const i of shape.unnamed) Object.defineProperty(row, i, { value: toValue(values[i]) });
  return row as unknown as Row;
}

/** A result set as plain values, to be passed to another thread (node-host/forwarded-writes.ts). */
export interface ResultParts {
  columns: string[];
  columnTypes: string[];
  /** Each row's values by column position. */
  rows: unknown[][];
  rowsAffected: number;
  lastInsertRowid: bigint | undefined;
}

export function resultParts(result: ResultSet): ResultParts {
  return {
    columns: result.columns,
    columnTypes: result.columnTypes,
    rows: result.rows.map((row) => result.columns.map((_, i) => row[i])),
    rowsAffected: result.rowsAffected,
    lastInsertRowid: result.lastInsertRowid,
  };
}

/** The result set `resultParts` describes, its rows shaped as this client shapes them. */
export function resultFromParts(parts: ResultParts): ResultSet {
  const shape = { columns: parts.columns, ...rowShape(parts.columns) };
  return new ResultSetImpl(parts.columns, parts.columnTypes, parts.rows.map((values) => toRow(shape, values)), parts.rowsAffected, parts.lastInsertRowid);
}

const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function toValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    if (value < MIN_SAFE || value > MAX_SAFE) throw new RangeError('Received integer which cannot be safely represented as a JavaScript number');
    return Number(value);
  }
  if (value instanceof Uint8Array) return value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength);
  return value;
}

function bindArgs(args: InArgs | undefined): unknown[] | Record<string, unknown> {
  if (args === undefined) return [];
  if (Array.isArray(args)) return args.map(toSql);
  const named: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(args)) named[/^[@$:]/.test(name) ? name.slice(1) : name] = toSql(value);
  return named;
}

function toSql(value: InValue): unknown {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new RangeError('Only finite numbers (not Infinity or NaN) can be passed as arguments');
      return value;
    case 'boolean':
      return value ? 1 : 0;
    case 'undefined':
      throw new TypeError('undefined cannot be passed as argument to the database');
    default:
      if (value instanceof Date) return value.valueOf();
      if (value instanceof ArrayBuffer) return Buffer.from(value);
      return value;
  }
}

/** SQLite's error as @libsql/client reports it: the base code, the extended code, the number. */
function libsqlError(err: unknown): unknown {
  if (!(err instanceof Database.SqliteError)) return err;
  const e = err as Error & { code: string; rawCode?: number };
  const base = e.rawCode === undefined ? 'SQLITE_UNKNOWN' : (e.code.match(/^SQLITE_[A-Z]+/)?.[0] ?? 'SQLITE_UNKNOWN');
  return new LibsqlError(e.message, base, e.code, e.rawCode, e);
}
