// Taking a backup (`certkeep backup FILE`, and the server's scheduled backups): a snapshot of the
// live database, checked, packed into our backup format under a temporary name in the target
// directory, made durable, then renamed into place. Whatever fails, nothing is left behind.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { databaseFilePath } from '../db-version.ts';
import { describeLevel, openFile, schemaLevel, snapshotAndCheck } from './database.ts';
import { writeBackup, type BackupHeader } from './format.ts';

/** A backup that cannot be made; the message is one line for the operator. */
export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

export const MIN_PASSPHRASE = 12;

export interface BackupRequest {
  /** The database URL from the settings (only a `file:` URL can be backed up here). */
  databaseUrl: string;
  /** Where the backup goes. */
  file: string;
  passphrase?: string;
  /** The master key, to be put in (then a passphrase is required). */
  masterKey?: Uint8Array;
  now?: () => Date;
}

export interface BackupResult {
  path: string;
  bytes: number;
  header: BackupHeader;
}

export function certkeepVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

export async function createBackup(request: BackupRequest): Promise<BackupResult> {
  const source = databaseFilePath(request.databaseUrl);
  if (!source) {
    throw new BackupError(
      'the database is not a local file (CERTKEEP_DATABASE_URL is remote): back it up where it lives — Turso: point-in-time recovery (turso db create NEW --from-db DB --timestamp T) or turso db shell DB .dump; sqld: its own snapshots or bottomless replication',
    );
  }
  if (request.masterKey && !request.passphrase) throw new BackupError('the master key goes only into an encrypted backup: give --passphrase-file too');
  if (request.passphrase !== undefined && request.passphrase.length < MIN_PASSPHRASE) {
    throw new BackupError(`the passphrase is too short: at least ${MIN_PASSPHRASE} characters`);
  }
  try {
    const st = await stat(source);
    if (!st.isFile()) throw new BackupError(`${source} is not a database file`);
  } catch (err) {
    if (err instanceof BackupError) throw err;
    throw new BackupError(`no database at ${source}: check CERTKEEP_DATA_DIR (or CERTKEEP_DATABASE_URL)`);
  }

  const target = resolve(request.file);
  const dir = dirname(target);
  const existing = await stat(target).catch(() => undefined);
  if (existing?.isDirectory()) throw new BackupError(`${target} is a directory: name a file in it`);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const temp = join(dir, `.${basename(target)}.${tag}.tmp`);
  const snap = join(dir, `.${basename(target)}.${tag}.snapshot`);
  const created: string[] = [];
  try {
    // Both temporaries are created first: this is where a missing or read-only directory shows.
    const out = await createExclusive(temp, dir);
    created.push(temp);
    await (await createExclusive(snap, dir)).close();
    created.push(snap);
    try {
      const problem = await snapshotAndCheck(source, snap);
      if (problem) throw new BackupError(`the snapshot fails SQLite's integrity check (${problem}): the database itself may be damaged; nothing was written`);
      const client = await openFile(snap);
      let schema;
      try {
        schema = await schemaLevel(client);
        if (!schema) throw new BackupError(`${source} is not a Certkeep database (it has no migrations table)`);
      } finally {
        client.close();
      }
      const header = await writeBackup(out, {
        database: snap,
        createdAt: (request.now ?? (() => new Date()))(),
        certkeep: certkeepVersion(),
        schema,
        passphrase: request.passphrase,
        masterKey: request.masterKey,
      });
      await out.sync();
      const { size } = await out.stat();
      await out.close();
      await rm(snap, { force: true });
      await rename(temp, target);
      created.length = 0;
      await syncDirectory(dir);
      return { path: target, bytes: size, header };
    } finally {
      await out.close().catch(() => {});
    }
  } catch (err) {
    await Promise.all(created.map((path) => rm(path, { force: true })));
    throw err;
  }
}

/** One line for the command line: what was written. */
export function describeBackup(result: BackupResult): string {
  const { header } = result;
  const sealed = header.encryption ? 'encrypted' : 'not encrypted';
  const key = header.masterKey ? 'with the master key' : 'without the master key';
  return `wrote ${result.path} (${result.bytes} bytes; schema ${describeLevel(header.schema)}; ${sealed}, ${key})`;
}

async function createExclusive(path: string, dir: string) {
  try {
    return await open(path, 'wx', 0o600);
  } catch (err) {
    throw new BackupError(`cannot write into ${dir}: ${reason(err)}`);
  }
}

function reason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'ENOENT':
      return 'no such directory';
    case 'ENOTDIR':
      return 'a part of the path is not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on the device';
    default:
      return (err as Error).message;
  }
}

/** Makes a rename durable: the directory entry is on disk once this returns. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
