// Leases: a row per piece of work, held by one host until it expires. Acquisition is one
// conditional upsert, so it is atomic on libSQL and D1 alike (no interactive transaction). The
// writes go through `db.batch` like every other write, so that a host that groups commits
// (node-host/db.ts) lets them share one.
import { and, eq, lt, or, sql, type SQL } from 'drizzle-orm';
import { leases } from './schema.ts';
import type { Database, Statement } from './client.ts';

export interface Lease {
  readonly name: string;
  readonly holder: string;
  /** Extends the lease; false when it was lost (expired and taken by another holder). */
  renew(): Promise<boolean>;
  release(): Promise<void>;
  /**
   * Extends the lease and runs the statements in the same batch (one commit instead of two);
   * `held` is a condition for them to put in their WHERE, true only when the lease was extended,
   * so that a host that lost the lease writes nothing. False when it was lost.
   */
  renewWith(statements: (held: SQL) => readonly Statement[]): Promise<boolean>;
  /**
   * Runs these statements and releases the lease in the same batch (one commit where the work
   * ends, instead of two); release() then has nothing left to do.
   */
  releaseWith(statements: readonly Statement[]): Promise<unknown[]>;
}

export async function tryAcquireLease(db: Database, name: string, holder: string, ttlMs: number, now: () => number): Promise<Lease | null> {
  const t = now();
  const [rows] = (await db.batch([
    db.db
      .insert(leases)
      .values({ name, holder, expiresAt: t + ttlMs })
      .onConflictDoUpdate({
        target: leases.name,
        set: { holder, expiresAt: t + ttlMs },
        where: or(lt(leases.expiresAt, t), eq(leases.holder, holder)),
      })
      .returning({ holder: leases.holder }),
  ])) as [Array<{ holder: string }>];
  if (rows.length === 0 || rows[0].holder !== holder) return null;
  const releaseStatement = () => db.db.delete(leases).where(and(eq(leases.name, name), eq(leases.holder, holder)));
  let released = false;
  const renewWith: Lease['renewWith'] = async (statements) => {
    const held = sql`exists (select 1 from ${leases} where ${leases.name} = ${name} and ${leases.holder} = ${holder})`;
    const [renewed] = (await db.batch([
      db.db
        .update(leases)
        .set({ expiresAt: now() + ttlMs })
        .where(and(eq(leases.name, name), eq(leases.holder, holder)))
        .returning({ name: leases.name }),
      ...statements(held),
    ])) as [Array<{ name: string }>];
    return renewed.length === 1;
  };
  return {
    name,
    holder,
    renew: () => renewWith(() => []),
    renewWith,
    async release() {
      if (released) return;
      await db.batch([releaseStatement()]);
      released = true;
    },
    async releaseWith(statements) {
      const results = await db.batch([...statements, releaseStatement()]);
      released = true;
      return results.slice(0, statements.length);
    },
  };
}

export async function isLeaseHeld(db: Database, name: string, now: number): Promise<boolean> {
  const [row] = await db.db.select().from(leases).where(eq(leases.name, name)).limit(1);
  return !!row && row.expiresAt >= now;
}
