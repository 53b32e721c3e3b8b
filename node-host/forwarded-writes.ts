// The orders thread's write transactions, committed by the serving thread's connection.
//
// Every write batch ends in a commit, and under `synchronous = FULL` a commit waits for the
// write-ahead log to reach the disk: about 1.2 ms here, during which a thread can do nothing
// else, since SQLite's calls are synchronous. The orders thread is the busy one while orders run
// (bench scale: the serving thread was idle more than half of the time), and its commits held it
// for about a tenth of its time. So its write batches go to the serving thread, which runs each
// as one transaction on its own connection and sends back the results; the orders thread goes on
// with its other orders meanwhile. Reads stay on the orders thread's own connection: a read after
// a write sees it, since the write's reply comes only after its commit.
//
// Nothing a caller is promised changes: a batch is one transaction, committed before its caller
// hears of it, and rolled back whole when a statement fails, with the same LibsqlError (or
// LibsqlBatchError naming the statement). Batches are run in the order they were sent. One
// connection now writes for both threads, so they no longer wait for each other's write lock.
import type { MessagePort } from 'node:worker_threads';
import { LibsqlBatchError, LibsqlError, type Client, type InArgs, type InStatement, type ResultSet, type TransactionMode } from '@libsql/core/api';
import { resultFromParts, resultParts, type ResultParts } from './embedded-client.ts';

export interface WriteRequest {
  kind: 'write';
  id: number;
  statements: Array<{ sql: string; args?: InArgs }>;
  mode?: TransactionMode;
}

export interface WriteReply {
  kind: 'written';
  id: number;
  results?: ResultParts[];
  error?: { message: string; code?: string; extendedCode?: string; rawCode?: number; statementIndex?: number };
}

/** Serving thread: runs one forwarded batch on its connection, and says how it went. */
export async function runForwardedWrite(client: Client, request: WriteRequest): Promise<WriteReply> {
  try {
    const results = await client.batch(request.statements, request.mode);
    return { kind: 'written', id: request.id, results: results.map(resultParts) };
  } catch (err) {
    if (!(err instanceof LibsqlError)) return { kind: 'written', id: request.id, error: { message: err instanceof Error ? err.message : String(err) } };
    const prefix = `${err.code}: `;
    return {
      kind: 'written',
      id: request.id,
      error: {
        message: err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message,
        code: err.code,
        extendedCode: err.extendedCode,
        rawCode: err.rawCode,
        statementIndex: err instanceof LibsqlBatchError ? err.statementIndex : undefined,
      },
    };
  }
}

/**
 * Orders thread: `local` for everything but write batches ("write" mode, as node-host/db.ts asks
 * for every batch), which go through `port` to the serving thread.
 */
export function forwardingClient(local: Client, port: Pick<MessagePort, 'postMessage'>): { client: Client; receive(reply: WriteReply): void } {
  let nextId = 0;
  const waiting = new Map<number, { resolve(results: ResultSet[]): void; reject(err: unknown): void }>();
  const client: Client = new Proxy(local, {
    get(target, prop, receiver) {
      if (prop === 'batch') {
        return (stmts: Array<InStatement | [string, InArgs?]>, mode?: TransactionMode) => {
          if (mode !== 'write') return target.batch(stmts, mode);
          const id = nextId++;
          const statements = stmts.map((s) => (Array.isArray(s) ? { sql: s[0], args: s[1] } : typeof s === 'string' ? { sql: s } : { sql: s.sql, args: s.args }));
          return new Promise<ResultSet[]>((resolve, reject) => {
            waiting.set(id, { resolve, reject });
            port.postMessage({ kind: 'write', id, statements, mode } satisfies WriteRequest);
          });
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    client,
    receive(reply) {
      const pending = waiting.get(reply.id);
      if (!pending) return;
      waiting.delete(reply.id);
      if (reply.results) return pending.resolve(reply.results.map(resultFromParts));
      const e = reply.error!;
      pending.reject(
        e.statementIndex !== undefined
          ? new LibsqlBatchError(e.message, e.statementIndex, e.code ?? 'SQLITE_UNKNOWN', e.extendedCode, e.rawCode)
          : e.code !== undefined
            ? new LibsqlError(e.message, e.code, e.extendedCode, e.rawCode)
            : new Error(e.message),
      );
    },
  };
}
