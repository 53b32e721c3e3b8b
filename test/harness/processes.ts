// Child processes for tests: start, wait until ready, stop the whole tree by process id.
//
// Why trees: `npx`, `wrangler dev` and Miniflare start grandchildren (node, workerd, esbuild)
// that outlive a kill of their parent. We stop children first (found with `pgrep -P`, while
// their parent is still alive to be asked), SIGTERM then SIGKILL after a grace period.
// We never kill by name: other programs of the same name may be running on this machine.
//
// Each program is started in its own process group (`detached`), so that a grandchild whose
// parent already exited — and which `pgrep -P` can no longer find — is still found by its
// group id (`pgrep -g`). Both lookups are by id. A group id cannot be handed out as a new
// pid while the group has members, so a group lookup never hits an unrelated process.
//
// Three safety nets so that nothing outlives the test run:
//  1. `stop()` in the test's own afterAll;
//  2. an exit/signal hook in this process (vitest stops a fork with SIGTERM, then SIGKILL
//     500 ms later), which SIGKILLs every tree still registered;
//  3. a pid file per process under `$CERTKEEP_TEST_RUN_DIR/pids`, which the global teardown
//     reaps (`reapLeftovers`) in case this process itself was SIGKILLed.
import { spawn, execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface StartProcessOptions {
  /** Added to the inherited environment (so PATH and NODE_EXTRA_CA_CERTS carry over); `undefined` removes a key. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Polled until it resolves true; a throw counts as "not yet". Without it the process counts as ready once spawned. */
  readyWhen?: () => Promise<boolean>;
  /** Default 30 s. On timeout the tree is stopped and the start rejects with the output so far. */
  readyTimeoutMs?: number;
  /** stdout and stderr are also appended here. */
  logFile?: string;
  /** Time between SIGTERM and SIGKILL; default 3 s. */
  stopGraceMs?: number;
}

export interface RunningProcess {
  pid: number;
  /** Stops the process and all its descendants; resolves once every one of them is gone. */
  stop(): Promise<void>;
  /** stdout and stderr interleaved (the last 2 MB). */
  output(): string;
  /** The exit code, or null when ended by a signal. */
  exited: Promise<number | null>;
}

const OUTPUT_CAP = 2 * 1024 * 1024;
const POLL_MS = 50;

/** Roots we started whose tree may still have members, and whether the root itself has exited. */
const live = new Map<number, { rootExited: boolean }>();

export async function startProcess(cmd: string, args: string[], opts: StartProcessOptions = {}): Promise<RunningProcess> {
  installExitHook();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: mergeEnv(process.env, opts.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });

  // The output as chunks, the oldest dropped while the rest still hold OUTPUT_CAP: a chatty
  // process (Pebble logs every request) is not copied whole at every chunk once it has that much.
  // The text is made when asked for and kept until the next chunk (tests poll it).
  const chunks: Buffer[] = [];
  let held = 0;
  let text: string | undefined;
  const collect = (chunk: Buffer): void => {
    chunks.push(chunk);
    held += chunk.length;
    text = undefined;
    while (chunks.length > 1 && held - chunks[0].length >= OUTPUT_CAP) held -= chunks.shift()!.length;
    if (opts.logFile) appendFileSync(opts.logFile, chunk);
  };
  const output = (): string => {
    if (text === undefined) {
      const all = Buffer.concat(chunks, held);
      text = all.subarray(Math.max(0, all.length - OUTPUT_CAP)).toString('utf8');
    }
    return text;
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);

  // A missing program reports ENOENT through 'error', and there is no pid.
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new Error(`cannot start ${cmd}: ${err.message}`)));
  });
  const pid = child.pid!;
  remember(pid, cmd);

  // Resolve once the output is complete too ('close': stdio ended), so that output() is whole
  // when a test reads it after `exited`; but an orphan holding the pipes open must not keep
  // us waiting, so at most 500 ms after the process itself exited.
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      rootExited(pid);
      const timer = setTimeout(() => resolve(code), 500);
      child.once('close', () => {
        clearTimeout(timer);
        resolve(code);
      });
    });
  });
  const hasExited = (): boolean => child.exitCode !== null || child.signalCode !== null;

  let stopping: Promise<void> | undefined;
  const running: RunningProcess = {
    pid,
    output,
    exited,
    stop: () => (stopping ??= stopTree(pid, exited, opts.stopGraceMs ?? 3000)),
  };

  if (opts.readyWhen) {
    const timeoutMs = opts.readyTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (hasExited()) {
        const code = await exited;
        await running.stop();
        throw new Error(`${cmd} exited (code ${code}) before it was ready; output:\n${tail(output())}`);
      }
      if (await opts.readyWhen().catch(() => false)) break;
      if (Date.now() > deadline) {
        await running.stop();
        throw new Error(`${cmd} not ready after ${timeoutMs} ms; output:\n${tail(output())}`);
      }
      await sleep(POLL_MS);
    }
  }
  return running;
}

/** Direct children of `pid`, then theirs, deepest first — the order we stop them in. */
export function descendants(pid: number): number[] {
  return pgrep('-P', pid).flatMap((c) => [...descendants(c), c]);
}

/**
 * The processes to stop for a root we started, children first: its descendants, then other
 * members of its process group (orphans whose parent already exited), then the root itself
 * unless it has already exited (its pid may then belong to someone else).
 */
export function treeOf(root: number): number[] {
  const tree = descendants(root);
  for (const member of pgrep('-g', root)) {
    if (member !== root && !tree.includes(member)) tree.push(...descendants(member), member);
  }
  const rootGone = live.get(root)?.rootExited ?? false;
  return [...new Set(rootGone ? tree : [...tree, root])];
}

/** True while the process exists and is not a zombie (a zombie is dead but not yet reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const state = procStat(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/** `pgrep` exits 1 when nothing matches. */
function pgrep(flag: '-P' | '-g', id: number): number[] {
  try {
    return execFileSync('pgrep', [flag, String(id)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

async function stopTree(root: number, exited: Promise<number | null>, graceMs: number): Promise<void> {
  const tree = treeOf(root);
  signalAll(tree, 'SIGTERM');
  if (!(await waitGone(tree, graceMs))) {
    // Members may have started children of their own meanwhile: look again before SIGKILL.
    const again = [...new Set([...tree.filter(isAlive).flatMap((p) => [...descendants(p), p]), ...treeOf(root)])];
    signalAll(again, 'SIGKILL');
    if (!(await waitGone(again, 5000))) {
      throw new Error(`processes still alive after SIGKILL: ${again.filter(isAlive).join(' ')}`);
    }
  }
  await exited; // Node has reaped the root
  forget(root);
}

async function waitGone(pids: number[], ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // already gone
    }
  }
}

function mergeEnv(base: NodeJS.ProcessEnv, extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

function tail(s: string): string {
  return s.length > 4000 ? `…${s.slice(-4000)}` : s;
}

// ---- /proc: state and start time, so a recorded pid is never confused with a reused one ----

interface ProcStat {
  state: string;
  startTime: string;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: split after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], startTime: fields[19] };
  } catch {
    return undefined;
  }
}

// ---- bookkeeping for safety nets 2 and 3 ----

function pidDir(): string | undefined {
  const runDir = process.env.CERTKEEP_TEST_RUN_DIR;
  return runDir ? join(runDir, 'pids') : undefined;
}

function remember(pid: number, cmd: string): void {
  live.set(pid, { rootExited: false });
  const dir = pidDir();
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const record = { pid, startTime: procStat(pid)?.startTime, cmd, owner: process.pid };
  writeFileSync(join(dir, `${pid}.json`), JSON.stringify(record));
}

/**
 * The root exited on its own or by our signal. Orphans left in its group get SIGTERM now;
 * the bookkeeping stays until the group is empty (then stop() or the hooks no longer need it).
 */
function rootExited(pid: number): void {
  const entry = live.get(pid);
  if (!entry) return;
  entry.rootExited = true;
  const orphans = pgrep('-g', pid);
  if (orphans.length === 0) forget(pid);
  else signalAll(orphans, 'SIGTERM');
}

function forget(pid: number): void {
  live.delete(pid);
  const dir = pidDir();
  if (dir) rmSync(join(dir, `${pid}.json`), { force: true });
}

/** SIGKILL a tree now, children first. For exit paths, where nothing can be awaited. */
function killTreeSync(root: number): void {
  signalAll(treeOf(root), 'SIGKILL');
}

let hookInstalled = false;

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  process.on('exit', () => {
    for (const root of live.keys()) killTreeSync(root);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      for (const root of [...live.keys()]) {
        killTreeSync(root);
        forget(root);
      }
      // Let the signal do what it would have done without us, unless someone else handles it.
      process.off(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/**
 * Kills every process recorded under `runDir/pids` that is still the same process (same
 * start time), with its descendants and group, and returns what it killed. Called by the
 * global teardown, after every test worker has ended.
 */
export function reapLeftovers(runDir: string): string[] {
  const dir = join(runDir, 'pids');
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  const reaped: string[] = [];
  for (const file of files) {
    try {
      const record = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { pid: number; startTime?: string; cmd: string };
      const same = procStat(record.pid)?.startTime === record.startTime && isAlive(record.pid);
      const group = pgrep('-g', record.pid);
      // The group outlives its leader, and its id stays reserved while it has members; so if
      // the leader is gone but a process with its pid leads that group, the pid was reused
      // after the group emptied, and the group is not ours.
      const ours = same || !group.includes(record.pid);
      const members = ours ? [...(same ? descendants(record.pid) : []), ...group] : [];
      if (members.length > 0) {
        signalAll([...new Set(members)], 'SIGKILL');
        reaped.push(`${record.cmd} (pid ${record.pid})`);
      }
    } catch {
      // unreadable record: nothing safe to do
    }
    rmSync(join(dir, file), { force: true });
  }
  return reaped;
}
