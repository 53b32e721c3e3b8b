// `certkeep restore FILE`: a backup into an empty data directory. Everything that can refuse is
// checked before the database takes its real name: the directory is empty, the file is a
// Certkeep backup, whole, of a schema this version knows, opened by the passphrase, passes
// SQLite's integrity check, and the master key opens what is sealed in it. An older schema is
// migrated forward. On any failure nothing is left behind.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { link, mkdir, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { databaseFilePath } from '../db-version.ts';
import { openDatabase } from '../db.ts';
import { importMasterKey, openSecret } from '../../src/crypto/index.ts';
import { accountAad } from '../../src/domain/accounts.ts';
import { keyAad } from '../../src/domain/keys.ts';
import { acmeAccounts, keys } from '../../src/db/schema.ts';
import { currentLevel, describeLevel, fileUrl, integrityProblem, isNewer, knownMigrations, openFile, schemaLevel } from './database.ts';
import { extractBackup, openBackup, unlockBackup, type SchemaLevel } from './format.ts';
import { syncDirectory } from './backup.ts';

export class RestoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreError';
  }
}

/** Files a data directory may hold before a restore: settings, and the old master key put back. */
const MAY_BE_PRESENT = new Set(['config.json', 'master.key']);

export interface RestoreRequest {
  file: string;
  passphrase?: string;
  dataDir: string;
  databaseUrl: string;
  /** The master key the settings name (CERTKEEP_MASTER_KEY, config.json or <data dir>/master.key), if any. */
  masterKey: Uint8Array | undefined;
  masterKeySource: string | undefined;
}

export interface RestoreResult {
  database: string;
  backupSchema: SchemaLevel;
  /** Tags of the migrations applied after the restore (older backups). */
  migrated: string[];
  createdAt: string;
  masterKey: 'written' | 'matches the backup' | 'checked' | 'nothing sealed to check';
  masterKeyFile: string;
}

export async function restoreBackup(request: RestoreRequest): Promise<RestoreResult> {
  const target = databaseFilePath(request.databaseUrl);
  if (!target) {
    throw new RestoreError(
      'CERTKEEP_DATABASE_URL names a remote database: restore into a local file (unset CERTKEEP_DATABASE_URL), then load that file into the server (for Turso: turso db import, or sqlite3 certkeep.db .dump piped into turso db shell)',
    );
  }
  await requireEmpty(request.dataDir, target);

  const backup = await openBackup(request.file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new RestoreError(`${request.file}: no such file`);
    if (err.code === 'EISDIR') throw new RestoreError(`${request.file} is a directory`);
    if (err.code === 'EACCES') throw new RestoreError(`${request.file}: permission denied`);
    throw err;
  });
  if (isNewer(backup.header.schema)) {
    throw new RestoreError(
      `the backup comes from a newer Certkeep (schema ${describeLevel(backup.header.schema)}; this version knows ${describeLevel(currentLevel())}): restore it with Certkeep ${backup.header.certkeep} or later`,
    );
  }
  if (!backup.header.masterKey && !request.masterKey) {
    throw new RestoreError(
      `the backup does not hold the master key: put the old master.key into ${request.dataDir} (mode 0600) or set CERTKEEP_MASTER_KEY, then run restore again`,
    );
  }
  const key = await unlockBackup(backup, request.passphrase);

  // From here on files are written; `undo` removes every one of them on failure.
  const written: string[] = [];
  let madeDir = false;
  const dbDir = dirname(target);
  const temp = join(dbDir, `.${basename(target)}.restore-${process.pid}-${randomBytes(4).toString('hex')}`);
  const undo = async () => {
    for (const path of written.reverse()) await rm(path, { force: true });
    for (const suffix of ['-wal', '-shm', '-journal']) await rm(temp + suffix, { force: true });
    if (madeDir) await rmdir(request.dataDir).catch(() => {});
  };
  try {
    try {
      await mkdir(request.dataDir, { mode: 0o700 });
      madeDir = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new RestoreError(`cannot create ${request.dataDir}: ${(err as Error).message}`);
    }
    const out = await open(temp, 'wx', 0o600).catch((err: Error) => {
      throw new RestoreError(`cannot write into ${dbDir}: ${err.message}`);
    });
    written.push(temp);
    let fromBackup: Uint8Array | undefined;
    try {
      fromBackup = (await extractBackup(backup, key, out)).masterKey;
    } finally {
      await out.close();
    }

    const client = await openFile(temp);
    let level: SchemaLevel | null;
    try {
      const problem = await integrityProblem(client);
      if (problem) throw new RestoreError(`the backup's database fails SQLite's integrity check (${problem})`);
      level = await schemaLevel(client);
      if (!level) throw new RestoreError('the backup does not hold a Certkeep database (it has no migrations table)');
      if (isNewer(level)) {
        throw new RestoreError(`the backup comes from a newer Certkeep (schema ${describeLevel(level)}; this version knows ${describeLevel(currentLevel())})`);
      }
    } finally {
      client.close();
    }

    // The master key: the backup's, or the one the settings name; both must agree when both exist.
    if (fromBackup && request.masterKey && !timingSafeEqual(fromBackup, request.masterKey)) {
      throw new RestoreError(
        `the backup holds a master key that differs from the one in ${request.masterKeySource}: remove that one to restore with the backup's, or restore a backup made with it`,
      );
    }
    const masterKey = (fromBackup ?? request.masterKey)!;

    // Forward only: the migrations this version has that the backup does not (drizzle applies
    // those newer than the newest one applied).
    const since = level.latestAt;
    const migrated = knownMigrations()
      .filter((m) => since === null || m.when > since)
      .map((m) => m.tag);
    const opened = await openDatabase(fileUrl(temp), undefined, { migrate: true });
    let sealed: 'checked' | 'nothing sealed to check';
    try {
      sealed = await checkMasterKey(opened.database.db, masterKey, request.masterKeySource ?? 'the backup');
      // Back to a single file, so that the rename below moves all of it.
      await opened.client.execute('PRAGMA journal_mode = DELETE');
    } finally {
      opened.close();
    }

    const keyFile = join(request.dataDir, 'master.key');
    let masterKeyOutcome: RestoreResult['masterKey'] = sealed;
    if (fromBackup) {
      if (request.masterKey) masterKeyOutcome = 'matches the backup';
      else {
        await writeKeyFile(keyFile, fromBackup);
        written.push(keyFile);
        masterKeyOutcome = 'written';
      }
    }
    await rename(temp, target);
    written.splice(written.indexOf(temp), 1, target);
    await syncDirectory(dbDir);
    if (dbDir !== request.dataDir) await syncDirectory(request.dataDir);
    return {
      database: target,
      backupSchema: backup.header.schema,
      migrated,
      createdAt: backup.header.createdAt,
      masterKey: masterKeyOutcome,
      masterKeyFile: keyFile,
    };
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Refuses a data directory holding anything but config.json and master.key, or an existing database file. */
async function requireEmpty(dataDir: string, database: string): Promise<void> {
  let entries: string[] = [];
  try {
    entries = await readdir(dataDir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOTDIR') throw new RestoreError(`${dataDir} is not a directory`);
    if (code !== 'ENOENT') throw new RestoreError(`cannot read ${dataDir}: ${(err as Error).message}`);
  }
  const others = entries.filter((name) => !MAY_BE_PRESENT.has(name));
  if (others.length > 0) {
    const shown = others.slice(0, 3).join(', ') + (others.length > 3 ? ', …' : '');
    throw new RestoreError(`the data directory ${dataDir} is not empty (it holds ${shown}): restore only into an empty one (config.json and master.key may be there)`);
  }
  if (await stat(database).then(() => true, () => false)) throw new RestoreError(`${database} exists: restore only where there is no database yet`);
}

/**
 * Opens one sealed private key with the master key, so that a wrong key is reported now, not
 * at the first renewal.
 */
async function checkMasterKey(db: import('../../src/db/client.ts').Db, raw: Uint8Array, source: string): Promise<'checked' | 'nothing sealed to check'> {
  const masterKey = await importMasterKey(raw);
  const [key] = await db.select({ id: keys.id, sealed: keys.keySealed }).from(keys).limit(1);
  const [account] = key ? [] : await db.select({ id: acmeAccounts.id, sealed: acmeAccounts.keySealed }).from(acmeAccounts).limit(1);
  const row = key ? { sealed: key.sealed, aad: keyAad(key.id) } : account ? { sealed: account.sealed, aad: accountAad(account.id) } : undefined;
  if (!row) return 'nothing sealed to check';
  try {
    await openSecret(masterKey, row.sealed, row.aad);
  } catch {
    throw new RestoreError(`the master key from ${source} does not open the backup's private keys: it is not the key this database was sealed with`);
  }
  return 'checked';
}

/** master.key, 0600, written under a temporary name and linked into place (never half-written). */
async function writeKeyFile(path: string, key: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(`${Buffer.from(key).toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(temp, path);
  } finally {
    await unlink(temp).catch(() => {});
  }
}
