// The embedded client answers as @libsql/client's own embedded client does (the same statements
// through both, compared), keeps its statements without serving a stale one, and keeps a batch
// all-or-nothing.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, LibsqlBatchError, LibsqlError, type Client, type ResultSet } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createEmbeddedClient } from './embedded-client.ts';

let dir: string;
const clients: Client[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'embedded-client-'));
});

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  rmSync(dir, { recursive: true, force: true });
});

function open(kind: 'embedded' | 'libsql', file = 'test.db'): Client {
  const url = `file:${join(dir, file)}`;
  const client = kind === 'embedded' ? createEmbeddedClient(url, { timeout: 1000 }) : createClient({ url });
  clients.push(client);
  return client;
}

/** Everything a caller can read of a result set: names, types, rows by name and by index. */
function observe(rs: ResultSet) {
  return {
    columns: rs.columns,
    columnTypes: rs.columnTypes,
    rowsAffected: rs.rowsAffected,
    lastInsertRowid: rs.lastInsertRowid,
    rows: rs.rows.map((row) => ({
      keys: Object.keys(row),
      named: { ...row },
      indexed: Array.prototype.slice.call(row),
      length: row.length,
      json: JSON.stringify(row),
    })),
  };
}

const SCHEMA = [
  'CREATE TABLE a (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER, r REAL, b BLOB, flag INTEGER)',
  'CREATE TABLE c (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id), name TEXT)',
];

describe('the embedded client beside @libsql/client', () => {
  it('answers the same statements with the same results', async () => {
    const results: Record<string, unknown[]> = {};
    for (const kind of ['embedded', 'libsql'] as const) {
      const client = open(kind, `${kind}.db`);
      const seen: unknown[] = [];
      for (const sql of SCHEMA) seen.push(observe(await client.execute(sql)));
      seen.push(observe(await client.execute({ sql: 'INSERT INTO a (name, n, r, b, flag) VALUES (?, ?, ?, ?, ?)', args: ['one', 42, 1.5, new Uint8Array([1, 2, 3]), true] })));
      seen.push(observe(await client.execute({ sql: 'INSERT INTO a (name, n, flag) VALUES (:name, $n, @flag)', args: { name: 'two', n: Number.MAX_SAFE_INTEGER, flag: false } })));
      seen.push(observe(await client.execute({ sql: 'INSERT INTO a (name, n) VALUES (?, ?)', args: ['three', new Date(1_700_000_000_000)] })));
      seen.push(observe(await client.execute('INSERT INTO c (id, a_id, name) VALUES (7, 1, \'child\')')));
      seen.push(observe(await client.execute('SELECT * FROM a ORDER BY id')));
      // Two columns of one name (a join): the first wins the name, both keep their index.
      seen.push(observe(await client.execute('SELECT a.id, c.id, a.name, c.name AS child FROM a JOIN c ON c.a_id = a.id')));
      seen.push(observe(await client.execute('SELECT count(*) AS n, sum(r) AS total, NULL AS missing FROM a')));
      seen.push(observe(await client.execute('UPDATE a SET n = n + 1 WHERE n < 100 RETURNING id, n')));
      seen.push(observe(await client.execute('SELECT id FROM a WHERE id > 99')));
      const batch = await client.batch([{ sql: 'UPDATE a SET r = ? WHERE id = ?', args: [2.5, 2] }, 'SELECT id, r FROM a ORDER BY id'], 'write');
      seen.push(batch.map(observe));
      results[kind] = seen;
    }
    expect(results.embedded).toEqual(results.libsql);
    // The blob came back as the bytes written, in an ArrayBuffer of its own.
    const [row] = (await open('embedded', 'embedded.db').execute('SELECT b FROM a WHERE id = 1')).rows;
    expect(row.b).toBeInstanceOf(ArrayBuffer);
    expect([...new Uint8Array(row.b as ArrayBuffer)]).toEqual([1, 2, 3]);
  });

  it('refuses an integer a number cannot hold, and bad arguments, as @libsql/client does', async () => {
    for (const kind of ['embedded', 'libsql'] as const) {
      const client = open(kind, `${kind}-ints.db`);
      await client.execute('CREATE TABLE t (v INTEGER)');
      await client.execute('INSERT INTO t VALUES (9007199254740993)');
      await expect(client.execute('SELECT v FROM t'), kind).rejects.toThrow(RangeError);
      await expect(client.execute({ sql: 'SELECT ?', args: [Number.NaN] }), kind).rejects.toThrow(RangeError);
      await expect(client.execute({ sql: 'SELECT ?', args: [undefined as unknown as null] }), kind).rejects.toThrow(TypeError);
    }
  });

  it('reports SQLite errors with SQLite codes, and a failed batch by its statement, leaving nothing of it', async () => {
    for (const kind of ['embedded', 'libsql'] as const) {
      const client = open(kind, `${kind}-errors.db`);
      for (const sql of SCHEMA) await client.execute(sql);
      await client.execute("INSERT INTO a (name) VALUES ('taken')");
      const unique = await client.execute("INSERT INTO a (name) VALUES ('taken')").catch((e: unknown) => e);
      expect(unique, kind).toBeInstanceOf(LibsqlError);
      expect(unique, kind).toMatchObject({ code: 'SQLITE_CONSTRAINT', extendedCode: 'SQLITE_CONSTRAINT_UNIQUE' });
      const syntax = await client.execute('SELEKT 1').catch((e: unknown) => e);
      expect(syntax, kind).toMatchObject({ code: 'SQLITE_ERROR' });

      const failed = await client
        .batch(["INSERT INTO a (name) VALUES ('first')", "INSERT INTO c (name) VALUES ('second')", "INSERT INTO a (name) VALUES ('taken')"], 'write')
        .catch((e: unknown) => e);
      expect(failed, kind).toBeInstanceOf(LibsqlBatchError);
      expect(failed, kind).toMatchObject({ statementIndex: 2, code: 'SQLITE_CONSTRAINT' });
      const left = await client.execute("SELECT (SELECT count(*) FROM a WHERE name = 'first') + (SELECT count(*) FROM c) AS n");
      expect(left.rows[0].n, kind).toBe(0);
      // The connection is usable afterwards, outside any transaction.
      await client.batch(["INSERT INTO a (name) VALUES ('after')"], 'write');
      expect((await client.execute("SELECT count(*) AS n FROM a WHERE name = 'after'")).rows[0].n, kind).toBe(1);
    }
  });
});

describe('kept statements', () => {
  it('stay correct past the cache size, and see a changed schema after a migration', async () => {
    const client = open('embedded');
    await client.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    await client.execute("INSERT INTO t (v) VALUES ('x')");
    // More distinct texts than are kept (256), then the first again.
    for (let i = 0; i < 300; i++) {
      const rs = await client.execute(`SELECT id + ${i} AS n FROM t`);
      expect(rs.rows[0].n).toBe(1 + i);
    }
    expect((await client.execute('SELECT id + 0 AS n FROM t')).rows[0].n).toBe(1);

    expect((await client.execute('SELECT * FROM t')).columns).toEqual(['id', 'v']);
    await client.migrate([{ sql: 'ALTER TABLE t ADD COLUMN w TEXT' }, { sql: "UPDATE t SET w = 'y'" }]);
    const after = await client.execute('SELECT * FROM t');
    expect(after.columns).toEqual(['id', 'v', 'w']);
    expect({ ...after.rows[0] }).toEqual({ id: 1, v: 'x', w: 'y' });
  });

  it('are bound afresh on every run: nothing of one call leaks into the next', async () => {
    const client = open('embedded');
    await client.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    await client.batch([1, 2, 3].map((i) => ({ sql: 'INSERT INTO t (id, v) VALUES (?, ?)', args: [i, `v${i}`] })), 'write');
    const get = (id: number) => client.execute({ sql: 'SELECT v FROM t WHERE id = ?', args: [id] });
    expect((await get(2)).rows.map((r) => r.v)).toEqual(['v2']);
    expect((await get(9)).rows).toEqual([]);
    expect((await get(3)).rows.map((r) => r.v)).toEqual(['v3']);
  });
});

describe('what the embedded client does not offer', () => {
  it('says so for interactive transactions, and refuses every call once closed', async () => {
    const client = open('embedded');
    await expect(client.transaction('write')).rejects.toThrow(/batches only/);
    client.close();
    expect(client.closed).toBe(true);
    await expect(client.execute('SELECT 1')).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    await expect(client.batch(['SELECT 1'])).rejects.toMatchObject({ code: 'CLIENT_CLOSED' });
    client.close(); // twice is harmless
  });

  it('opens only file: URLs, parsed as @libsql/client parses them', () => {
    expect(() => createEmbeddedClient('libsql://db.example.com')).toThrow(LibsqlError);
    const client = createEmbeddedClient(`file:${join(dir, 'with%20space.db')}`);
    clients.push(client);
    return expect(client.execute('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
  });
});
