// The two hosts under test, behind one interface, so every contract suite runs unchanged on the
// node host (a real `certkeep serve` process on a libSQL file) and on the Worker (workerd under
// Miniflare, D1 with the real migrations applied).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { startProcess, type RunningProcess } from './processes.ts';
import { freePort } from './ports.ts';
import { makeTempDir } from './tmp.ts';
import { TEST_PRIVATE_TARGETS } from './outbound.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = join(ROOT, 'node-host/bin/certkeep.mjs');

/**
 * The node flags of the `certkeep` command line (its `#!/usr/bin/env -S node …` line, which
 * `npm start` repeats): the host under test runs as users run it.
 */
export const NODE_FLAGS: readonly string[] = readFileSync(CLI, 'utf8')
  .split('\n', 1)[0]
  .replace(/^#!\/usr\/bin\/env -S node\b/, '')
  .split(' ')
  .filter(Boolean);

export type HostKind = 'node' | 'worker';

export interface HostUnderTest {
  kind: HostKind;
  /** http://127.0.0.1:<httpPort> */
  baseUrl: string;
  httpPort: number;
  /** Extra headers POST /api/v1/setup needs on this host. */
  setupHeaders: Record<string, string>;
  /** Runs one scheduler tick and waits for it (the Worker's cron; the node host's timer). */
  tick(): Promise<void>;
  logs(): string;
  /**
   * Runs SQL on the host's own database, behind its back (a clock moved, a row aged): the libSQL
   * file of the node host, Miniflare's D1 for the Worker. Returns the rows.
   */
  sql(query: string, ...args: Array<string | number | null>): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export interface HostOptions {
  /** Listen on this HTTP port (Pebble's httpPort points here); a free one when omitted. */
  httpPort?: number;
  /**
   * Node host: extra environment (CERTKEEP_*). Worker: extra vars. Both hosts allow outgoing
   * requests to 127.0.0.1 (Pebble, local test servers) unless this sets
   * CERTKEEP_ALLOW_PRIVATE_TARGETS (node) or ALLOW_PRIVATE_TARGETS (Worker), '' for none.
   */
  env?: Record<string, string>;
  /** Worker: each line the Worker logs, as it comes (instead of on this process's console). */
  onLog?: (line: string) => void;
}

export const HOST_KINDS: HostKind[] = ['node', 'worker'];

export function startHost(kind: HostKind, opts: HostOptions = {}): Promise<HostUnderTest> {
  return kind === 'node' ? startNodeHost(opts) : startWorkerHost(opts);
}

// ---- node host ---------------------------------------------------------------------------------

export interface NodeHostUnderTest extends HostUnderTest {
  dataDir: string;
  process: RunningProcess;
  /** Runs a `certkeep` CLI command against the same data dir; resolves with its exit code and output. */
  cli(args: string[], env?: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export async function startNodeHost(opts: HostOptions & { dataDir?: string } = {}): Promise<NodeHostUnderTest> {
  const httpPort = opts.httpPort ?? (await freePort());
  const dataDir = opts.dataDir ?? makeTempDir('node-host-');
  // The test run's own CERTKEEP_TEST_* variables are not settings: the host would refuse them.
  const testVars = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('CERTKEEP_TEST_')).map((k) => [k, undefined]));
  const env = {
    ...testVars,
    CERTKEEP_DATA_DIR: dataDir,
    CERTKEEP_HTTP_PORT: String(httpPort),
    CERTKEEP_HTTPS_PORT: '0',
    CERTKEEP_BIND: '127.0.0.1',
    CERTKEEP_TICK_SECONDS: '0.5',
    CERTKEEP_LOG_LEVEL: 'debug',
    CERTKEEP_ALLOW_PRIVATE_TARGETS: TEST_PRIVATE_TARGETS,
    ...opts.env,
  };
  const baseUrl = `http://127.0.0.1:${httpPort}`;
  const proc = await startProcess(process.execPath, [...NODE_FLAGS, CLI, 'serve'], {
    env,
    cwd: ROOT,
    logFile: join(dataDir, 'serve.log'),
    readyWhen: async () => (await fetch(`${baseUrl}/healthz`)).ok,
    readyTimeoutMs: 30_000,
  });
  return {
    kind: 'node',
    baseUrl,
    httpPort,
    dataDir,
    process: proc,
    setupHeaders: {},
    // The node host ticks by itself every CERTKEEP_TICK_SECONDS; one tick period is enough to
    // see due work picked up.
    tick: () => new Promise((resolve) => setTimeout(resolve, Number(env.CERTKEEP_TICK_SECONDS) * 1000 + 100)),
    logs: () => proc.output(),
    async sql(query, ...args) {
      const { createClient } = await import('@libsql/client');
      // The host may be writing: wait for its lock as the host itself would, instead of SQLITE_BUSY.
      const client = createClient({ url: `file:${join(dataDir, 'certkeep.db')}`, timeout: 10_000 });
      try {
        return (await client.execute({ sql: query, args })).rows.map((r) => ({ ...r }));
      } finally {
        client.close();
      }
    },
    stop: () => proc.stop(),
    cli: (args, extra = {}) => runCli(args, { ...env, ...extra } as Record<string, string>),
  };
}

/**
 * Runs a `certkeep` command. Like the hosts, it may reach the loopback address every test server
 * listens on (CERTKEEP_ALLOW_PRIVATE_TARGETS; '' in `env` for none).
 */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const merged: Record<string, string | undefined> = { ...process.env, CERTKEEP_ALLOW_PRIVATE_TARGETS: TEST_PRIVATE_TARGETS, ...env };
    for (const k of Object.keys(merged)) if (merged[k] === undefined || k.startsWith('CERTKEEP_TEST_')) delete merged[k];
    const child = spawn(process.execPath, [...NODE_FLAGS, CLI, ...args], { cwd: ROOT, env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// ---- Worker under Miniflare ------------------------------------------------------------------------

/** How wrangler bundles for workerd: esbuild, one ESM file, the workerd export conditions. */
const WORKERD_BUILD: BuildOptions = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  conditions: ['workerd', 'worker', 'browser'],
  mainFields: ['browser', 'module', 'main'],
  logLevel: 'error',
};

let bundlePromise: Promise<string> | undefined;

/** Bundles src/worker.ts the way wrangler would, once per process. */
export function workerBundle(): Promise<string> {
  bundlePromise ??= (async () => {
    const outfile = join(makeTempDir('worker-bundle-'), 'worker.js');
    await build({ ...WORKERD_BUILD, entryPoints: [join(ROOT, 'src/worker.ts')], outfile });
    return outfile;
  })();
  return bundlePromise;
}

/**
 * A throwaway worker's script: `source` (a module with a default fetch handler, importing the
 * code under test relative to `dir`) bundled as wrangler would, to run a module inside workerd.
 */
export async function inlineWorkerScript(source: string, dir: string): Promise<string> {
  const bundle = await build({ ...WORKERD_BUILD, stdin: { contents: source, resolveDir: dir, loader: 'ts' }, write: false });
  return bundle.outputFiles![0].text;
}

/** The SQL statements of every migration, in order, as wrangler d1 migrations apply runs them. */
export function migrationStatements(): string[] {
  const dir = join(ROOT, 'migrations');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .flatMap((f) => readFileSync(join(dir, f), 'utf8').split('--> statement-breakpoint'))
    .map((s) => s.trim())
    .filter(Boolean);
}

export const TEST_SETUP_TOKEN = 'test-setup-token-0123456789';

const D1_DATABASE = 'certkeep-test';
/**
 * The harness's own way into the Worker's D1: a second Worker on the same database, reached by
 * Miniflare's routing with ordinary requests. Miniflare's object proxies (getD1Database,
 * getWorker) block the test process in Atomics.wait for each property and call; under load one of
 * those waits now and then came back without its answer (an assertion inside Miniflare), failing
 * whole suites before their first step.
 */
const HARNESS_HOST = 'harness.certkeep.test';
const HARNESS_WORKER = `export default {
  async fetch(request, env) {
    const body = await request.json();
    const path = new URL(request.url).pathname;
    try {
      if (path === '/migrate') {
        for (const statement of body) await env.DB.prepare(statement).run();
        return Response.json([]);
      }
      if (path === '/sql') return Response.json((await env.DB.prepare(body.query).bind(...body.args).all()).results ?? []);
      return new Response('no such harness path', { status: 404 });
    } catch (err) {
      return new Response(String(err && err.stack || err), { status: 500 });
    }
  },
};`;

/** Miniflare options of the harness Worker, on the D1 database named `database`. */
export const harnessWorker = (database: string) =>
  ({ name: 'harness', modules: true, script: HARNESS_WORKER, compatibilityDate: '2025-09-01', d1Databases: { DB: database }, routes: [`${HARNESS_HOST}/*`] }) as const;

/** `/migrate` (the body: statements) or `/sql` (`{ query, args }`, the rows back) on the harness Worker. */
export async function callHarnessWorker(mf: { dispatchFetch(url: string, init: { method: string; body: string }): Promise<{ ok: boolean; status: number; text(): Promise<string> }> }, path: '/migrate' | '/sql', body: unknown): Promise<Record<string, unknown>[]> {
  const res = await mf.dispatchFetch(`http://${HARNESS_HOST}${path}`, { method: 'POST', body: JSON.stringify(body) });
  const text = await res.text();
  if (!res.ok) throw new Error(`harness worker ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>[];
}

export async function startWorkerHost(opts: HostOptions = {}): Promise<HostUnderTest> {
  const httpPort = opts.httpPort ?? (await freePort());
  const scriptPath = await workerBundle();
  const persist = makeTempDir('worker-d1-');
  // What the Worker writes (its JSON log lines) is kept for logs(), as the node host's output is.
  let logs = '';
  // Loaded here, not at the top: Miniflare reads NODE_EXTRA_CA_CERTS once, when it is loaded, and
  // a benchmark sets it (its own CA) after this module was imported.
  const { Miniflare } = await import('miniflare');
  const mf = new Miniflare({
    handleRuntimeStdio(stdout: Readable, stderr: Readable) {
      stdout.on('data', (chunk: Buffer) => (logs += chunk));
      stderr.on('data', (chunk: Buffer) => (logs += chunk));
    },
    host: '127.0.0.1',
    port: httpPort,
    d1Persist: persist,
    // The cron, as /cdn-cgi/handler/scheduled: an ordinary request, awaited with what it waits on.
    unsafeTriggerHandlers: true,
    ...(opts.onLog ? { handleStructuredLogs: ({ message }: { message: string }) => void opts.onLog!(message) } : {}),
    workers: [
      {
        name: 'certkeep',
        modules: true,
        scriptPath,
        compatibilityDate: '2025-09-01',
        d1Databases: { DB: D1_DATABASE },
        bindings: {
          MASTER_KEY: Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64'),
          SETUP_TOKEN: TEST_SETUP_TOKEN,
          LOG_LEVEL: 'debug',
          ALLOW_PRIVATE_TARGETS: TEST_PRIVATE_TARGETS,
          ...opts.env,
        },
      },
      harnessWorker(D1_DATABASE),
    ],
  });
  await mf.ready;
  const harness = (path: '/migrate' | '/sql', body: unknown) => callHarnessWorker(mf, path, body);
  await harness('/migrate', migrationStatements());
  return {
    kind: 'worker',
    baseUrl: `http://127.0.0.1:${httpPort}`,
    httpPort,
    setupHeaders: { 'Setup-Token': TEST_SETUP_TOKEN },
    async tick() {
      const res = await mf.dispatchFetch(`http://127.0.0.1:${httpPort}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent('* * * * *')}`);
      const outcome = await res.text();
      if (!res.ok) throw new Error(`the Worker's cron: ${res.status} ${outcome}`);
    },
    logs: () => logs,
    sql: (query, ...args) => harness('/sql', { query, args }),
    stop: () => mf.dispose(),
  };
}
