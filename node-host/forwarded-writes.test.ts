// The orders thread's write batches committed by another connection (forwarded-writes.ts), over a
// real MessageChannel and two connections to one libSQL file: results, errors and reads as the
// local client gives them.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MessageChannel } from 'node:worker_threads';
import { eq, sql } from 'drizzle-orm';
import { LibsqlBatchError } from '@libsql/core/api';
import { openDatabase, type OpenedDatabase } from './db.ts';
import { forwardingClient, runForwardedWrite, type WriteReply, type WriteRequest } from './forwarded-writes.ts';
import { leases, settings } from '../src/db/schema.ts';
import { makeTempDir } from '../test/harness/tmp.ts';

describe('forwarded write batches', () => {
  let serving: OpenedDatabase;
  let orders: OpenedDatabase;
  let channel: MessageChannel;
  let forwarded: number;

  beforeEach(async () => {
    const url = `file:${makeTempDir('forwarded-')}/certkeep.db`;
    serving = await openDatabase(url);
    channel = new MessageChannel();
    forwarded = 0;
    // The serving side: each request run on its connection, answered in order.
    channel.port1.on('message', (request: WriteRequest) => {
      forwarded++;
      void runForwardedWrite(serving.client, request).then((reply) => channel.port1.postMessage(reply));
    });
    let receive: ((reply: WriteReply) => void) | undefined;
    orders = await openDatabase(url, undefined, {
      migrate: false,
      writeThrough: (local) => {
        const forwarding = forwardingClient(local, channel.port2);
        receive = forwarding.receive;
        return forwarding.client;
      },
    });
    channel.port2.on('message', (reply: WriteReply) => receive!(reply));
  });
  afterEach(() => {
    channel.port1.close();
    orders.close();
    serving.close();
  });

  it('commits a batch through the other connection and returns its rows as the local client would', async () => {
    const [inserted, updated] = (await orders.database.batch([
      orders.database.db.insert(leases).values({ name: 'a', holder: 'h1', expiresAt: 10 }).returning({ name: leases.name, expiresAt: leases.expiresAt }),
      orders.database.db.update(leases).set({ expiresAt: 20 }).where(eq(leases.name, 'a')).returning(),
    ])) as [Array<{ name: string; expiresAt: number }>, Array<typeof leases.$inferSelect>];
    expect(forwarded).toBe(1);
    expect(inserted).toEqual([{ name: 'a', expiresAt: 10 }]);
    expect(updated).toEqual([{ name: 'a', holder: 'h1', expiresAt: 20 }]);
    // Committed: both connections read it; reads are not forwarded.
    expect(await orders.database.db.select().from(leases)).toEqual([{ name: 'a', holder: 'h1', expiresAt: 20 }]);
    expect(await serving.database.db.select().from(leases)).toEqual([{ name: 'a', holder: 'h1', expiresAt: 20 }]);
    const [[row]] = (await orders.database.batch([orders.database.db.select({ n: sql<number>`count(*)` }).from(leases)])) as [[{ n: number }]];
    expect(row.n).toBe(1);
    expect(forwarded).toBe(2); // a batch is a write transaction, whatever it holds
  });

  it('rolls back a batch whose statement fails and reports that statement, as LibsqlBatchError', async () => {
    await orders.database.batch([orders.database.db.insert(settings).values({ key: 'k', value: '1', updatedAt: 1 })]);
    const failing = orders.database.batch([
      orders.database.db.update(settings).set({ value: '2' }).where(eq(settings.key, 'k')),
      orders.database.db.insert(settings).values({ key: 'k', value: '3', updatedAt: 1 }),
    ]);
    const err = await failing.then(
      () => undefined,
      (e: unknown) => e,
    );
    // The node host's group commit runs a failed batch again alone; either way the error is the statement's.
    expect(err).toBeInstanceOf(Error);
    const cause = err instanceof LibsqlBatchError ? err : ((err as Error).cause as LibsqlBatchError | undefined);
    expect(cause).toBeInstanceOf(LibsqlBatchError);
    expect(cause!.statementIndex).toBe(1);
    expect(cause!.code).toBe('SQLITE_CONSTRAINT');
    expect(cause!.message).toMatch(/^SQLITE_CONSTRAINT: .*UNIQUE/);
    expect(await orders.database.db.select({ value: settings.value }).from(settings)).toEqual([{ value: '1' }]);
  });

  it('keeps the order in which batches were sent', async () => {
    const writes = Array.from({ length: 20 }, (_, i) => orders.database.batch([orders.database.db.insert(leases).values({ name: 'seq', holder: `h${i}`, expiresAt: i }).onConflictDoUpdate({ target: leases.name, set: { holder: `h${i}`, expiresAt: i } })]));
    await Promise.all(writes);
    expect(await serving.database.db.select({ holder: leases.holder }).from(leases)).toEqual([{ holder: 'h19' }]);
  });
});
