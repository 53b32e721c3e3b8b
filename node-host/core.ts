// Builds the core's Deps from the node host's settings.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Deps } from '../src/deps.ts';
import { newCaches } from '../src/deps.ts';
import { createLogger, type Logger } from '../src/log.ts';
import { importMasterKey } from '../src/crypto/index.ts';
import type { Settings } from './settings.ts';
import { openDatabase, type OpenedDatabase } from './db.ts';

export interface NodeCore {
  deps: Deps;
  db: OpenedDatabase;
  log: Logger;
}

export function stdoutLogger(level: Settings['logLevel']): Logger {
  return createLogger(level, (line) => process.stdout.write(line + '\n'));
}

export async function createNodeCore(settings: Settings, log = stdoutLogger(settings.logLevel)): Promise<NodeCore> {
  const db = await openDatabase(settings.databaseUrl, settings.databaseAuthToken);
  const deps: Deps = {
    db: db.database,
    masterKey: await importMasterKey(settings.masterKey),
    fetch: globalThis.fetch.bind(globalThis),
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log,
    runtime: 'node',
    hostId: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
    allowAdmin: settings.allowAdmin,
    allowApi: settings.allowApi,
    concurrency: settings.concurrency,
    caches: newCaches(),
  };
  return { deps, db, log };
}
