// `certkeep backup` and `certkeep restore` as an operator runs them, against a node host that
// keeps running: round trips that serve the same keys with the same API keys afterwards, and
// every refusal — one line on stderr, exit 1, nothing written. No CA is needed here: keys are
// made through the admin API. Backups taken while certificates are being issued, and the
// restore of the previous release's backup, are in backup-live.test.ts.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { createClient } from '@libsql/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startNodeHost, type NodeHostUnderTest } from '../harness/hosts.ts';
import { setUpDataDir } from '../harness/installation.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { MIGRATIONS_DIR } from '../../node-host/db.ts';
import { knownMigrations } from '../../node-host/backup/database.ts';

const PASSPHRASE = 'a passphrase for this test only';
const NO_SCHEDULE = { CERTKEEP_BACKUP_HOURS: '0' };
const envFor = (dataDir: string, extra: Record<string, string> = {}) => ({ CERTKEEP_DATA_DIR: dataDir, CERTKEEP_LOG_LEVEL: 'warn', ...extra });

let source: NodeHostUnderTest;
let sourceDir: string;
let token: string;
let passphraseFile: string;
/** The keys made at the start: name, one of its API keys, and the PEM served for it. */
const keys: Array<{ name: string; apiKey: string; pem: string }> = [];

async function api(host: { baseUrl: string }, method: string, path: string, body?: unknown) {
  const res = await fetch(host.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: res.headers.get('content-type')?.includes('json') ? await res.json() : await res.text() };
}

async function download(host: { baseUrl: string }, name: string, apiKey: string) {
  const res = await fetch(`${host.baseUrl}/api/key/${name}`, { headers: { apikey: apiKey } });
  return { status: res.status, text: await res.text() };
}

/** Runs a CLI command and expects exit 1 with one line on stderr; returns that line. */
async function refused(args: string[], env: Record<string, string>): Promise<string> {
  const res = await runCli(args, env);
  expect(res.code, res.stderr).toBe(1);
  const lines = res.stderr.trim().split('\n');
  expect(lines, res.stderr).toHaveLength(1);
  return lines[0];
}

function integrity(dataDir: string): Promise<string> {
  const client = createClient({ url: `file:${join(dataDir, 'certkeep.db')}` });
  return client
    .execute('PRAGMA integrity_check')
    .then((r) => String(r.rows[0][0]))
    .finally(() => client.close());
}

async function backup(file: string, extra: string[] = [], env: Record<string, string> = {}) {
  const res = await runCli(['backup', file, ...extra], envFor(sourceDir, env));
  expect(res.stderr).toBe('');
  expect(res.code).toBe(0);
  return res.stdout;
}

/** Starts a node host on `dataDir`, checks every key is served as before with its API key, stops it. */
async function servesTheSameKeys(dataDir: string): Promise<void> {
  const host = await startNodeHost({ dataDir, env: NO_SCHEDULE });
  try {
    for (const key of keys) expect(await download(host, key.name, key.apiKey), key.name).toEqual({ status: 200, text: key.pem });
  } finally {
    await host.stop();
  }
}

beforeAll(async () => {
  sourceDir = makeTempDir('backup-source-');
  await setUpDataDir(sourceDir, envFor(sourceDir));
  const created = await runCli(['token', 'create'], envFor(sourceDir));
  expect(created.code, created.stderr).toBe(0);
  token = created.stdout.trim();
  source = await startNodeHost({ dataDir: sourceDir, env: NO_SCHEDULE });
  for (const name of ['alpha', 'beta']) {
    const made = await api(source, 'POST', '/api/v1/keys', { name, type: 'ec-p256' });
    expect(made.status).toBe(201);
    const apiKey = made.body.apiKeys[1];
    const served = await download(source, name, apiKey);
    expect(served.status).toBe(200);
    keys.push({ name, apiKey, pem: served.text });
  }
  passphraseFile = join(makeTempDir('pp-'), 'passphrase');
  writeFileSync(passphraseFile, PASSPHRASE + '\n');
});

afterAll(async () => source?.stop());

describe('certkeep backup and restore', () => {
  it('an encrypted backup with the master key restores into an empty directory and serves the same keys', async () => {
    const file = join(makeTempDir('bk-'), 'all.ckbackup');
    const said = await backup(file, ['--passphrase-file', passphraseFile, '--include-master-key']);
    expect(said).toMatch(/^wrote .*all\.ckbackup \(\d+ bytes; schema .*; encrypted, with the master key\)\n$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Nothing of the master key, nor a key's PEM, is readable in the file.
    const bytes = readFileSync(file);
    expect(bytes.includes(readFileSync(join(sourceDir, 'master.key'), 'utf8').trim())).toBe(false);
    expect(bytes.includes(Buffer.from('PRIVATE KEY'))).toBe(false);

    const target = join(makeTempDir('restore-'), 'data');
    const restored = await runCli(['restore', file, '--passphrase-file', passphraseFile], envFor(target));
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    expect(restored.stdout).toMatch(/master key: written from the backup/);
    expect(readFileSync(join(target, 'master.key'), 'utf8')).toBe(readFileSync(join(sourceDir, 'master.key'), 'utf8'));
    expect(statSync(join(target, 'master.key')).mode & 0o777).toBe(0o600);
    expect(statSync(target).mode & 0o777).toBe(0o700);
    expect(await integrity(target)).toBe('ok');
    await servesTheSameKeys(target);
  });

  it('a plain backup asks for the old master key, checks it, and restores with it', async () => {
    const file = join(makeTempDir('bk-'), 'plain.ckbackup');
    expect(await backup(file)).toMatch(/not encrypted, without the master key/);

    const target = join(makeTempDir('restore-'), 'data');
    expect(await refused(['restore', file], envFor(target))).toMatch(/does not hold the master key: put the old master\.key into .* or set CERTKEEP_MASTER_KEY/);
    expect(existsSync(target)).toBe(false);

    // Another key is found out now, not at the first renewal.
    const other = Buffer.alloc(32, 7).toString('base64');
    expect(await refused(['restore', file], envFor(target, { CERTKEEP_MASTER_KEY: other }))).toMatch(/from CERTKEEP_MASTER_KEY does not open the backup's private keys/);
    expect(existsSync(target)).toBe(false);

    mkdirSync(target, { mode: 0o700 });
    copyFileSync(join(sourceDir, 'master.key'), join(target, 'master.key'));
    const restored = await runCli(['restore', file], envFor(target));
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/master key: checked, it opens the stored private keys/);
    await servesTheSameKeys(target);
  });

  it('refuses a wrong or missing passphrase, a damaged, cut or foreign file, and a non-empty directory: nothing written', async () => {
    const dir = makeTempDir('bk-');
    const file = join(dir, 'sealed.ckbackup');
    await backup(file, ['--passphrase-file', passphraseFile, '--include-master-key']);
    const wrong = join(dir, 'wrong');
    writeFileSync(wrong, 'not the passphrase at all\n');
    const bytes = readFileSync(file);
    const cut = join(dir, 'cut.ckbackup');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    const flipped = join(dir, 'flipped.ckbackup');
    const copy = Buffer.from(bytes);
    copy[Math.floor(copy.length / 2)] ^= 0x40;
    writeFileSync(flipped, copy);
    const foreign = join(sourceDir, 'certkeep.db');

    const target = join(makeTempDir('restore-'), 'data');
    const attempts: Array<[string[], RegExp]> = [
      [['restore', file, '--passphrase-file', wrong], /wrong passphrase/],
      [['restore', file], /encrypted: give its passphrase with --passphrase-file/],
      [['restore', cut, '--passphrase-file', passphraseFile], /damaged or truncated|truncated/],
      [['restore', flipped, '--passphrase-file', passphraseFile], /damaged or truncated/],
      [['restore', foreign, '--passphrase-file', passphraseFile], /not a Certkeep backup/],
      [['restore', join(dir, 'missing.ckbackup')], /no such file/],
    ];
    for (const [args, message] of attempts) {
      expect(await refused(args, envFor(target)), args.join(' ')).toMatch(message);
      expect(existsSync(target), args.join(' ')).toBe(false);
    }
    // A data directory with anything but config.json and master.key in it is not touched.
    mkdirSync(target);
    writeFileSync(join(target, 'config.json'), '{}');
    writeFileSync(join(target, 'notes.txt'), 'mine');
    expect(await refused(['restore', file, '--passphrase-file', passphraseFile], envFor(target))).toMatch(/is not empty \(it holds notes\.txt\)/);
    expect(readdirSync(target).sort()).toEqual(['config.json', 'notes.txt']);
    // Nor one where the database already is.
    expect(await refused(['restore', file, '--passphrase-file', passphraseFile], envFor(sourceDir))).toMatch(/is not empty/);
  });

  it('refuses a backup from a newer schema, and restores an older one migrated forward', async () => {
    const known = knownMigrations();
    // Newer: this database claims a migration after the last one this version knows.
    const newerDir = makeTempDir('newer-');
    await copyDatabase(newerDir);
    await sql(newerDir, `INSERT INTO __drizzle_migrations (hash, created_at) VALUES ('from-the-future', ${known.at(-1)!.when + 1000})`);
    const newerFile = join(makeTempDir('bk-'), 'newer.ckbackup');
    expect((await runCli(['backup', newerFile], envFor(newerDir))).code).toBe(0);
    const target = join(makeTempDir('restore-'), 'data');
    expect(await refused(['restore', newerFile], envFor(target, { CERTKEEP_MASTER_KEY: masterKey() }))).toMatch(new RegExp(`comes from a newer Certkeep \\(schema ${known.length + 1} migrations.*; this version knows ${known.at(-1)!.tag}, ${known.length} migrations\\)`));
    expect(existsSync(target)).toBe(false);

    // Older: the database as the previous migration left it, an admin token in it.
    const olderDir = makeTempDir('older-');
    const olderToken = await databaseBefore(known.at(-1)!.tag, olderDir);
    const olderFile = join(makeTempDir('bk-'), 'older.ckbackup');
    expect((await runCli(['backup', olderFile], envFor(olderDir, { CERTKEEP_MASTER_KEY: masterKey() }))).stdout).toContain(`schema ${known.at(-2)!.tag}, ${known.length - 1} migrations`);
    const restored = await runCli(['restore', olderFile], envFor(target, { CERTKEEP_MASTER_KEY: masterKey() }));
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain(`migrated forward: ${known.at(-1)!.tag}`);
    expect(await sql(target, 'SELECT count(*) AS n FROM __drizzle_migrations')).toEqual([{ n: known.length }]);
    const host = await startNodeHost({ dataDir: target, env: { ...NO_SCHEDULE, CERTKEEP_MASTER_KEY: masterKey() } });
    try {
      const res = await fetch(`${host.baseUrl}/api/v1/keys`, { headers: { authorization: `Bearer ${olderToken}` } });
      expect(res.status).toBe(200);
    } finally {
      await host.stop();
    }
  });

  it('backs the database up by itself before migrating it, and that backup restores as it was', async () => {
    const known = knownMigrations();
    const dir = makeTempDir('premigrate-');
    await databaseBefore(known.at(-1)!.tag, dir);
    // Any command that opens the database migrates it: here `token create`, which then refuses
    // this data dir for having no administrator.
    const res = await runCli(['token', 'create'], envFor(dir, { CERTKEEP_MASTER_KEY: masterKey() }));
    expect(res.stderr).toMatch(/has not been set up/);
    const taken = readdirSync(join(dir, 'backups'));
    expect(taken).toEqual([expect.stringMatching(new RegExp(`^certkeep-\\d{8}-\\d{6}Z-before-${known.at(-1)!.tag}\\.ckbackup$`))]);
    expect(await sql(dir, 'SELECT count(*) AS n FROM __drizzle_migrations')).toEqual([{ n: known.length }]);
    const target = join(makeTempDir('restore-'), 'data');
    const restored = await runCli(['restore', join(dir, 'backups', taken[0])], envFor(target, { CERTKEEP_MASTER_KEY: masterKey() }));
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toContain(`schema ${known.at(-2)!.tag}, ${known.length - 1} migrations`);
    expect(restored.stdout).toContain(`migrated forward: ${known.at(-1)!.tag}`);
  });

  it('refuses a backup path in a missing directory, under a file, or on a read-only file system: one line, nothing left', async () => {
    const dir = makeTempDir('bk-');
    writeFileSync(join(dir, 'a-file'), 'x');
    expect(await refused(['backup', join(dir, 'missing', 'b.ckbackup')], envFor(sourceDir))).toMatch(/cannot write into .*missing: no such directory/);
    expect(await refused(['backup', join(dir, 'a-file', 'b.ckbackup')], envFor(sourceDir))).toMatch(/cannot write into .*a-file: a part of the path is not a directory/);
    expect(readdirSync(dir)).toEqual(['a-file']);
    // As root, permissions do not stop a write: a read-only mount does.
    const ro = join(dir, 'read-only');
    mkdirSync(ro);
    let mounted = false;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro], { stdio: 'ignore' });
      mounted = true;
    } catch {
      console.warn('[backup-restore] cannot mount a read-only tmpfs here: the read-only case is not tried');
    }
    if (mounted) {
      try {
        expect(await refused(['backup', join(ro, 'b.ckbackup')], envFor(sourceDir))).toMatch(/cannot write into .*read-only: read-only file system/);
        expect(readdirSync(ro)).toEqual([]);
      } finally {
        execFileSync('umount', [ro]);
      }
    }
    // Help is exit 0, bad usage exit 2; a remote database says what to use instead.
    for (const command of ['backup', 'restore']) {
      const help = await runCli([command, '--help'], {});
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: certkeep ${command} FILE`));
      expect((await runCli([command], envFor(sourceDir))).code).toBe(2);
    }
    const usage = await runCli(['backup', join(dir, 'b.ckbackup'), '--include-master-key'], envFor(sourceDir));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--include-master-key needs --passphrase-file/);
    expect(await refused(['backup', join(dir, 'b.ckbackup')], envFor(sourceDir, { CERTKEEP_DATABASE_URL: 'libsql://certkeep.example.invalid' }))).toMatch(/not a local file.*Turso: point-in-time recovery/);
    expect(await refused(['restore', join(dir, 'a-file')], envFor(makeTempDir('r-'), { CERTKEEP_DATABASE_URL: 'libsql://certkeep.example.invalid' }))).toMatch(/remote database: restore into a local file/);
    expect(readdirSync(dir).sort()).toEqual(['a-file', 'read-only']);
  });
});

// ---- helpers for databases of other schema levels ------------------------------------------

function masterKey(): string {
  return readFileSync(join(sourceDir, 'master.key'), 'utf8').trim();
}

async function sql(dataDir: string, query: string): Promise<Record<string, unknown>[]> {
  const client = createClient({ url: `file:${join(dataDir, 'certkeep.db')}` });
  try {
    return (await client.execute(query)).rows.map((r) => ({ ...r }));
  } finally {
    client.close();
  }
}

/** A consistent copy of the source host's database into `dataDir`. */
async function copyDatabase(dataDir: string): Promise<void> {
  const client = createClient({ url: `file:${join(sourceDir, 'certkeep.db')}` });
  try {
    await client.execute({ sql: 'VACUUM INTO ?', args: [join(dataDir, 'certkeep.db')] });
  } finally {
    client.close();
  }
}

/**
 * A database as the migrations before `tag` left it (drizzle's migrator on a copy of the
 * migrations folder whose journal ends before `tag`), holding an admin token; returns the token.
 */
async function databaseBefore(tag: string, dataDir: string): Promise<string> {
  const folder = makeTempDir('migrations-');
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8'));
  const index = journal.entries.findIndex((e: { tag: string }) => e.tag === tag);
  journal.entries = journal.entries.slice(0, index);
  mkdirSync(join(folder, 'meta'));
  writeFileSync(join(folder, 'meta', '_journal.json'), JSON.stringify(journal));
  for (const entry of journal.entries) copyFileSync(join(MIGRATIONS_DIR, `${entry.tag}.sql`), join(folder, `${entry.tag}.sql`));
  const { drizzle } = await import('drizzle-orm/libsql');
  const { migrate } = await import('drizzle-orm/libsql/migrator');
  const client = createClient({ url: `file:${join(dataDir, 'certkeep.db')}` });
  const olderToken = `ckt_${'o'.repeat(32)}`;
  try {
    await migrate(drizzle(client), { migrationsFolder: folder });
    const hash = createHash('sha256').update(olderToken).digest('hex');
    await client.execute({ sql: 'INSERT INTO admin_tokens (id, name, token_hash, created_at) VALUES (?, ?, ?, ?)', args: ['t-old', 'old', hash, Date.now()] });
  } finally {
    client.close();
  }
  return olderToken;
}
