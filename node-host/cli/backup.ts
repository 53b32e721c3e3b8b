// `certkeep backup FILE` and `certkeep restore FILE` (SPEC §3). Neither creates anything in the
// data directory when it fails: they read the settings without touching the disk.
import { readFile } from 'node:fs/promises';
import { readSettings } from '../settings.ts';
import { UsageError } from './usage.ts';

type Values = Record<string, string | boolean | undefined>;

async function readPassphrase(file: string | boolean | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  if (typeof file !== 'string') throw new UsageError('--passphrase-file needs a file name');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the passphrase file ${file}: ${(err as Error).message}`);
  }
  const passphrase = text.replace(/\r?\n$/, '');
  if (passphrase === '') throw new Error(`the passphrase file ${file} is empty`);
  return passphrase;
}

function oneFile(positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'name the backup file' : `one file only, not ${positionals.length}`);
  return positionals[0];
}

export const backupCommand = {
  usage: 'certkeep backup FILE [--passphrase-file F] [--include-master-key]',
  summary: 'write a consistent, checked backup of the database to FILE while the server runs (encrypted with --passphrase-file)',
  options: { 'passphrase-file': { type: 'string' as const }, 'include-master-key': { type: 'boolean' as const } },
  async run(v: Values, positionals: string[]): Promise<void> {
    const file = oneFile(positionals);
    if (v['include-master-key'] && !v['passphrase-file']) {
      throw new UsageError('--include-master-key needs --passphrase-file: the master key goes only into an encrypted backup');
    }
    const passphrase = await readPassphrase(v['passphrase-file']);
    const settings = await readSettings();
    let masterKey: Uint8Array | undefined;
    if (v['include-master-key']) {
      if (!settings.masterKey) throw new Error(`no master key to include: neither CERTKEEP_MASTER_KEY nor ${settings.dataDir}/master.key`);
      masterKey = settings.masterKey;
    }
    const { createBackup, describeBackup } = await import('../backup/backup.ts');
    const result = await createBackup({ databaseUrl: settings.databaseUrl, file, passphrase, masterKey });
    process.stdout.write(describeBackup(result) + '\n');
  },
};

export const restoreCommand = {
  usage: 'certkeep restore FILE [--passphrase-file F]',
  summary: 'restore a backup into an empty data directory (migrated forward when it is older)',
  options: { 'passphrase-file': { type: 'string' as const } },
  async run(v: Values, positionals: string[]): Promise<void> {
    const file = oneFile(positionals);
    const passphrase = await readPassphrase(v['passphrase-file']);
    const settings = await readSettings();
    const { restoreBackup } = await import('../backup/restore.ts');
    const { describeLevel } = await import('../backup/database.ts');
    const result = await restoreBackup({
      file,
      passphrase,
      dataDir: settings.dataDir,
      databaseUrl: settings.databaseUrl,
      masterKey: settings.masterKey,
      masterKeySource: settings.masterKeySource === 'file' ? `${settings.dataDir}/master.key` : settings.masterKeySource === 'environment' ? 'CERTKEEP_MASTER_KEY' : settings.masterKeySource,
    });
    const lines = [
      `restored ${file} (made ${result.createdAt}, schema ${describeLevel(result.backupSchema)}) into ${result.database}`,
      result.migrated.length > 0 ? `migrated forward: ${result.migrated.join(', ')}` : 'schema: current, nothing to migrate',
      {
        written: `master key: written from the backup to ${result.masterKeyFile} (mode 0600); keep a copy apart from the backups`,
        'matches the backup': 'master key: the one given matches the backup',
        checked: 'master key: checked, it opens the stored private keys',
        'nothing sealed to check': 'master key: nothing sealed in the backup to check it against',
      }[result.masterKey],
    ];
    process.stdout.write(lines.join('\n') + '\n');
  },
};
