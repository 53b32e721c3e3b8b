import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@libsql/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeSettings, loadSettings, readSettings, SettingsError } from './settings.ts';

let cwd: string;
beforeEach(async () => {
  cwd = await mkdtemp(join(tmpdir(), 'certkeep-settings-'));
});
afterEach(async () => {
  await rm(cwd, { recursive: true, force: true });
});

const KEY_A = Buffer.alloc(32, 0xa5).toString('base64');

/** The SettingsError thrown by loading `env` (with config.json `config` when given). */
async function failure(env: Record<string, string>, config?: unknown): Promise<SettingsError> {
  if (config !== undefined) await writeConfig(config);
  const err = await loadSettings(env, { cwd }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(SettingsError);
  return err as SettingsError;
}

async function writeConfig(config: unknown): Promise<string> {
  const dir = join(cwd, 'data');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'config.json');
  await writeFile(file, typeof config === 'string' ? config : JSON.stringify(config));
  return file;
}

describe('loadSettings defaults', () => {
  it('follows SPEC §1 with an empty environment', async () => {
    const s = await loadSettings({}, { cwd });
    const dataDir = join(cwd, 'data');
    expect(s.dataDir).toBe(dataDir);
    expect(s.databaseUrl).toBe(`file:${dataDir}/certkeep.db`);
    expect(s.databaseAuthToken).toBeUndefined();
    expect(s.httpPort).toBe(80);
    expect(s.httpsPort).toBe(443);
    expect(s.bind).toBeUndefined();
    expect(s.allowAdmin.allows('127.0.0.1')).toBe(true);
    expect(s.allowAdmin.allows('::1')).toBe(true);
    expect(s.allowAdmin.allows('10.0.0.1')).toBe(false);
    expect(s.allowApi.allows('::ffff:127.0.0.1')).toBe(true);
    expect(s.allowApi.allows('192.168.0.1')).toBe(false);
    expect(s.trustProxy.isEmpty).toBe(true);
    expect(s.trustProxy.allows('127.0.0.1')).toBe(false);
    expect(s.allowPrivateTargets.isEmpty).toBe(true); // no private target, not even loopback
    expect(s.allowPrivateTargets.allows('127.0.0.1')).toBe(false);
    expect(s.dnsServers).toEqual([]);
    expect(s.smtp).toBeUndefined();
    expect(s.tickSeconds).toBe(60);
    expect(s.concurrency).toBe(8);
    expect(s.logLevel).toBe('info');
    expect(s.backupHours).toBe(24);
    expect(s.backupKeep).toBe(7);
    expect(s.warnings).toEqual([]);
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('creates the data dir 0700 and a 0600 master.key, then reuses it', async () => {
    const first = await loadSettings({}, { cwd });
    expect(first.masterKeySource).toBe('generated');
    expect(first.masterKey).toHaveLength(32);
    expect((await stat(first.dataDir)).mode & 0o777).toBe(0o700);
    const keyFile = join(first.dataDir, 'master.key');
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(keyFile, 'utf8')).trim(), 'base64')).toEqual(Buffer.from(first.masterKey));
    expect(await readdir(first.dataDir)).toEqual(['master.key']); // no temp files left behind

    const second = await loadSettings({}, { cwd });
    expect(second.masterKeySource).toBe('file');
    expect(Buffer.from(second.masterKey)).toEqual(Buffer.from(first.masterKey));
  });

  it('agrees on one master key when several hosts start at once', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => loadSettings({}, { cwd })));
    const keys = new Set(all.map((s) => Buffer.from(s.masterKey).toString('hex')));
    expect(keys.size).toBe(1);
    expect(all.filter((s) => s.masterKeySource === 'generated')).toHaveLength(1);
    expect((await readdir(join(cwd, 'data'))).sort()).toEqual(['master.key']);
  });

  it('resolves a relative data dir against cwd and keeps absolute ones', async () => {
    expect((await loadSettings({ CERTKEEP_DATA_DIR: 'x/y' }, { cwd })).dataDir).toBe(join(cwd, 'x/y'));
    const abs = join(cwd, 'abs');
    expect((await loadSettings({ CERTKEEP_DATA_DIR: abs }, { cwd })).dataDir).toBe(abs);
  });

  it('gives a default database URL that libSQL opens at the right path, whatever the dir is called', async () => {
    const dir = join(cwd, 'odd #1 ?50%');
    const s = await loadSettings({ CERTKEEP_DATA_DIR: dir }, { cwd });
    const client = createClient({ url: s.databaseUrl });
    try {
      await client.execute('create table t (x)');
    } finally {
      client.close();
    }
    expect(await readdir(dir)).toContain('certkeep.db');
  });

  it('treats empty variables as unset', async () => {
    const s = await loadSettings({ CERTKEEP_HTTP_PORT: '', CERTKEEP_BIND: '  ', CERTKEEP_ALLOW_ADMIN: '' }, { cwd });
    expect(s.httpPort).toBe(80);
    expect(s.bind).toBeUndefined();
    expect(s.allowAdmin.allows('127.0.0.1')).toBe(true);
  });
});

describe('loadSettings values', () => {
  it('reads every setting from the environment', async () => {
    const s = await loadSettings(
      {
        CERTKEEP_DATA_DIR: 'd',
        CERTKEEP_DATABASE_URL: 'libsql://db.example.com',
        CERTKEEP_DATABASE_AUTH_TOKEN: 'tok',
        CERTKEEP_MASTER_KEY: KEY_A,
        CERTKEEP_HTTP_PORT: '8080',
        CERTKEEP_HTTPS_PORT: '0',
        CERTKEEP_BIND: '[::1]',
        CERTKEEP_ALLOW_ADMIN: '10.0.0.0/8; loopback',
        CERTKEEP_ALLOW_API: '*',
        CERTKEEP_TRUST_PROXY: '192.0.2.1',
        CERTKEEP_ALLOW_PRIVATE_TARGETS: '10.20.0.0/16, fd00:1::/64',
        CERTKEEP_DNS_SERVERS: '1.1.1.1, 9.9.9.9:5353 [2606:4700::1111]:53,2001:db8::53',
        CERTKEEP_SMTP_URL: 'smtps://u:secret@mail.example.com:465',
        CERTKEEP_SMTP_FROM: 'Certkeep <ck@example.com>',
        CERTKEEP_TICK_SECONDS: '0.5',
        CERTKEEP_CONCURRENCY: '256',
        CERTKEEP_LOG_LEVEL: 'DEBUG',
        PATH: '/usr/bin', // other variables are none of our business
      },
      { cwd },
    );
    expect(s.dataDir).toBe(join(cwd, 'd'));
    expect(s.databaseUrl).toBe('libsql://db.example.com');
    expect(s.databaseAuthToken).toBe('tok');
    expect(s.masterKeySource).toBe('environment');
    expect(Buffer.from(s.masterKey)).toEqual(Buffer.alloc(32, 0xa5));
    expect(await readdir(s.dataDir)).toEqual([]); // no master.key when one is given
    expect(s.httpPort).toBe(8080);
    expect(s.httpsPort).toBe(0);
    expect(s.bind).toBe('::1');
    expect(s.allowAdmin.allows('10.1.2.3')).toBe(true);
    expect(s.allowAdmin.allows('127.0.0.1')).toBe(true);
    expect(s.allowApi.allows('8.8.8.8')).toBe(true);
    expect(s.trustProxy.allows('192.0.2.1')).toBe(true);
    expect(s.trustProxy.allows('127.0.0.1')).toBe(false);
    expect(s.allowPrivateTargets.allows('10.20.3.4')).toBe(true);
    expect(s.allowPrivateTargets.allows('fd00:1::5')).toBe(true);
    expect(s.allowPrivateTargets.allows('127.0.0.1')).toBe(false); // naming networks replaces nothing: loopback is not in it
    expect(s.dnsServers).toEqual(['1.1.1.1:53', '9.9.9.9:5353', '[2606:4700::1111]:53', '[2001:db8::53]:53']);
    expect(s.smtp).toEqual({ url: 'smtps://u:secret@mail.example.com:465', from: 'Certkeep <ck@example.com>' });
    expect(s.tickSeconds).toBe(0.5);
    expect(s.concurrency).toBe(256);
    expect(s.logLevel).toBe('debug');
  });

  it('reads config.json (numbers, strings, lists) and lets the environment win', async () => {
    await writeConfig({
      CERTKEEP_HTTP_PORT: 8080,
      CERTKEEP_HTTPS_PORT: '8443',
      CERTKEEP_ALLOW_API: ['10.0.0.0/8', '192.168.0.0/16'],
      CERTKEEP_TICK_SECONDS: 2.5,
      CERTKEEP_LOG_LEVEL: 'warn',
      CERTKEEP_BIND: null, // null means unset
    });
    const s = await loadSettings({ CERTKEEP_LOG_LEVEL: 'error' }, { cwd });
    expect(s.httpPort).toBe(8080);
    expect(s.httpsPort).toBe(8443);
    expect(s.allowApi.allows('192.168.3.4')).toBe(true);
    expect(s.allowApi.allows('127.0.0.1')).toBe(false);
    expect(s.tickSeconds).toBe(2.5);
    expect(s.logLevel).toBe('error');
    expect(s.bind).toBeUndefined();
  });

  it('takes the master key from config.json too', async () => {
    await writeConfig({ CERTKEEP_MASTER_KEY: KEY_A });
    const s = await loadSettings({}, { cwd });
    expect(s.masterKeySource).toBe('config.json');
    expect(Buffer.from(s.masterKey)).toEqual(Buffer.alloc(32, 0xa5));
  });

  it('accepts URL-safe and unpadded base64 master keys', async () => {
    const raw = Buffer.alloc(32, 0xfb); // encodes to characters that differ between alphabets
    const urlSafe = raw.toString('base64url');
    expect(urlSafe).toMatch(/[-_]/);
    const s = await loadSettings({ CERTKEEP_MASTER_KEY: urlSafe }, { cwd });
    expect(Buffer.from(s.masterKey)).toEqual(raw);
  });

  it('keeps secrets out of JSON.stringify', async () => {
    const s = await loadSettings(
      {
        CERTKEEP_MASTER_KEY: KEY_A,
        CERTKEEP_DATABASE_URL: 'https://user:dbpass@db.example.com',
        CERTKEEP_DATABASE_AUTH_TOKEN: 'the-token',
        CERTKEEP_SMTP_URL: 'smtp://u:mailpass@mail.example.com',
        CERTKEEP_SMTP_FROM: 'ck@example.com',
      },
      { cwd },
    );
    const json = JSON.stringify(s);
    for (const secret of [KEY_A, 'dbpass', 'the-token', 'mailpass', '165,165']) expect(json).not.toContain(secret);
    expect(JSON.parse(json)).toMatchObject({ httpPort: 80, allowAdmin: 'loopback only (127.0.0.0/8, ::1)' });
  });
});

describe('loadSettings refuses', () => {
  it.each([
    ['CERTKEEP_HTTP_PORT', 'eighty', 'CERTKEEP_HTTP_PORT: expected a port number 0-65535, got "eighty"'],
    ['CERTKEEP_HTTP_PORT', '65536', 'CERTKEEP_HTTP_PORT: expected a port number 0-65535, got "65536"'],
    ['CERTKEEP_HTTPS_PORT', '-1', 'CERTKEEP_HTTPS_PORT: expected a port number 0-65535, got "-1"'],
    ['CERTKEEP_HTTPS_PORT', '443.5', 'CERTKEEP_HTTPS_PORT: expected a port number 0-65535, got "443.5"'],
    ['CERTKEEP_TICK_SECONDS', '0', 'CERTKEEP_TICK_SECONDS: expected a number of seconds greater than 0, at most 86400, got "0"'],
    ['CERTKEEP_TICK_SECONDS', '-5', 'CERTKEEP_TICK_SECONDS: expected a number of seconds greater than 0, at most 86400, got "-5"'],
    ['CERTKEEP_TICK_SECONDS', 'soon', 'CERTKEEP_TICK_SECONDS: expected a number of seconds greater than 0, at most 86400, got "soon"'],
    ['CERTKEEP_CONCURRENCY', '0', 'CERTKEEP_CONCURRENCY: expected a whole number 1-256, got "0"'],
    ['CERTKEEP_CONCURRENCY', '257', 'CERTKEEP_CONCURRENCY: expected a whole number 1-256, got "257"'],
    ['CERTKEEP_CONCURRENCY', '2.5', 'CERTKEEP_CONCURRENCY: expected a whole number 1-256, got "2.5"'],
    ['CERTKEEP_LOG_LEVEL', 'verbose', 'CERTKEEP_LOG_LEVEL: expected one of debug, info, warn, error, got "verbose"'],
    ['CERTKEEP_DATABASE_URL', 'postgres://x', 'CERTKEEP_DATABASE_URL: expected a libSQL URL'],
    ['CERTKEEP_BIND', 'not an address!', 'CERTKEEP_BIND: expected an IP address or host name'],
    ['CERTKEEP_ALLOW_ADMIN', '10.0.0.0/33', 'CERTKEEP_ALLOW_ADMIN: expected IPs/CIDRs'],
    ['CERTKEEP_TRUST_PROXY', 'proxy.example', '"proxy.example"'],
    ['CERTKEEP_ALLOW_PRIVATE_TARGETS', '10.0.0.0/8, intranet', 'CERTKEEP_ALLOW_PRIVATE_TARGETS: expected IPs/CIDRs'],
    ['CERTKEEP_DNS_SERVERS', '1.1.1.1, dns.google', 'CERTKEEP_DNS_SERVERS: expected IP addresses with optional ports'],
    ['CERTKEEP_DNS_SERVERS', '1.1.1.1:0', 'not "1.1.1.1:0"'],
    ['CERTKEEP_SMTP_FROM', 'nobody', 'CERTKEEP_SMTP_FROM: expected a mail address'],
  ])('%s=%j', async (name, value, message) => {
    const err = await failure({ [name]: value });
    expect(err.message).toContain(message);
    expect(err.problems).toHaveLength(1);
  });

  it('names the setting without echoing secrets', async () => {
    const short = Buffer.alloc(16, 1).toString('base64');
    const err = await failure({
      CERTKEEP_MASTER_KEY: short,
      CERTKEEP_SMTP_URL: 'http://u:hunter2@mail.example.com',
      CERTKEEP_SMTP_FROM: 'a@b.example',
    });
    expect(err.problems).toEqual([
      'CERTKEEP_MASTER_KEY: expected base64 of 32 bytes (e.g. from `openssl rand -base64 32`)',
      'CERTKEEP_SMTP_URL: expected an smtp:// or smtps:// URL such as smtp://user:pass@mail.example.com:587',
    ]);
    expect(err.message).not.toContain(short);
    expect(err.message).not.toContain('hunter2');
  });

  it('refuses master keys that are not base64', async () => {
    expect((await failure({ CERTKEEP_MASTER_KEY: '!'.repeat(44) })).problems[0]).toMatch(/^CERTKEEP_MASTER_KEY: expected base64 of 32 bytes/);
  });

  it('refuses unknown CERTKEEP_ variables, suggesting near misses', async () => {
    const err = await failure({ CERTKEEP_HTTP_PROT: '80', CERTKEEP_FROBNICATE: '1' });
    expect(err.problems).toEqual(['CERTKEEP_HTTP_PROT: unknown setting (did you mean CERTKEEP_HTTP_PORT?)', 'CERTKEEP_FROBNICATE: unknown setting']);
  });

  it('lists every problem at once, and touches no file when refusing', async () => {
    const err = await failure({ CERTKEEP_HTTP_PORT: 'x', CERTKEEP_CONCURRENCY: 'y', CERTKEEP_DATA_DIR: 'fresh' });
    expect(err.problems.map((p) => p.split(':')[0])).toEqual(['CERTKEEP_HTTP_PORT', 'CERTKEEP_CONCURRENCY']);
    expect(err.message).toBe(err.problems.join('; '));
    await expect(stat(join(cwd, 'fresh'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('requires a sender when SMTP is configured', async () => {
    const err = await failure({ CERTKEEP_SMTP_URL: 'smtp://mail.example.com' });
    expect(err.problems[0]).toMatch(/^CERTKEEP_SMTP_FROM: expected a sender address/);
  });

  it('refuses HTTP and HTTPS on the same port', async () => {
    const err = await failure({ CERTKEEP_HTTP_PORT: '8080', CERTKEEP_HTTPS_PORT: '8080' });
    expect(err.problems[0]).toMatch(/^CERTKEEP_HTTPS_PORT: expected a port other than CERTKEEP_HTTP_PORT/);
  });

  it('says which file and what JSON error for a broken config.json', async () => {
    const file = join(cwd, 'data', 'config.json');
    const err = await failure({}, '{"CERTKEEP_HTTP_PORT": 80,}');
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: not valid JSON \\(.+\\)$`));
    let jsonError = '';
    try {
      JSON.parse('{"CERTKEEP_HTTP_PORT": 80,}');
    } catch (e) {
      jsonError = (e as Error).message;
    }
    expect(err.problems[0]).toContain(jsonError);
  });

  it.each([['[1,2]'], ['"CERTKEEP_HTTP_PORT=80"'], ['null'], ['42']])('refuses config.json %s that is not an object', async (body) => {
    const err = await failure({}, body);
    expect(err.problems[0]).toMatch(/config\.json: expected a JSON object/);
  });

  it('refuses unknown, misplaced and mistyped keys in config.json', async () => {
    const err = await failure(
      {},
      {
        CERTKEEP_HTTP_PORT: 'eighty',
        CERTKEEP_HTTPS_PORT: true,
        CERTKEEP_CONCURENCY: 4,
        CERTKEEP_DATA_DIR: '/elsewhere',
        NODE_EXTRA_CA_CERTS: '/ca.pem',
        CERTKEEP_LOG_LEVEL: ['info'], // arrays only for lists
      },
    );
    const file = join(cwd, 'data', 'config.json');
    expect(err.problems).toEqual([
      `CERTKEEP_CONCURENCY (in ${file}): unknown setting (did you mean CERTKEEP_CONCURRENCY?)`,
      `CERTKEEP_DATA_DIR (in ${file}): cannot be set in config.json, which lives in the data directory; use the environment`,
      `NODE_EXTRA_CA_CERTS (in ${file}): Node reads it only from the environment at start`,
      `CERTKEEP_HTTP_PORT (in ${file}): expected a port number 0-65535, got "eighty"`,
      `CERTKEEP_HTTPS_PORT (in ${file}): expected a string or number, got true`,
      `CERTKEEP_LOG_LEVEL (in ${file}): expected a string or number, got ["info"]`,
    ]);
  });

  it('does not complain about a bad config.json value that the environment overrides', async () => {
    await writeConfig({ CERTKEEP_HTTP_PORT: 'eighty' });
    expect((await loadSettings({ CERTKEEP_HTTP_PORT: '81' }, { cwd })).httpPort).toBe(81);
  });

  it('refuses a master.key that is not 32 bytes', async () => {
    const dir = join(cwd, 'data');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'master.key'), Buffer.alloc(31).toString('base64'), { mode: 0o600 });
    const err = await failure({});
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]).toContain(`CERTKEEP_MASTER_KEY: ${join(dir, 'master.key')} must hold base64 of exactly 32 bytes`);
  });

  it('warns about a master.key that others can read', async () => {
    const dir = join(cwd, 'data');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'master.key');
    await writeFile(file, `${KEY_A}\n`);
    await chmod(file, 0o644);
    const s = await loadSettings({}, { cwd });
    expect(Buffer.from(s.masterKey)).toEqual(Buffer.alloc(32, 0xa5));
    expect(s.warnings).toEqual([`${file} is readable by others (mode 644); run: chmod 600 ${file}`]);
  });

  it('warns when it generates a key for a shared database', async () => {
    const s = await loadSettings({ CERTKEEP_DATABASE_URL: 'libsql://db.example.com' }, { cwd });
    expect(s.masterKeySource).toBe('generated');
    expect(s.warnings.join('\n')).toMatch(/every host on it needs the same key/);
  });
});

describe('describeSettings', () => {
  it('lists every SPEC §1 variable with a default and a meaning', () => {
    const names = describeSettings().map((d) => d.name);
    expect(names).toEqual([
      'CERTKEEP_DATA_DIR',
      'CERTKEEP_DATABASE_URL',
      'CERTKEEP_DATABASE_AUTH_TOKEN',
      'CERTKEEP_MASTER_KEY',
      'CERTKEEP_HTTP_PORT',
      'CERTKEEP_HTTPS_PORT',
      'CERTKEEP_BIND',
      'CERTKEEP_ALLOW_ADMIN',
      'CERTKEEP_ALLOW_API',
      'CERTKEEP_TRUST_PROXY',
      'CERTKEEP_ALLOW_PRIVATE_TARGETS',
      'CERTKEEP_DNS_SERVERS',
      'CERTKEEP_SMTP_URL',
      'CERTKEEP_SMTP_FROM',
      'CERTKEEP_TICK_SECONDS',
      'CERTKEEP_CONCURRENCY',
      'CERTKEEP_LOG_LEVEL',
      'CERTKEEP_BACKUP_HOURS',
      'CERTKEEP_BACKUP_KEEP',
      'NODE_EXTRA_CA_CERTS',
    ]);
    for (const d of describeSettings()) {
      expect(d.default.length, d.name).toBeGreaterThan(0);
      expect(d.meaning.length, d.name).toBeGreaterThan(5);
    }
  });

  it('describes exactly the variables that loadSettings accepts', async () => {
    // A name in the table that the loader did not know would be refused as unknown.
    const env = Object.fromEntries(
      describeSettings()
        .filter((d) => d.name.startsWith('CERTKEEP_'))
        .map((d) => [d.name, '']),
    );
    await expect(loadSettings(env, { cwd })).resolves.toBeDefined();
  });
});

describe('scheduled backup settings', () => {
  it('take fractions of hours and 0 to switch them off', async () => {
    const s = await loadSettings({ CERTKEEP_BACKUP_HOURS: '0.5', CERTKEEP_BACKUP_KEEP: '0' }, { cwd });
    expect(s.backupHours).toBe(0.5);
    expect(s.backupKeep).toBe(0);
  });

  it('refuse what is not a number of hours or a count, naming the setting', async () => {
    const err = await failure({ CERTKEEP_BACKUP_HOURS: '-1', CERTKEEP_BACKUP_KEEP: 'seven' });
    expect(err.problems.join('\n')).toMatch(/CERTKEEP_BACKUP_HOURS: expected a number of hours/);
    expect(err.problems.join('\n')).toMatch(/CERTKEEP_BACKUP_KEEP: expected a whole number 0-1000/);
  });
});

describe('readSettings', () => {
  it('creates neither the data directory nor a master key, and says when there is none', async () => {
    const s = await readSettings({}, { cwd });
    expect(s.dataDir).toBe(join(cwd, 'data'));
    expect(s.masterKey).toBeUndefined();
    expect(s.masterKeySource).toBeUndefined();
    expect(await readdir(cwd)).toEqual([]);
  });

  it('reads a stored master key, or the one the environment gives', async () => {
    await mkdir(join(cwd, 'data'));
    await writeFile(join(cwd, 'data', 'master.key'), KEY_A + '\n', { mode: 0o600 });
    const stored = await readSettings({}, { cwd });
    expect(Buffer.from(stored.masterKey!).toString('base64')).toBe(KEY_A);
    expect(stored.masterKeySource).toBe('file');
    const given = await readSettings({ CERTKEEP_MASTER_KEY: Buffer.alloc(32, 1).toString('base64') }, { cwd });
    expect(given.masterKeySource).toBe('environment');
    expect(given.masterKey![0]).toBe(1);
  });
});
