// Migrations go forward only, so before a database is migrated (the first start of a new
// version, or any command that opens the database) the node host takes a backup of it as it
// is, into `<data dir>/backups/`, named after the migration it is about to apply. A failed
// backup stops the start: nothing is migrated without one, unless CERTKEEP_BACKUP_KEEP is 0.
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../src/log.ts';
import { databaseFilePath } from '../db-version.ts';
import { knownMigrations, openFile, schemaLevel } from './database.ts';
import { backupFileName } from './schedule.ts';

export interface PreMigrationSettings {
  dataDir: string;
  databaseUrl: string;
  backupKeep: number;
}

/** Takes the backup when migrations are pending on an existing local database; returns its path. */
export async function backupBeforeMigrating(settings: PreMigrationSettings, log: Logger, now = () => new Date()): Promise<string | undefined> {
  const file = databaseFilePath(settings.databaseUrl);
  if (!file || !existsSync(file)) return undefined; // remote, or a first start
  const client = await openFile(file);
  let level;
  try {
    level = await schemaLevel(client);
  } finally {
    client.close();
  }
  if (!level || level.migrations === 0) return undefined;
  const since = level.latestAt;
  const pending = knownMigrations().filter((m) => since === null || m.when > since);
  if (pending.length === 0) return undefined;
  const tags = pending.map((m) => m.tag);
  if (settings.backupKeep === 0) {
    log.warn('migrating the database without a backup first (CERTKEEP_BACKUP_KEEP is 0)', { migrations: tags });
    return undefined;
  }
  const dir = join(settings.dataDir, 'backups');
  const target = join(dir, backupFileName(now(), `before-${pending[0].tag}`));
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { createBackup } = await import('./backup.ts');
    const result = await createBackup({ databaseUrl: settings.databaseUrl, file: target, now });
    log.info('backup taken before migrating the database', { file: result.path, bytes: result.bytes, migrations: tags });
    return result.path;
  } catch (err) {
    throw new Error(`cannot back up the database before migrating it (${(err as Error).message}); nothing was migrated. Fix that, or set CERTKEEP_BACKUP_KEEP=0 to migrate without a backup`);
  }
}
