// Backups of a node host at work: `certkeep backup` runs while a writer creates keys and
// certificates (issued by Pebble) through the API, several times; every backup restores to a
// database that passes SQLite's integrity check, and a node host started on it serves exactly
// what the original served for the same API keys — for everything the snapshot holds.
//
// And the previous release: test/fixtures/backup/previous-release.ckbackup was written by the
// code of the day it was made (schema in its header); it must restore, migrated forward to
// today's schema, and serve the same certificate and key. To write it again (only when the
// format changes on purpose): CERTKEEP_TEST_WRITE_FIXTURES=1 npx vitest run test/node-host/backup-live.test.ts
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { runCli, startNodeHost, type NodeHostUnderTest } from '../harness/hosts.ts';
import { startWorld, waitUntilValid, type World } from '../harness/world.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { knownMigrations } from '../../node-host/backup/database.ts';

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/backup/', import.meta.url));
const NO_SCHEDULE = { CERTKEEP_BACKUP_HOURS: '0' };
const envFor = (dataDir: string, extra: Record<string, string> = {}) => ({ CERTKEEP_DATA_DIR: dataDir, CERTKEEP_LOG_LEVEL: 'warn', ...extra });
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Made {
  kind: 'key' | 'certificate';
  name: string;
  apiKey: string;
}

async function served(baseUrl: string, item: Made): Promise<{ status: number; text: string }> {
  const res = await fetch(`${baseUrl}/api/${item.kind}/${item.name}`, { headers: { apikey: item.apiKey } });
  return { status: res.status, text: await res.text() };
}

async function query(dataDir: string, sql: string, ...args: string[]): Promise<Record<string, unknown>[]> {
  const client = createClient({ url: `file:${join(dataDir, 'certkeep.db')}` });
  try {
    return (await client.execute({ sql, args })).rows.map((r) => ({ ...r }));
  } finally {
    client.close();
  }
}

describePebble('backups while the server works', () => {
  let world: World;
  let host: NodeHostUnderTest;
  let passphraseFile: string;

  beforeAll(async () => {
    world = await startWorld('node', { host: { env: NO_SCHEDULE } });
    host = world.host as NodeHostUnderTest;
    passphraseFile = join(makeTempDir('pp-'), 'passphrase');
    writeFileSync(passphraseFile, 'a passphrase for this test only\n');
  });
  afterAll(async () => world?.stop());

  // First, so that the fixture holds nothing but its own certificate and key.
  if (process.env.CERTKEEP_TEST_WRITE_FIXTURES) {
    it('writes the previous-release fixture', async () => {
      const cert = await world.api.post('/api/v1/certificates', { name: 'fixture', domains: [world.domain('fixture')] });
      expect(cert.status).toBe(201);
      expect((await world.api.post('/api/v1/certificates/fixture/issue?wait=true')).status).toBe(200);
      const items: Made[] = [
        { kind: 'certificate', name: 'fixture', apiKey: cert.body.apiKeys[0] },
        { kind: 'key', name: 'fixture', apiKey: cert.body.key.apiKeys[1] },
      ];
      const passphrase = 'previous release fixture: a throwaway database, no secret of value';
      const file = join(FIXTURE_DIR, 'previous-release.ckbackup');
      mkdirSync(FIXTURE_DIR, { recursive: true });
      const fixturePassphrase = join(makeTempDir('pp-'), 'passphrase');
      writeFileSync(fixturePassphrase, passphrase);
      const res = await host.cli(['backup', file, '--passphrase-file', fixturePassphrase, '--include-master-key'], { CERTKEEP_LOG_LEVEL: 'warn' });
      expect(res.code, res.stderr).toBe(0);
      const expected = [];
      for (const item of items) {
        const got = await served(host.baseUrl, item);
        expect(got.status).toBe(200);
        expected.push({ ...item, sha256: sha256(got.text) });
      }
      writeFileSync(join(FIXTURE_DIR, 'previous-release.json'), JSON.stringify({ passphrase, written: new Date().toISOString(), schema: knownMigrations().at(-1)!.tag, items: expected }, null, 2) + '\n');
    });
  }

  it('restores every backup taken under continuous writes to a sound database that serves the same certificates and keys', async () => {
    const made: Made[] = [];
    let writing = true;
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const key = await world.api.post('/api/v1/keys', { name: `k${i}`, type: 'ec-p256' });
        if (key.status !== 201) throw new Error(`key: ${key.status} ${key.text}`);
        made.push({ kind: 'key', name: `k${i}`, apiKey: key.body.apiKeys[0] });
        if (i % 2 === 1) continue;
        const cert = await world.api.post('/api/v1/certificates', { name: `c${i}`, domains: [world.domain()] });
        if (cert.status !== 201) throw new Error(`certificate: ${cert.status} ${cert.text}`);
        made.push({ kind: 'certificate', name: `c${i}`, apiKey: cert.body.apiKeys[0] }, { kind: 'key', name: `c${i}`, apiKey: cert.body.key.apiKeys[0] });
        // Obtained by the scheduler, not forced with `issue?wait=true`: that places a second order
        // when the first has ended, and a backup between the two holds a certificate no longer served.
        await waitUntilValid(world, [`c${i}`], 60_000);
      }
    })();
    const until = async (n: number) => {
      while (made.length < n) await Promise.race([writer, new Promise((r) => setTimeout(r, 50))]);
    };

    const backups: Array<{ file: string; encrypted: boolean }> = [];
    try {
      for (const encrypted of [false, true, false]) {
        await until(made.length + 3);
        const before = made.length;
        const file = join(makeTempDir('bk-'), 'live.ckbackup');
        const res = await host.cli(['backup', file, ...(encrypted ? ['--passphrase-file', passphraseFile, '--include-master-key'] : [])], { CERTKEEP_LOG_LEVEL: 'warn' });
        expect(res.code, res.stderr).toBe(0);
        backups.push({ file, encrypted });
        // The writer went on while the backup ran: it is a backup of a database being written.
        await until(before + 1);
      }
    } finally {
      writing = false;
      await writer;
    }

    // Each certificate was ordered once: the scheduler never ran one again behind its own order.
    const twice = await query(host.dataDir, 'SELECT c.name, count(*) AS n FROM orders o JOIN certificates c ON c.id = o.certificate_id GROUP BY c.id HAVING n > 1');
    expect(twice, 'certificates ordered more than once').toEqual([]);

    const expected = new Map<Made, { status: number; text: string }>();
    for (const item of made) expected.set(item, await served(host.baseUrl, item));

    let previousKeys = 0;
    for (const [index, { file, encrypted }] of backups.entries()) {
      const target = join(makeTempDir('restore-'), 'data');
      if (!encrypted) {
        mkdirSync(target, { mode: 0o700 });
        copyFileSync(join(host.dataDir, 'master.key'), join(target, 'master.key'));
      }
      const res = await runCli(['restore', file, ...(encrypted ? ['--passphrase-file', passphraseFile] : [])], envFor(target));
      expect(res.code, res.stderr).toBe(0);
      expect(await query(target, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
      const [{ n }] = await query(target, 'SELECT count(*) AS n FROM keys');
      expect(Number(n), `backup ${index}`).toBeGreaterThanOrEqual(Math.max(previousKeys, 1));
      previousKeys = Number(n);
      if (index === 0) continue; // the other two are served, the encrypted one among them

      const restored = await startNodeHost({ dataDir: target, env: NO_SCHEDULE });
      try {
        let certificatesServed = 0;
        for (const item of made) {
          const table = item.kind === 'key' ? 'keys' : 'certificates';
          const rows = await query(target, `SELECT ${item.kind === 'key' ? '1' : 'pem'} AS x FROM ${table} WHERE name = ?`, item.name);
          const got = await served(restored.baseUrl, item);
          if (rows.length === 0) {
            // Unknown API key: 401, or 429 once this address has presented more than 20 of them.
            expect([401, 429], `${item.kind} ${item.name} is not in backup ${index}`).toContain(got.status);
          } else if (item.kind === 'certificate' && rows[0].x === null) {
            expect(got.status, `certificate ${item.name} was not issued yet in backup ${index}`).toBe(404);
          } else {
            expect(got, `${item.kind} ${item.name} from backup ${index}`).toEqual(expected.get(item));
            if (item.kind === 'certificate') certificatesServed++;
          }
        }
        expect(certificatesServed, `issued certificates in backup ${index}`).toBeGreaterThan(0);
      } finally {
        await restored.stop();
      }
    }
  });

});

describe("the previous release's backup", () => {
  it('restores, migrated forward to this schema, and serves the same certificate and key', async () => {
    const fixture = JSON.parse(readFileSync(join(FIXTURE_DIR, 'previous-release.json'), 'utf8')) as {
      passphrase: string;
      schema: string;
      items: Array<Made & { sha256: string }>;
    };
    const passphraseFile = join(makeTempDir('pp-'), 'passphrase');
    writeFileSync(passphraseFile, fixture.passphrase);
    const target = join(makeTempDir('restore-'), 'data');
    const res = await runCli(['restore', join(FIXTURE_DIR, 'previous-release.ckbackup'), '--passphrase-file', passphraseFile], envFor(target));
    expect(res.code, res.stderr).toBe(0);
    // Migrated forward by exactly the migrations added since the fixture was written.
    const known = knownMigrations();
    const newer = known.slice(known.findIndex((m) => m.tag === fixture.schema) + 1).map((m) => m.tag);
    expect(res.stdout).toContain(newer.length > 0 ? `migrated forward: ${newer.join(', ')}` : 'schema: current, nothing to migrate');
    expect(res.stdout).toContain('master key: written from the backup');
    expect(await query(target, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    expect(await query(target, 'SELECT count(*) AS n FROM __drizzle_migrations')).toEqual([{ n: known.length }]);

    const restored = await startNodeHost({ dataDir: target, env: NO_SCHEDULE });
    try {
      for (const item of fixture.items) {
        const got = await served(restored.baseUrl, item);
        expect(got.status, `${item.kind} ${item.name}`).toBe(200);
        expect(sha256(got.text), `${item.kind} ${item.name}`).toBe(item.sha256);
      }
    } finally {
      await restored.stop();
    }
  });
});
