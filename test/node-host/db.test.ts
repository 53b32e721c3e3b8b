// The node host's libSQL file: migrated at open, WAL and synchronous=FULL (node host only; D1
// manages its own storage).
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../harness/tmp.ts';
import { readdirSync } from 'node:fs';
import { eq } from 'drizzle-orm';
import { MIGRATIONS_DIR, openDatabase } from '../../node-host/db.ts';
import { leases } from '../../src/db/schema.ts';

describe('node host database', () => {
  it('opens a libSQL file in WAL mode with synchronous=FULL and applies the migrations', async () => {
    const opened = await openDatabase(`file:${makeTempDir('db-')}/certkeep.db`);
    try {
      expect((await opened.client.execute('PRAGMA journal_mode')).rows[0][0]).toBe('wal');
      expect((await opened.client.execute('PRAGMA synchronous')).rows[0][0]).toBe(2); // FULL
      const tables = (await opened.client.execute("select name from sqlite_master where type = 'table'")).rows.map((r) => r[0]);
      for (const t of ['users', 'admin_tokens', 'acme_accounts', 'keys', 'api_keys', 'certificates', 'orders', 'order_events', 'challenges', 'settings', 'leases']) {
        expect(tables).toContain(t);
      }
    } finally {
      opened.close();
    }
  });

  it('applies the migrations once: opening again is a no-op', async () => {
    const url = `file:${makeTempDir('db-')}/certkeep.db`;
    (await openDatabase(url)).close();
    const again = await openDatabase(url);
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => f.endsWith('.sql'));
    expect((await again.client.execute('select count(*) from __drizzle_migrations')).rows[0][0]).toBe(files.length);
    again.close();
  });

  it('writes the batches asked for together in one commit, each atomic, a failing one alone', async () => {
    const opened = await openDatabase(`file:${makeTempDir('db-')}/certkeep.db`);
    try {
      const { database } = opened;
      const db = database.db;
      let commits = 0;
      const batch = opened.client.batch.bind(opened.client);
      opened.client.batch = (...args: Parameters<typeof batch>) => {
        commits++;
        return batch(...args);
      };
      const lease = (name: string) => db.insert(leases).values({ name, holder: 'h', expiresAt: 1 });
      const [a, b, c] = await Promise.all([
        database.batch([lease('a1'), lease('a2').returning({ name: leases.name })]),
        database.batch([db.update(leases).set({ holder: 'b' }).where(eq(leases.name, 'a1')).returning({ holder: leases.holder })]),
        database.batch([lease('c1').returning({ name: leases.name })]),
      ]);
      expect(commits).toBe(1);
      // Each caller gets its own statements' results, the later batch seeing the earlier one.
      expect(a).toHaveLength(2);
      expect(a[1]).toEqual([{ name: 'a2' }]);
      expect(b).toEqual([[{ holder: 'b' }]]);
      expect(c).toEqual([[{ name: 'c1' }]]);

      // A batch that fails (a2 exists) fails alone and writes nothing; the others are written.
      commits = 0;
      const results = await Promise.allSettled([
        database.batch([lease('d1')]),
        database.batch([lease('e1'), lease('a2')]),
        database.batch([lease('f1')]),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
      const names = (await db.select({ name: leases.name }).from(leases)).map((r) => r.name).sort();
      expect(names).toEqual(['a1', 'a2', 'c1', 'd1', 'f1']);
      expect(commits).toBe(4); // the group, rolled back, then each on its own
    } finally {
      opened.close();
    }
  });
});
