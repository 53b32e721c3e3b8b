// `certkeep import certera FILE`: the node host's side of the Certera import. It reads the file
// without ever writing it: a copy (with its write-ahead log, if Certera left one) is opened
// read-only in a scratch directory, checked by SQLite, and handed to the core
// (src/domain/certera/), which decides and writes.
import { copyFile, mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import type { Deps } from '../../src/deps.ts';
import { importCertera, type CerteraImportOptions, type CerteraImportReport } from '../../src/domain/certera/import.ts';
import { BY_CLI } from '../../src/domain/audit.ts';
import type { CerteraReader } from '../../src/domain/certera/source.ts';

/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_HEADER = 'SQLite format 3\0';

export class CerteraFileError extends Error {}

export async function importCerteraFile(deps: Deps, file: string, options: CerteraImportOptions): Promise<CerteraImportReport> {
  const path = resolve(file);
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw new CerteraFileError(`${file}: no such file`);
  const handle = await open(path, 'r');
  let header: string;
  try {
    const buffer = Buffer.alloc(16);
    const { bytesRead } = await handle.read(buffer, 0, 16, 0);
    header = buffer.subarray(0, bytesRead).toString('latin1');
  } finally {
    await handle.close();
  }
  if (header !== SQLITE_HEADER) throw new CerteraFileError(`${file}: not a SQLite database, so not a Certera.db`);

  const scratch = await mkdtemp(join(tmpdir(), 'certkeep-certera-'));
  try {
    const copy = join(scratch, basename(path));
    await copyFile(path, copy);
    const wal = await stat(`${path}-wal`).catch(() => null);
    if (wal?.isFile()) await copyFile(`${path}-wal`, `${copy}-wal`);
    const { createClient } = await import('@libsql/client/sqlite3');
    let client;
    try {
      client = createClient({ url: `file:${copy}` });
      await client.execute('PRAGMA query_only = 1');
      const check = await client.execute('PRAGMA quick_check');
      const verdict = String(check.rows[0]?.[0] ?? '');
      if (verdict !== 'ok') throw new CerteraFileError(`${file}: the database is damaged (SQLite: ${verdict.split('\n')[0]})`);
    } catch (err) {
      client?.close();
      if (err instanceof CerteraFileError) throw err;
      throw new CerteraFileError(`${file}: SQLite cannot read it (${(err as Error).message})`);
    }
    const reader: CerteraReader = {
      async all(sql) {
        let result;
        try {
          result = await client.execute(sql);
        } catch (err) {
          throw new CerteraFileError(`${file}: not a Certera database (SQLite: ${(err as Error).message.split('\n')[0]})`);
        }
        return result.rows.map((row) => Object.fromEntries(result.columns.map((column, i) => [column, row[i]])));
      },
    };
    try {
      return await importCertera(deps, BY_CLI, reader, options);
    } finally {
      client.close();
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
