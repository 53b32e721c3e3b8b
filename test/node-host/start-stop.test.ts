// Starting and stopping the node host as a service manager or a shell does (node host only: the
// Worker has no ports or signals of its own). A port that cannot be bound fails the start at once,
// naming every port; SIGTERM to `npm start` (a supervisor) and Ctrl-C (SIGINT to the terminal's
// process group) stop every process of the tree within seconds, and leave a database file that
// holds everything on its own, without its write-ahead log.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@libsql/client';
import { describePebble, startPebble, type Pebble } from '../harness/pebble.ts';
import { freePort } from '../harness/ports.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { NODE_FLAGS, ROOT } from '../harness/hosts.ts';
import { descendants, isAlive, startProcess, type RunningProcess } from '../harness/processes.ts';
import { AdminClient, setupBody } from '../harness/world.ts';
import { TEST_PRIVATE_TARGETS } from '../harness/outbound.ts';

const CLI = join(ROOT, 'node-host/bin/certkeep.mjs');

/** The environment of a node host on loopback; the test run's own CERTKEEP_TEST_* variables removed. */
function hostEnv(dataDir: string, httpPort: number, httpsPort: number): Record<string, string | undefined> {
  const testVars = Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('CERTKEEP_TEST_')).map((k) => [k, undefined]));
  return {
    ...testVars,
    CERTKEEP_DATA_DIR: dataDir,
    CERTKEEP_HTTP_PORT: String(httpPort),
    CERTKEEP_HTTPS_PORT: String(httpsPort),
    CERTKEEP_BIND: '127.0.0.1',
    CERTKEEP_LOG_LEVEL: 'info',
    CERTKEEP_ALLOW_PRIVATE_TARGETS: TEST_PRIVATE_TARGETS,
    npm_config_update_notifier: 'false',
  };
}

const started: RunningProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
});

/** Resolves with the exit code, or 'still running' after `ms`. */
const exitWithin = (proc: RunningProcess, ms: number) =>
  Promise.race([proc.exited, new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), ms))]);

/** A listener holding `port` on 127.0.0.1, as another program would. */
async function occupy(port: number): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}

/** Whether anything accepts a connection on `port`. */
const answers = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('a port that cannot be bound', () => {
  const blockers: net.Server[] = [];
  afterEach(async () => {
    await Promise.all(blockers.splice(0).map((b) => new Promise((resolve) => b.close(resolve))));
  });

  async function serveAgainst(taken: { http: boolean; https: boolean }) {
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    if (taken.http) blockers.push(await occupy(httpPort));
    if (taken.https) blockers.push(await occupy(httpsPort));
    const dataDir = makeTempDir('ports-');
    const proc = await startProcess(process.execPath, [...NODE_FLAGS, CLI, 'serve'], { cwd: ROOT, env: hostEnv(dataDir, httpPort, httpsPort), logFile: join(dataDir, 'serve.log') });
    started.push(proc);
    const code = await exitWithin(proc, 10_000);
    const problems = proc.output().split('\n').filter((line) => line.includes('cannot listen'));
    return { code, problems, httpPort, httpsPort };
  }

  it('stops the start at once when the HTTPS port is taken, and the HTTP port does not answer', async () => {
    const { code, problems, httpPort, httpsPort } = await serveAgainst({ http: false, https: true });
    expect(code).not.toBe('still running');
    expect(code).not.toBe(0);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`port ${httpsPort} (CERTKEEP_HTTPS_PORT): it is already in use`);
    expect(problems[0]).not.toContain('CERTKEEP_HTTP_PORT)');
    expect(await answers(httpPort)).toBe(false);
  });

  it('names every port that failed in one message', async () => {
    const { code, problems, httpPort, httpsPort } = await serveAgainst({ http: true, https: true });
    expect(code).not.toBe('still running');
    expect(code).not.toBe(0);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`port ${httpPort} (CERTKEEP_HTTP_PORT): it is already in use`);
    expect(problems[0]).toContain(`port ${httpsPort} (CERTKEEP_HTTPS_PORT): it is already in use`);
  });
});

describePebble('npm start and signals', () => {
  let pebble: Pebble;
  beforeAll(async () => {
    pebble = await startPebble({ httpPort: await freePort() });
  });
  afterAll(async () => pebble?.stop());

  // npm is started here rather than through the harness's startProcess: the harness stops the
  // orphans of a process that exits, which would hide the very failure these tests look for (a
  // node server left running after npm is gone). What is left is stopped here, by pid.
  const trees: number[][] = [];
  afterEach(() => {
    for (const pid of trees.splice(0).flat()) if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  });

  interface NpmStart {
    npm: ChildProcess;
    /** npm and every process under it (the node server), as they were once it answered. */
    tree: number[];
    output(): string;
    dataDir: string;
    certificate: string;
  }

  /** `npm start` on a fresh data dir, set up through its API, with a certificate created: every write went through the server. */
  async function npmStartWithData(): Promise<NpmStart> {
    const [httpPort, httpsPort] = [await freePort(), await freePort()];
    const dataDir = makeTempDir('npm-start-');
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const [k, v] of Object.entries(hostEnv(dataDir, httpPort, httpsPort))) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    // Its own process group, as a shell gives a foreground job.
    const npm = spawn('npm', ['start'], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout!.on('data', (chunk: Buffer) => (out += chunk));
    npm.stderr!.on('data', (chunk: Buffer) => (out += chunk));
    const tree = [npm.pid!];
    trees.push(tree);
    const baseUrl = `http://127.0.0.1:${httpPort}`;
    for (let i = 0; !(await fetch(`${baseUrl}/healthz`).then((r) => r.ok, () => false)); i++) {
      if (i > 600 || npm.exitCode !== null) throw new Error(`npm start did not answer:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    tree.push(...descendants(npm.pid!));
    const api = new AdminClient(baseUrl);
    const setup = await api.post('/api/v1/setup', setupBody(pebble));
    expect(setup.status).toBe(201);
    api.token = setup.body.token;
    const certificate = `kept-${Date.now()}`;
    expect((await api.post('/api/v1/certificates', { name: certificate, domains: [`${certificate}.example.com`] })).status).toBe(201);
    return { npm, tree, output: () => out, dataDir, certificate };
  }

  /**
   * Sends the signal (through `send`) and waits up to 5 s for npm to exit. Returns the processes
   * of the tree that were still alive when npm exited (npm must wait for its script to end), and
   * those alive at the end.
   */
  async function stopWith(run: NpmStart, send: () => void): Promise<{ npmExited: boolean; aliveAtNpmExit: number[]; alive: number[] }> {
    expect(run.tree.length).toBeGreaterThanOrEqual(2); // npm and the node server under it
    const others = run.tree.filter((pid) => pid !== run.npm.pid);
    const npmExit = new Promise<number[]>((resolve) => run.npm.once('exit', () => resolve(others.filter(isAlive))));
    send();
    const aliveAtNpmExit = await Promise.race([npmExit, new Promise<undefined>((resolve) => setTimeout(resolve, 5_000))]);
    return { npmExited: aliveAtNpmExit !== undefined, aliveAtNpmExit: aliveAtNpmExit ?? others, alive: run.tree.filter(isAlive) };
  }

  /** Opens a copy of certkeep.db alone (no -wal, no -shm) and returns the certificate names in it. */
  async function namesInDatabaseFileAlone(dataDir: string): Promise<string[]> {
    const copy = join(makeTempDir('db-alone-'), 'certkeep.db');
    copyFileSync(join(dataDir, 'certkeep.db'), copy);
    expect(existsSync(`${copy}-wal`)).toBe(false);
    const client = createClient({ url: `file:${copy}` });
    try {
      return (await client.execute('select name from certificates')).rows.map((r) => String(r.name));
    } finally {
      client.close();
    }
  }

  it('stops every process of `npm start` within seconds on SIGTERM to npm, leaving a complete database file', async () => {
    const run = await npmStartWithData();
    expect(await stopWith(run, () => process.kill(run.npm.pid!, 'SIGTERM'))).toEqual({ npmExited: true, aliveAtNpmExit: [], alive: [] });
    expect(run.output()).toMatch(/"msg":"certkeep stopped"/);
    expect(await namesInDatabaseFileAlone(run.dataDir)).toContain(run.certificate);
  });

  it('does the same on Ctrl-C (SIGINT to the whole process group)', async () => {
    const run = await npmStartWithData();
    expect(await stopWith(run, () => process.kill(-run.npm.pid!, 'SIGINT'))).toEqual({ npmExited: true, aliveAtNpmExit: [], alive: [] });
    expect(run.output()).toMatch(/"msg":"certkeep stopped"/);
    expect(await namesInDatabaseFileAlone(run.dataDir)).toContain(run.certificate);
  });
});
