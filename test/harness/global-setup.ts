// Once per `npm test` (vitest globalSetup, in the main vitest process): make this run's
// scratch directory and throwaway CA, and publish them to the test workers via process.env.
//
// How the workers get it: vitest 4 builds each fork's environment from `process.env` (plus
// `test.env`) when it schedules the test files, which is after this setup has run; so what we
// set here reaches every fork at start-up, in time for Node to read NODE_EXTRA_CA_CERTS — and
// from the forks it reaches every child a test spawns (node host, wrangler/workerd, certbot…).
// harness.test.ts proves it with a plain fetch to Pebble.
import { existsSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CA_DIR_ENV, createTestCa, writeTrustBundle } from './ca.ts';
import { isAlive, reapLeftovers } from './processes.ts';
import { RUN_DIR_ENV } from './tmp.ts';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const tmpRoot = join(repoRoot, 'test', '.tmp');

export default async function setup(): Promise<() => Promise<void>> {
  cleanStaleRuns();

  const runDir = join(tmpRoot, `run-${Date.now()}-${process.pid}`);
  mkdirSync(runDir, { recursive: true });
  const ca = await createTestCa(join(runDir, 'ca'));

  const saved = {
    [RUN_DIR_ENV]: process.env[RUN_DIR_ENV],
    [CA_DIR_ENV]: process.env[CA_DIR_ENV],
    NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS,
  };
  const userExtra = process.env.NODE_EXTRA_CA_CERTS;
  process.env[RUN_DIR_ENV] = runDir;
  process.env[CA_DIR_ENV] = join(runDir, 'ca');
  process.env.NODE_EXTRA_CA_CERTS = userExtra
    ? writeTrustBundle(join(runDir, 'ca', 'trust-bundle.pem'), ca.caCertPath, userExtra)
    : ca.caCertPath;

  return async function teardown(): Promise<void> {
    const leaked = reapLeftovers(runDir);
    if (leaked.length > 0) console.warn(`[harness] killed processes a test left running: ${leaked.join(', ')}`);
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    if (process.env.CERTKEEP_TEST_KEEP_TMP !== '1') rmSync(runDir, { recursive: true, force: true });
  };
}

/**
 * A run that was killed never ran its teardown: reap what it left running and delete its
 * directory. A run is stale when the vitest process named in its directory is gone.
 */
function cleanStaleRuns(): void {
  if (!existsSync(tmpRoot)) return;
  for (const name of readdirSync(tmpRoot)) {
    const owner = /^run-\d+-(\d+)$/.exec(name)?.[1];
    if (owner === undefined || isAlive(Number(owner))) continue;
    const dir = join(tmpRoot, name);
    reapLeftovers(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}
