// The node host's libSQL file: migrated at open, WAL and synchronous=FULL (node host only; D1
// manages its own storage).
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../harness/tmp.ts';
import { readdirSync } from 'node:fs';
import { MIGRATIONS_DIR, openDatabase } from '../../node-host/db.ts';

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
});
