// Leases on a libSQL file: the writes that ride on a lease's own batch (renewWith, releaseWith).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { makeTempDir } from '../../test/harness/tmp.ts';
import { openDatabase, type OpenedDatabase } from '../../node-host/db.ts';
import { tryAcquireLease } from './lease.ts';
import { leases, orderEvents } from './schema.ts';

let opened: OpenedDatabase;
beforeAll(async () => {
  opened = await openDatabase(`file:${makeTempDir('lease-')}/certkeep.db`);
});
afterAll(() => opened?.close());

describe('leases', () => {
  it('writes what renewWith carries only while the lease is held, and releaseWith frees it in the same batch', async () => {
    const { database } = opened;
    const db = database.db;
    let t = 1_000;
    const now = () => t;
    const line = (message: string) => (held: ReturnType<typeof sql>) => [
      db.insert(orderEvents).select(sql`select null as id, 'o1' as order_id, ${t} as at, 'info' as level, ${message} as message where ${held}`),
    ];
    const messages = async () => (await db.select({ m: orderEvents.message }).from(orderEvents).where(eq(orderEvents.orderId, 'o1'))).map((r) => r.m);

    const a = (await tryAcquireLease(database, 'certificate:x', 'host-a', 100, now))!;
    expect(await a.renewWith(line('while held'))).toBe(true);
    expect(await messages()).toEqual(['while held']);

    // A's lease runs out and B takes it: A's renewal fails and writes nothing.
    t += 1_000;
    const b = (await tryAcquireLease(database, 'certificate:x', 'host-b', 100, now))!;
    expect(b).not.toBeNull();
    expect(await a.renewWith(line('after losing it'))).toBe(false);
    expect(await messages()).toEqual(['while held']);

    // B ends its work and frees the lease in one batch; release() then has nothing to do.
    await b.releaseWith([db.insert(orderEvents).values({ orderId: 'o1', at: t, level: 'info', message: 'done' })]);
    expect(await messages()).toEqual(['while held', 'done']);
    expect(await db.select().from(leases).where(eq(leases.name, 'certificate:x'))).toEqual([]);
    await b.release();
    expect(await tryAcquireLease(database, 'certificate:x', 'host-c', 100, now)).not.toBeNull();
  });
});
