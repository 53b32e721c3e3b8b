// The SQLite side of backups: a consistent snapshot of a live database file, SQLite's own
// integrity check, and the schema level (which drizzle migrations a file has).
//
// The snapshot is `VACUUM INTO`: one read transaction, so in WAL mode it sees exactly the
// commits made before it started, while the server goes on writing (readers and the writer do
// not block each other); the copy is written page by page by SQLite itself, so no write of the
// server can tear it, and it comes out compacted, without the write-ahead log.
//
// The embedded driver's calls are synchronous, so the snapshot and the integrity check (0.27 s
// and 0.10 s for a 62 MB database here) run in a worker thread: the server keeps answering
// meanwhile.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Client } from '@libsql/client';
import { MIGRATIONS_DIR } from '../db.ts';
import type { SchemaLevel } from './format.ts';

/** How long the snapshot waits for a lock held by a writer (two hosts, a checkpoint). */
const BUSY_TIMEOUT_MS = 10_000;

/** A `file:` URL for a local path; libSQL percent-decodes it, so `%`, `?` and `#` are escaped. */
export function fileUrl(path: string): string {
  return `file:${path.replace(/[%?#]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

export async function openFile(path: string): Promise<Client> {
  const { createClient } = await import('@libsql/client/sqlite3');
  return createClient({ url: fileUrl(path), concurrency: 1, timeout: BUSY_TIMEOUT_MS });
}

/** The worker: `libsql` (the driver under @libsql/client) opened directly, by its resolved path. */
const SNAPSHOT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.libsql);
try {
  const source = new Database(workerData.source, { timeout: workerData.timeout });
  try {
    source.prepare('VACUUM INTO ?').run(workerData.target);
  } finally {
    source.close();
  }
  const copy = new Database(workerData.target);
  try {
    parentPort.postMessage({ findings: copy.prepare('PRAGMA integrity_check').raw(true).all().map((row) => String(row[0])) });
  } finally {
    copy.close();
  }
} catch (err) {
  parentPort.postMessage({ error: String(err && err.message || err) });
}
`;

/**
 * Writes a consistent copy of the database at `source` into `target` (absent or an empty file)
 * and runs SQLite's integrity check on the copy: null when it passes, else its first finding.
 */
export async function snapshotAndCheck(source: string, target: string): Promise<string | null> {
  const libsql = createRequire(import.meta.url).resolve('libsql');
  const worker = new Worker(SNAPSHOT_WORKER, { eval: true, workerData: { libsql, source, target, timeout: BUSY_TIMEOUT_MS } });
  try {
    const answer = await new Promise<{ findings?: string[]; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`the snapshot worker stopped (exit code ${code})`)));
    });
    if (answer.error !== undefined) throw new Error(`cannot snapshot the database: ${answer.error}`);
    const findings = answer.findings ?? [];
    return findings.length === 1 && findings[0] === 'ok' ? null : (findings[0] ?? 'no answer');
  } finally {
    await worker.terminate();
  }
}

/** SQLite's `PRAGMA integrity_check` on a database nobody else has open: null when it passes, else its first finding. */
export async function integrityProblem(client: Client): Promise<string | null> {
  const rows = (await client.execute('PRAGMA integrity_check')).rows;
  const first = rows.length === 1 ? String(rows[0][0]) : undefined;
  if (first === 'ok') return null;
  return rows.length > 0 ? String(rows[0][0]) : 'no answer';
}

interface JournalEntry {
  tag: string;
  when: number;
}

/** The migrations this version of Certkeep has, oldest first (drizzle's journal). */
export function knownMigrations(): JournalEntry[] {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, 'meta', '_journal.json'), 'utf8')) as { entries: JournalEntry[] };
  return journal.entries.map(({ tag, when }) => ({ tag, when })).sort((a, b) => a.when - b.when);
}

/** The schema level of this version's own migrations, as a restored database will have it. */
export function currentLevel(): SchemaLevel {
  const known = knownMigrations();
  const latest = known.at(-1);
  return { migrations: known.length, latest: latest?.tag ?? null, latestAt: latest?.when ?? null };
}

/**
 * The migrations a database has had, from drizzle's `__drizzle_migrations` table. Null when it
 * has no such table (not a Certkeep database).
 */
export async function schemaLevel(client: Client): Promise<SchemaLevel | null> {
  const table = await client.execute("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = '__drizzle_migrations'");
  if (table.rows.length === 0) return null;
  const rows = (await client.execute('SELECT created_at FROM __drizzle_migrations ORDER BY created_at')).rows;
  const latestAt = rows.length > 0 ? Number(rows[rows.length - 1][0]) : null;
  const tag = knownMigrations().find((m) => m.when === latestAt)?.tag ?? null;
  return { migrations: rows.length, latest: tag, latestAt };
}

/** Whether a database at `level` has migrations this version does not know (it came from a newer one). */
export function isNewer(level: SchemaLevel): boolean {
  const current = currentLevel();
  if (level.latestAt === null) return false;
  return current.latestAt === null || level.latestAt > current.latestAt || level.migrations > current.migrations;
}

/** "0003_sessions (4 migrations)" — for messages. */
export function describeLevel(level: SchemaLevel): string {
  if (level.migrations === 0) return 'no migrations';
  const n = `${level.migrations} migration${level.migrations === 1 ? '' : 's'}`;
  return level.latest ? `${level.latest}, ${n}` : `${n}, the newest from ${new Date(level.latestAt!).toISOString()}`;
}
