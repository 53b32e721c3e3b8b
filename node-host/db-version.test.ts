import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type Client } from '@libsql/client';
import { afterEach, describe, expect, it } from 'vitest';
import { databaseFilePath, QUIET_MS, walVersion } from './db-version.ts';

describe('databaseFilePath', () => {
  it.each([
    ['file:/var/lib/certkeep/certkeep.db', '/var/lib/certkeep/certkeep.db'],
    ['file:data/certkeep.db', 'data/certkeep.db'],
    ['file:./data/certkeep.db', './data/certkeep.db'],
    ['file:///srv/ck.db', '/srv/ck.db'],
    ['file:/srv/my%20db.db?mode=rwc', '/srv/my db.db'],
  ])('%s is the file %s', (url, path) => {
    expect(databaseFilePath(url)).toBe(path);
  });

  it.each(['libsql://db.example.com', 'http://127.0.0.1:8080', 'https://x.turso.io', 'file://otherhost/db', 'file:', 'file::memory:', 'file:/bad%zz'])(
    '%s names no local file',
    (url) => {
      expect(databaseFilePath(url)).toBeUndefined();
    },
  );
});

describe('walVersion', () => {
  const dirs: string[] = [];
  const clients: Client[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  async function open(path: string): Promise<Client> {
    const client = createClient({ url: `file:${path}` });
    clients.push(client);
    await client.execute('PRAGMA journal_mode = WAL');
    return client;
  }

  async function database() {
    const dir = mkdtempSync(join(tmpdir(), 'db-version-'));
    dirs.push(dir);
    const path = join(dir, 'certkeep.db');
    const writer = await open(path);
    await writer.execute('create table t (v text)');
    return { path, writer };
  }

  // Past the quiet period of the last write, whenever the test runs.
  const later = () => Date.now() + 10 * QUIET_MS;

  it('gives the same token while nothing is written', async () => {
    const { path } = await database();
    const version = walVersion(path, later);
    const first = version();
    expect(first).toEqual(expect.any(String));
    expect(version()).toBe(first);
    expect(version()).toBe(first);
  });

  it('changes with a write by another connection (as another process would make it)', async () => {
    const { path } = await database();
    const other = await open(path);
    const version = walVersion(path, later);
    const before = version();
    await other.execute({ sql: 'insert into t (v) values (?)', args: ['x'] });
    const after = version();
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
    expect(version()).toBe(after);
  });

  it('changes with every write, even ones that leave the log the same size', async () => {
    const { path, writer } = await database();
    const version = walVersion(path, later);
    const seen = new Set([version()]);
    for (let i = 0; i < 5; i++) {
      // A checkpoint that truncates makes later writes reuse the same log offsets.
      await writer.execute('PRAGMA wal_checkpoint(TRUNCATE)');
      await new Promise((r) => setTimeout(r, QUIET_MS + 20));
      await writer.execute({ sql: 'insert into t (v) values (?)', args: ['y'] });
      seen.add(version());
    }
    expect(seen.size).toBe(6);
  });

  it('cannot tell during the quiet period after a write', async () => {
    const { path, writer } = await database();
    const version = walVersion(path);
    await writer.execute({ sql: 'insert into t (v) values (?)', args: ['z'] });
    expect(version()).toBeNull();
    await new Promise((r) => setTimeout(r, QUIET_MS + 30));
    expect(version()).toEqual(expect.any(String));
  });

  it('cannot tell without a write-ahead log, and follows a log made anew', () => {
    // Plain files stand in for the log here: SQLite removes it when the last connection closes.
    const dir = mkdtempSync(join(tmpdir(), 'db-version-'));
    dirs.push(dir);
    const path = join(dir, 'certkeep.db');
    const version = walVersion(path, later);
    expect(version()).toBeNull();
    writeFileSync(`${path}-wal`, 'first log');
    const before = version();
    expect(before).toEqual(expect.any(String));
    rmSync(`${path}-wal`);
    expect(version()).toBeNull();
    writeFileSync(`${path}-wal`, 'first log');
    const after = version();
    expect(after).toEqual(expect.any(String));
    expect(after).not.toBe(before);
  });
});
