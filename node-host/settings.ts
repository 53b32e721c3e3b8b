// The node host's settings (SPEC §1): environment variables, or the same keys in
// `<data dir>/config.json`; the environment wins. One table below names every setting, its
// default and meaning, and how its text is read, so `--help`, the README and the parser cannot
// drift apart. Anything unknown or malformed stops start-up with a message naming the setting.

import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isIP } from 'node:net';
import { parseIpList, type IpList } from '../src/http/ip.ts';
import { CertkeepError } from '../src/errors.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Settings {
  /** Absolute path of the data directory (exists, created 0700 when it did not). */
  readonly dataDir: string;
  /** libSQL URL: `file:` (embedded), `libsql:`, `http(s):`, `ws(s):` or `:memory:`. */
  readonly databaseUrl: string;
  readonly databaseAuthToken: string | undefined;
  /** 32 bytes; encrypts private keys at rest. Never log it (toJSON() redacts it). */
  readonly masterKey: Uint8Array;
  readonly masterKeySource: 'environment' | 'config.json' | 'file' | 'generated';
  readonly httpPort: number;
  /** 0 means HTTPS is disabled. */
  readonly httpsPort: number;
  /** Listen address; undefined means all interfaces. */
  readonly bind: string | undefined;
  readonly allowAdmin: IpList;
  readonly allowApi: IpList;
  /** Reverse proxies whose X-Forwarded-For/-Proto are believed; empty when none. */
  readonly trustProxy: IpList;
  /** Loopback/private/link-local addresses that outgoing requests may reach anyway; empty when none. */
  readonly allowPrivateTargets: IpList;
  /** In the form `dns.Resolver#setServers` takes (`1.1.1.1:53`, `[2606:4700::1111]:53`); empty = system resolver. */
  readonly dnsServers: readonly string[];
  readonly smtp: { readonly url: string; readonly from: string } | undefined;
  readonly tickSeconds: number;
  readonly concurrency: number;
  readonly logLevel: LogLevel;
  /** Hours between scheduled backups into `<data dir>/backups`; 0 = none. */
  readonly backupHours: number;
  /** How many scheduled backups are kept; 0 = none are made. */
  readonly backupKeep: number;
  /** Things worth telling the operator that do not stop start-up (log them at warn). */
  readonly warnings: readonly string[];
  /** A loggable view: secrets replaced by "[redacted]". */
  toJSON(): Record<string, unknown>;
}

/** Start-up cannot go on; the message names every offending setting (or file) on one line. */
export class SettingsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'SettingsError';
  }
}

export interface SettingDescription {
  readonly name: string;
  /** The default as a reader should see it; '—' when there is none. */
  readonly default: string;
  readonly meaning: string;
}

// ---- the table -------------------------------------------------------------------------------

type Name =
  | 'CERTKEEP_DATA_DIR'
  | 'CERTKEEP_DATABASE_URL'
  | 'CERTKEEP_DATABASE_AUTH_TOKEN'
  | 'CERTKEEP_MASTER_KEY'
  | 'CERTKEEP_HTTP_PORT'
  | 'CERTKEEP_HTTPS_PORT'
  | 'CERTKEEP_BIND'
  | 'CERTKEEP_ALLOW_ADMIN'
  | 'CERTKEEP_ALLOW_API'
  | 'CERTKEEP_TRUST_PROXY'
  | 'CERTKEEP_ALLOW_PRIVATE_TARGETS'
  | 'CERTKEEP_DNS_SERVERS'
  | 'CERTKEEP_SMTP_URL'
  | 'CERTKEEP_SMTP_FROM'
  | 'CERTKEEP_TICK_SECONDS'
  | 'CERTKEEP_CONCURRENCY'
  | 'CERTKEEP_LOG_LEVEL'
  | 'CERTKEEP_BACKUP_HOURS'
  | 'CERTKEEP_BACKUP_KEEP';

interface Definition extends SettingDescription {
  readonly name: Name;
  /** Whether config.json may hold an array of strings (joined with commas). */
  readonly list?: boolean;
  /** Never echo the value in an error message. */
  readonly secret?: boolean;
}

const TABLE: readonly Definition[] = [
  { name: 'CERTKEEP_DATA_DIR', default: './data', meaning: 'database, master key, config.json (environment only)' },
  {
    name: 'CERTKEEP_DATABASE_URL',
    default: 'file:<data dir>/certkeep.db',
    meaning: 'libSQL URL: file: (embedded) or libsql:// / http(s):// (sqld, Turso)',
  },
  { name: 'CERTKEEP_DATABASE_AUTH_TOKEN', default: '—', meaning: 'token for a remote libSQL server', secret: true },
  {
    name: 'CERTKEEP_MASTER_KEY',
    default: 'generated into <data dir>/master.key (mode 0600)',
    meaning: 'base64 of 32 bytes; encrypts private keys at rest (AES-256-GCM)',
    secret: true,
  },
  { name: 'CERTKEEP_HTTP_PORT', default: '80', meaning: 'challenge endpoint, setup, redirect to HTTPS' },
  { name: 'CERTKEEP_HTTPS_PORT', default: '443', meaning: 'admin UI and APIs over TLS; 0 disables HTTPS' },
  { name: 'CERTKEEP_BIND', default: 'all interfaces', meaning: 'listen address' },
  {
    name: 'CERTKEEP_ALLOW_ADMIN',
    default: 'loopback only',
    meaning: 'IPs/CIDRs (comma-separated, * = any, loopback) that may reach the admin UI and /api/v1',
    list: true,
  },
  {
    name: 'CERTKEEP_ALLOW_API',
    default: 'loopback only',
    meaning: 'IPs/CIDRs that may reach /api/certificate, /api/key and /api/agent/report',
    list: true,
  },
  { name: 'CERTKEEP_TRUST_PROXY', default: 'none', meaning: 'CIDRs of reverse proxies whose X-Forwarded-For is believed', list: true },
  {
    name: 'CERTKEEP_ALLOW_PRIVATE_TARGETS',
    default: 'none',
    meaning:
      'CIDRs of loopback/private/link-local addresses that outgoing requests to admin- or CA-supplied URLs (ACME directory and the URLs it names, DNS provider APIs, acme-dns, CRL/OCSP, notification webhooks and chat channels) and tracking scans may reach; all others in those ranges are refused',
    list: true,
  },
  {
    name: 'CERTKEEP_DNS_SERVERS',
    default: 'system resolver',
    meaning: 'host:port list used for dns-01 propagation checks and tracking look-ups',
    list: true,
  },
  { name: 'CERTKEEP_SMTP_URL', default: '—', meaning: 'mail server of the email notification channels: smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS)', secret: true },
  { name: 'CERTKEEP_SMTP_FROM', default: '—', meaning: 'sender address of notification mail (needed with CERTKEEP_SMTP_URL)' },
  { name: 'CERTKEEP_TICK_SECONDS', default: '60', meaning: 'how often the scheduler looks for due work (issuance, renewal, scans, notifications)' },
  { name: 'CERTKEEP_CONCURRENCY', default: '8', meaning: 'ACME orders in flight at once per host' },
  { name: 'CERTKEEP_LOG_LEVEL', default: 'info', meaning: 'debug, info, warn or error; logs are JSON lines on stdout' },
  {
    name: 'CERTKEEP_BACKUP_HOURS',
    default: '24',
    meaning: 'hours between scheduled backups into <data dir>/backups (fractions allowed); 0 disables them',
  },
  { name: 'CERTKEEP_BACKUP_KEEP', default: '7', meaning: 'how many scheduled backups are kept (the oldest are deleted); 0 disables them, and the backup before a migration' },
];

const NODE_EXTRA_CA_CERTS: SettingDescription = {
  name: 'NODE_EXTRA_CA_CERTS',
  default: '—',
  meaning: "Node's own (environment only): extra roots to trust a private ACME CA",
};

const BY_NAME = new Map<string, Definition>(TABLE.map((def) => [def.name, def]));

/** Every setting with its default and meaning, in the order the SPEC lists them. */
export function describeSettings(): readonly SettingDescription[] {
  return [...TABLE.map(({ name, default: dflt, meaning }) => ({ name, default: dflt, meaning })), NODE_EXTRA_CA_CERTS];
}

// ---- loading ---------------------------------------------------------------------------------

export interface LoadOptions {
  /** Directory that a relative CERTKEEP_DATA_DIR is resolved against (default: process.cwd()). */
  cwd?: string;
  /**
   * For commands that work on an installation that exists already (`token`, `user`): nothing is
   * created, and a missing data directory or master key is an error.
   */
  existing?: boolean;
}

/**
 * Reads, checks and completes the settings. Creates the data directory (0700) and, when no
 * master key is given, `<data dir>/master.key` (0600). Throws SettingsError listing every problem.
 */
export async function loadSettings(env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Promise<Settings> {
  return (await load(env, opts, true)) as Settings;
}

/** Settings read without creating anything: the master key is absent when none is given or stored. */
export type SettingsAsFound = Omit<Settings, 'masterKey' | 'masterKeySource'> & {
  readonly masterKey: Uint8Array | undefined;
  readonly masterKeySource: Settings['masterKeySource'] | undefined;
};

/**
 * The same checks as loadSettings, but the disk is only read: neither the data directory nor a
 * master key file is created (for `certkeep restore` and `certkeep backup`, which must leave
 * nothing behind when they fail).
 */
export async function readSettings(env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Promise<SettingsAsFound> {
  return (await load(env, opts, false)) as SettingsAsFound;
}

async function load(env: NodeJS.ProcessEnv, opts: LoadOptions, create: boolean): Promise<Settings | SettingsAsFound> {
  const problems: string[] = [];
  const warnings: string[] = [];

  for (const key of Object.keys(env)) {
    if (key.startsWith('CERTKEEP_') && !BY_NAME.has(key) && env[key] !== undefined) {
      problems.push(`${key}: unknown setting${suggestion(key)}`);
    }
  }

  const dataDir = resolve(opts.cwd ?? process.cwd(), text(env.CERTKEEP_DATA_DIR) ?? './data');
  const configFile = join(dataDir, 'config.json');
  const config = await readConfig(configFile, problems);

  // Each setting's raw text: the environment first, then config.json.
  const raw = (def: Definition): { value: string; where: string } | undefined => {
    const fromEnv = text(env[def.name]);
    if (fromEnv !== undefined) return { value: fromEnv, where: '' };
    if (!(def.name in config)) return undefined;
    const value = configValue(config[def.name], def.list === true);
    if (value === null) return undefined;
    if (value instanceof Error) {
      problems.push(`${def.name} (in ${configFile}): ${value.message}`);
      return undefined;
    }
    return { value, where: ` (in ${configFile})` };
  };

  // Reads one setting with `parse`, which throws Expected on malformed text.
  const read = <T>(name: Name, parse: (value: string) => T, fallback: T): T => {
    const def = BY_NAME.get(name)!;
    const given = raw(def);
    if (!given) return fallback;
    try {
      return parse(given.value);
    } catch (err) {
      if (!(err instanceof Expected)) throw err;
      const got = def.secret ? '' : `, got ${JSON.stringify(given.value)}`;
      problems.push(`${name}${given.where}: expected ${err.message}${got}`);
      return fallback;
    }
  };

  const databaseUrl = read('CERTKEEP_DATABASE_URL', parseDatabaseUrl, `file:${encodeFilePath(dataDir)}/certkeep.db`);
  const databaseAuthToken = read('CERTKEEP_DATABASE_AUTH_TOKEN', (v) => v, undefined as string | undefined);
  const givenMasterKey = read('CERTKEEP_MASTER_KEY', parseMasterKey, undefined as Uint8Array | undefined);
  const masterKeyFromEnv = text(env.CERTKEEP_MASTER_KEY) !== undefined;
  const httpPort = read('CERTKEEP_HTTP_PORT', parsePort, 80);
  const httpsPort = read('CERTKEEP_HTTPS_PORT', parsePort, 443);
  const bind = read('CERTKEEP_BIND', parseBind, undefined as string | undefined);
  const allowAdmin = read('CERTKEEP_ALLOW_ADMIN', (v) => parseIps(v, true), parseIpList(undefined));
  const allowApi = read('CERTKEEP_ALLOW_API', (v) => parseIps(v, true), parseIpList(undefined));
  const trustProxy = read('CERTKEEP_TRUST_PROXY', (v) => parseIps(v, false), parseIpList(undefined, { defaultLoopback: false }));
  const allowPrivateTargets = read('CERTKEEP_ALLOW_PRIVATE_TARGETS', (v) => parseIps(v, false), parseIpList(undefined, { defaultLoopback: false }));
  const dnsServers = read('CERTKEEP_DNS_SERVERS', parseDnsServers, [] as readonly string[]);
  const smtpUrl = read('CERTKEEP_SMTP_URL', parseSmtpUrl, undefined as string | undefined);
  const smtpFrom = read('CERTKEEP_SMTP_FROM', parseMailbox, undefined as string | undefined);
  const tickSeconds = read('CERTKEEP_TICK_SECONDS', parseTick, 60);
  const concurrency = read('CERTKEEP_CONCURRENCY', parseConcurrency, 8);
  const logLevel = read('CERTKEEP_LOG_LEVEL', parseLogLevel, 'info' as LogLevel);
  const backupHours = read('CERTKEEP_BACKUP_HOURS', parseBackupHours, 24);
  const backupKeep = read('CERTKEEP_BACKUP_KEEP', parseBackupKeep, 7);

  if (smtpUrl !== undefined && smtpFrom === undefined) {
    problems.push('CERTKEEP_SMTP_FROM: expected a sender address (e.g. certkeep@example.com) because CERTKEEP_SMTP_URL is set');
  }
  if (smtpUrl === undefined && smtpFrom !== undefined) {
    warnings.push('CERTKEEP_SMTP_FROM is set but CERTKEEP_SMTP_URL is not: no mail will be sent');
  }
  if (httpsPort !== 0 && httpsPort === httpPort) {
    problems.push(`CERTKEEP_HTTPS_PORT: expected a port other than CERTKEEP_HTTP_PORT (both are ${httpPort}); 0 disables HTTPS`);
  }
  if (databaseAuthToken !== undefined && databaseUrl.startsWith('file:')) {
    warnings.push('CERTKEEP_DATABASE_AUTH_TOKEN is set but the database is a local file: the token is not used');
  }

  // Touch the disk only once the settings are known to be good.
  if (problems.length > 0) throw new SettingsError(problems);
  if (opts.existing) await requireDataDir(dataDir);
  else if (create) await ensureDataDir(dataDir);
  let masterKey: Uint8Array | undefined;
  let masterKeySource: Settings['masterKeySource'] | undefined;
  if (givenMasterKey) {
    masterKey = givenMasterKey;
    masterKeySource = masterKeyFromEnv ? 'environment' : 'config.json';
  } else if (opts.existing) {
    const file = join(dataDir, 'master.key');
    const key = await readKeyFile(file, warnings);
    if (!key) throw new SettingsError([`CERTKEEP_MASTER_KEY: not set, and ${file} does not exist; is CERTKEEP_DATA_DIR the server's data directory?`]);
    masterKey = key;
    masterKeySource = 'file';
  } else if (!create) {
    masterKey = await readKeyFile(join(dataDir, 'master.key'), warnings);
    masterKeySource = masterKey ? 'file' : undefined;
  } else {
    const loaded = await loadMasterKeyFile(join(dataDir, 'master.key'), warnings);
    masterKey = loaded.key;
    masterKeySource = loaded.generated ? 'generated' : 'file';
    if (loaded.generated && !databaseUrl.startsWith('file:') && databaseUrl !== ':memory:') {
      warnings.push(
        `generated a new master key in ${join(dataDir, 'master.key')} for a shared database: every host on it needs the same key (copy it or set CERTKEEP_MASTER_KEY)`,
      );
    }
  }

  const settings: SettingsAsFound = {
    dataDir,
    databaseUrl,
    databaseAuthToken,
    masterKey,
    masterKeySource,
    httpPort,
    httpsPort,
    bind,
    allowAdmin,
    allowApi,
    trustProxy,
    allowPrivateTargets,
    dnsServers: Object.freeze([...dnsServers]),
    smtp: smtpUrl !== undefined && smtpFrom !== undefined ? Object.freeze({ url: smtpUrl, from: smtpFrom }) : undefined,
    tickSeconds,
    concurrency,
    logLevel,
    backupHours,
    backupKeep,
    warnings: Object.freeze(warnings),
    toJSON() {
      return {
        dataDir,
        databaseUrl: redactUrl(databaseUrl),
        databaseAuthToken: databaseAuthToken === undefined ? undefined : '[redacted]',
        masterKey: '[redacted]',
        masterKeySource,
        httpPort,
        httpsPort,
        bind: bind ?? 'all interfaces',
        allowAdmin: allowAdmin.describe(),
        allowApi: allowApi.describe(),
        trustProxy: trustProxy.describe(),
        allowPrivateTargets: allowPrivateTargets.describe(),
        dnsServers: dnsServers.length > 0 ? dnsServers : 'system resolver',
        smtp: smtpUrl === undefined ? undefined : { url: redactUrl(smtpUrl), from: smtpFrom },
        tickSeconds,
        concurrency,
        logLevel,
        backupHours,
        backupKeep,
      };
    },
  };
  return Object.freeze(settings);
}

// ---- config.json -----------------------------------------------------------------------------

async function readConfig(file: string, problems: string[]): Promise<Record<string, unknown>> {
  let body: string;
  try {
    body = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    problems.push(`${file}: cannot read it (${(err as Error).message})`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    problems.push(`${file}: not valid JSON (${(err as Error).message})`);
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    problems.push(`${file}: expected a JSON object such as {"CERTKEEP_HTTP_PORT": 8080}`);
    return {};
  }
  const config = parsed as Record<string, unknown>;
  for (const key of Object.keys(config)) {
    if (key === 'CERTKEEP_DATA_DIR') {
      problems.push(`CERTKEEP_DATA_DIR (in ${file}): cannot be set in config.json, which lives in the data directory; use the environment`);
    } else if (key === NODE_EXTRA_CA_CERTS.name) {
      problems.push(`${key} (in ${file}): Node reads it only from the environment at start`);
    } else if (!BY_NAME.has(key)) {
      problems.push(`${key} (in ${file}): unknown setting${suggestion(key)}`);
    }
  }
  return config;
}

/** A config.json value as setting text: null when unset, an Error when of the wrong type. */
function configValue(value: unknown, list: boolean): string | null | Error {
  if (value === null) return null;
  if (typeof value === 'string') return text(value) ?? null;
  if (typeof value === 'number') return String(value);
  if (list && Array.isArray(value) && value.every((item) => typeof item === 'string')) return text(value.join(',')) ?? null;
  return new Error(`expected a ${list ? 'string, number or array of strings' : 'string or number'}, got ${JSON.stringify(value)}`);
}

// ---- value parsers (throw Expected with what a good value looks like) -----------------------

class Expected extends Error {}

function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new Expected('a port number 0-65535');
  return Number(value);
}

function parseDatabaseUrl(value: string): string {
  if (value === ':memory:' || /^(file|libsql|https?|wss?):/i.test(value)) return value;
  throw new Expected('a libSQL URL (file:path, libsql://host, http(s)://host, ws(s)://host or :memory:)');
}

function parseMasterKey(value: string): Uint8Array {
  const key = decodeKey(value);
  if (!key) throw new Expected('base64 of 32 bytes (e.g. from `openssl rand -base64 32`)');
  return key;
}

function parseBind(value: string): string {
  const unbracketed = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (isIP(unbracketed) !== 0 || isHostname(unbracketed)) return unbracketed;
  throw new Expected('an IP address or host name to listen on (e.g. 0.0.0.0, ::, 127.0.0.1)');
}

function parseIps(value: string, defaultLoopback: boolean): IpList {
  try {
    return parseIpList(value, { defaultLoopback });
  } catch (err) {
    if (err instanceof CertkeepError) throw new Expected(`IPs/CIDRs separated by commas (e.g. 10.0.0.0/8, ::1) or *: ${err.message}`);
    throw err;
  }
}

function parseDnsServers(value: string): readonly string[] {
  return value
    .split(/[\s,;]+/)
    .filter((entry) => entry !== '')
    .map((entry) => {
      const server = parseDnsServer(entry);
      if (!server) throw new Expected(`IP addresses with optional ports (e.g. 1.1.1.1:53, [2606:4700::1111]:53), not "${entry}"`);
      return server;
    });
}

/** `ip`, `ip:port`, `ipv6`, `[ipv6]` or `[ipv6]:port` → the form dns.Resolver#setServers takes. */
function parseDnsServer(entry: string): string | undefined {
  let host = entry;
  let port = '53';
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry);
  const v4WithPort = /^([\d.]+):(\d{1,5})$/.exec(entry);
  if (bracketed) {
    host = bracketed[1];
    port = bracketed[2] ?? port;
  } else if (v4WithPort) {
    host = v4WithPort[1];
    port = v4WithPort[2];
  }
  const family = isIP(host);
  if (family === 0 || Number(port) < 1 || Number(port) > 65535) return undefined;
  return family === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

function parseSmtpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Expected('an smtp:// or smtps:// URL such as smtp://user:pass@mail.example.com:587');
  }
  if ((url.protocol !== 'smtp:' && url.protocol !== 'smtps:') || url.hostname === '') {
    throw new Expected('an smtp:// or smtps:// URL such as smtp://user:pass@mail.example.com:587');
  }
  return value;
}

/** `a@b.example` or `Name <a@b.example>`; the mailer does the real checking. */
function parseMailbox(value: string): string {
  if (/^[^\s<>@]+@[^\s<>@]+$/.test(value) || /^[^<>]*<[^\s<>@]+@[^\s<>@]+>$/.test(value)) return value;
  throw new Expected('a mail address such as certkeep@example.com or "Certkeep <certkeep@example.com>"');
}

function parseTick(value: string): number {
  const seconds = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || !(seconds > 0) || seconds > 86400) throw new Expected('a number of seconds greater than 0, at most 86400');
  return seconds;
}

function parseConcurrency(value: string): number {
  if (!/^\d{1,3}$/.test(value) || Number(value) < 1 || Number(value) > 256) throw new Expected('a whole number 1-256');
  return Number(value);
}

function parseBackupHours(value: string): number {
  const hours = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || hours > 8760) throw new Expected('a number of hours from 0 (no scheduled backups) to 8760, fractions allowed');
  return hours;
}

function parseBackupKeep(value: string): number {
  if (!/^\d{1,4}$/.test(value) || Number(value) > 1000) throw new Expected('a whole number 0-1000 (0: no scheduled backups)');
  return Number(value);
}

function parseLogLevel(value: string): LogLevel {
  const level = value.toLowerCase();
  if (level === 'debug' || level === 'info' || level === 'warn' || level === 'error') return level;
  throw new Expected('one of debug, info, warn, error');
}

// ---- the master key --------------------------------------------------------------------------

const MASTER_KEY_BYTES = 32;

function decodeKey(value: string): Uint8Array | undefined {
  const clean = value.trim();
  // Standard or URL-safe alphabet, padding optional; Buffer alone would accept anything.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(clean)) return undefined;
  const bytes = new Uint8Array(Buffer.from(clean.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
  return bytes.length === MASTER_KEY_BYTES ? bytes : undefined;
}

async function ensureDataDir(dataDir: string): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new SettingsError([`CERTKEEP_DATA_DIR: cannot create ${dataDir} (${(err as Error).message})`]);
  }
}

async function requireDataDir(dataDir: string): Promise<void> {
  const found = await stat(dataDir).catch(() => undefined);
  if (!found?.isDirectory()) {
    throw new SettingsError([`CERTKEEP_DATA_DIR: ${dataDir} does not exist; run "certkeep setup" first, or set CERTKEEP_DATA_DIR to the server's data directory`]);
  }
}

/**
 * Reads `file`, or creates it with fresh random bytes. Creation writes a temporary file and
 * hard-links it into place, so two hosts starting at once agree on one key and nobody ever
 * reads a half-written file.
 */
async function loadMasterKeyFile(file: string, warnings: string[]): Promise<{ key: Uint8Array; generated: boolean }> {
  const existing = await readKeyFile(file, warnings);
  if (existing) return { key: existing, generated: false };

  const key = new Uint8Array(randomBytes(MASTER_KEY_BYTES));
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(`${Buffer.from(key).toString('base64')}\n`);
      await handle.sync(); // losing this file after a crash would make every stored key unreadable
    } finally {
      await handle.close();
    }
    await link(temp, file);
    return { key, generated: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SettingsError([`CERTKEEP_MASTER_KEY: cannot create ${file} (${(err as Error).message})`]);
    }
    // Another process created it first: use theirs.
    const theirs = await readKeyFile(file, warnings);
    if (!theirs) throw new SettingsError([`CERTKEEP_MASTER_KEY: ${file} vanished while being created`]);
    return { key: theirs, generated: false };
  } finally {
    await unlink(temp).catch(() => {});
  }
}

async function readKeyFile(file: string, warnings: string[]): Promise<Uint8Array | undefined> {
  let body: string;
  try {
    body = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SettingsError([`CERTKEEP_MASTER_KEY: cannot read ${file} (${(err as Error).message})`]);
  }
  const key = decodeKey(body);
  if (!key) {
    throw new SettingsError([`CERTKEEP_MASTER_KEY: ${file} must hold base64 of exactly 32 bytes; it does not (refusing to start rather than lose access to stored keys)`]);
  }
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) {
    warnings.push(`${file} is readable by others (mode ${(mode & 0o777).toString(8)}); run: chmod 600 ${file}`);
  }
  return key;
}

// ---- small helpers ---------------------------------------------------------------------------

/** Trimmed text, or undefined when absent or blank (an empty variable counts as unset). */
function text(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === '' ? undefined : trimmed;
}

function isHostname(value: string): boolean {
  return value.length <= 253 && /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*$/.test(value);
}

/** file: paths are percent-decoded by libSQL, so the characters it treats specially are escaped. */
function encodeFilePath(path: string): string {
  return path.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function redactUrl(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1[redacted]@');
}

/** " (did you mean CERTKEEP_X?)" for near misses, so a typo does not read as a mystery. */
function suggestion(name: string): string {
  let best: string | undefined;
  let bestDistance = 4;
  for (const known of BY_NAME.keys()) {
    const distance = editDistance(name.toUpperCase(), known);
    if (distance < bestDistance) [best, bestDistance] = [known, distance];
  }
  return best ? ` (did you mean ${best}?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length];
}
