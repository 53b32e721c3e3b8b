// Leases: a row per piece of work, held by one host until it expires. Acquisition is one
// conditional upsert, so it is atomic on libSQL and D1 alike (no interactive transaction).
import { and, eq, lt, or } from 'drizzle-orm';
import { leases } from './schema.ts';
import type { Database } from './client.ts';

export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** Extends the lease; false when it was lost (expired and taken by another holder). */
  renew(): Promise<boolean>;
  release(): Promise<void>;
}

export async function tryAcquireLease(db: Database, name: string, holder: string, ttlMs: number, now: () => number): Promise<Lease | null> {
  const t = now();
  const rows = await db.db
    .insert(leases)
    .values({ name, holder, expiresAt: t + ttlMs })
    .onConflictDoUpdate({
      target: leases.name,
      set: { holder, expiresAt: t + ttlMs },
      where: or(lt(leases.expiresAt, t), eq(leases.holder, holder)),
    })
    .returning({ holder: leases.holder });
  if (rows.length === 0 || rows[0].holder !== holder) return null;
  return {
    name,
    holder,
    async renew() {
      const renewed = await db.db
        .update(leases)
        .set({ expiresAt: now() + ttlMs })
        .where(and(eq(leases.name, name), eq(leases.holder, holder)))
        .returning({ name: leases.name });
      return renewed.length === 1;
    },
    async release() {
      await db.db.delete(leases).where(and(eq(leases.name, name), eq(leases.holder, holder)));
    },
  };
}

export async function isLeaseHeld(db: Database, name: string, now: number): Promise<boolean> {
  const [row] = await db.db.select().from(leases).where(eq(leases.name, name)).limit(1);
  return !!row && row.expiresAt >= now;
}
