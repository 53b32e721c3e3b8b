// What every benchmark shares in one run: a scratch directory, a throwaway CA, one Pebble whose
// validator connects to `httpPort`, and small helpers (medians, formatting, fresh names, the
// node host). Phases take turns on `httpPort`: whoever answers http-01 binds it, and stops
// before the next one does.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestCa, type TestCa } from '../test/harness/ca.ts';
import { startPebble, type Pebble } from '../test/harness/pebble.ts';
import { freePort } from '../test/harness/ports.ts';
import { startNodeHost, type NodeHostUnderTest } from '../test/harness/hosts.ts';
import { AdminClient, setupBody } from '../test/harness/world.ts';

export interface Lab {
  work: string;
  ca: TestCa;
  pebble: Pebble;
  /** The port Pebble's validator connects to for http-01. */
  httpPort: number;
  stop(): Promise<void>;
}

/** Pebble as PEBBLE.md describes it for timing: no validation sleep, fresh authorizations. */
export const PEBBLE_TIMING_ENV = { PEBBLE_VA_NOSLEEP: '1', PEBBLE_AUTHZREUSE: '0', PEBBLE_WFE_NONCEREJECT: '0' };

/**
 * Runs `fn` with a lab whose Pebble is a fresh one (same settings, same httpPort): Pebble keeps
 * every order in memory and slows down as they pile up, so each side of a large comparison gets
 * its own.
 */
export async function withFreshPebble<T>(lab: Lab, fn: (lab: Lab) => Promise<T>): Promise<T> {
  const pebble = await startPebble({ httpPort: lab.httpPort, ca: lab.ca, env: PEBBLE_TIMING_ENV });
  try {
    return await fn({ ...lab, pebble });
  } finally {
    await pebble.stop();
  }
}

export async function startLab(): Promise<Lab> {
  const work = mkdtempSync(join(tmpdir(), 'certkeep-bench-'));
  process.env.CERTKEEP_TEST_RUN_DIR = work;
  const ca = await createTestCa(join(work, 'ca'));
  // Children (the node host, the bare client) trust Pebble through this.
  process.env.NODE_EXTRA_CA_CERTS = ca.caCertPath;
  const httpPort = await freePort();
  const pebble = await startPebble({ httpPort, ca, env: PEBBLE_TIMING_ENV });
  return {
    work,
    ca,
    pebble,
    httpPort,
    async stop() {
      await pebble.stop();
      rmSync(work, { recursive: true, force: true });
    },
  };
}

export interface SetUpHost {
  host: NodeHostUnderTest;
  api: AdminClient;
}

/** A node host on the lab's httpPort, set up (admin, ACME account at Pebble), with its admin token. */
export async function startSetUpHost(lab: Lab, dir: string, env: Record<string, string> = {}): Promise<SetUpHost> {
  const dataDir = join(lab.work, dir);
  mkdirSync(dataDir, { recursive: true }); // the log file goes there from the first line of output
  const host = await startNodeHost({
    httpPort: lab.httpPort,
    dataDir,
    env: {
      CERTKEEP_LOG_LEVEL: 'warn',
      CERTKEEP_TICK_SECONDS: '3600',
      NODE_EXTRA_CA_CERTS: lab.ca.caCertPath,
      // For a look inside during a benchmark, e.g. BENCH_NODE_OPTIONS='--inspect' (Node refuses
      // --cpu-prof in NODE_OPTIONS: run the host by hand with it instead).
      ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}),
      ...env,
    },
  });
  const api = new AdminClient(host.baseUrl);
  const setup = await api.post('/api/v1/setup', setupBody(lab.pebble));
  if (setup.status !== 201) {
    await host.stop();
    throw new Error(`setup failed: ${setup.status} ${setup.text}`);
  }
  api.token = setup.body.token;
  return { host, api };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const fmtMs = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

/** Two fresh names for one certificate (challtestsrv resolves every name to 127.0.0.1). */
export const twoNames = (): string[] => {
  const id = randomBytes(5).toString('hex');
  return [`www-${id}.example.com`, `api-${id}.example.com`];
};

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
