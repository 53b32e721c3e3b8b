// The node host's RunScript (src/domain/dns/types.ts): runs a dns-01 provider's program.
//
// - No shell: spawn with an argv array and `shell: false`, so an argument is one argv entry
//   whatever characters it holds.
// - No inherited secrets: the child gets PATH, HOME and LANG from this process plus the
//   provider's own variables — not our environment, which holds CERTKEEP_MASTER_KEY, database
//   tokens and SMTP passwords.
// - No leftovers: the child leads its own process group (`detached`), and the group is what we
//   signal — on timeout (SIGTERM, SIGKILL after a grace period) and once the program has ended,
//   so a helper it started in the background (`sleep 100 &`, a hung curl) cannot outlive it
//   or hold its pipes open.
// - Bounded output: each stream keeps its last OUTPUT_CAP bytes.
import { spawn } from 'node:child_process';
import { homedir } from 'node:os';
import { CertkeepError } from '../src/errors.ts';
import type { RunScript, ScriptResult } from '../src/domain/dns/types.ts';

/** Per stream; the driver trims further for the order's log. */
const OUTPUT_CAP = 64 * 1024;
const DEFAULT_KILL_GRACE_MS = 5000;
/** How long stdout/stderr may stay open after the program exited (a background child holding them). */
const PIPE_GRACE_MS = 1000;

export interface ScriptRunnerOptions {
  /** Time between SIGTERM and SIGKILL; default 5 s. */
  killGraceMs?: number;
  /** The environment PATH, HOME and LANG are taken from; default process.env. */
  baseEnv?: NodeJS.ProcessEnv;
}

/** The minimal environment a script starts from, plus the provider's variables (which win). */
export function scriptEnvironment(extra: Record<string, string>, base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    PATH: base.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: base.HOME ?? homedir(),
    LANG: base.LANG ?? 'C.UTF-8',
    ...extra,
  };
}

export function createScriptRunner(opts: ScriptRunnerOptions = {}): RunScript {
  const killGraceMs = opts.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  return (command, args, { env, timeoutMs }) =>
    new Promise<ScriptResult>((resolve, reject) => {
      const child = spawn(command, args, {
        shell: false,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: scriptEnvironment(env, opts.baseEnv),
        detached: true,
        windowsHide: true,
      });
      const stdout = new TailBuffer(OUTPUT_CAP);
      const stderr = new TailBuffer(OUTPUT_CAP);
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));

      let timedOut = false;
      let settled = false;
      let exitCode: number | null = null;
      let pipeTimer: NodeJS.Timeout | undefined;

      /** Signals every process of the child's group; false when none is left. */
      const signalGroup = (signal: NodeJS.Signals): boolean => {
        if (child.pid === undefined) return false;
        try {
          if (process.platform === 'win32') child.kill(signal);
          else process.kill(-child.pid, signal);
          return true;
        } catch {
          return false;
        }
      };
      /** SIGTERM now, SIGKILL after the grace period to whatever ignored it. */
      const stopGroup = (): void => {
        if (signalGroup('SIGTERM')) setTimeout(() => signalGroup('SIGKILL'), killGraceMs).unref();
      };

      const deadline = setTimeout(() => {
        timedOut = true;
        stopGroup();
      }, timeoutMs);

      const finish = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        clearTimeout(pipeTimer);
        child.stdout.destroy();
        child.stderr.destroy();
        // The program is done; anything it left running in its group goes with it.
        stopGroup();
        resolve({ code: exitCode, stdout: stdout.text(), stderr: stderr.text(), timedOut });
      };

      child.on('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        clearTimeout(pipeTimer);
        reject(spawnError(command, err));
      });
      child.on('exit', (code) => {
        exitCode = code;
        clearTimeout(deadline);
        // 'close' follows once both pipes are closed; a background child may keep them open.
        pipeTimer = setTimeout(finish, PIPE_GRACE_MS);
      });
      child.on('close', finish);
    });
}

/** The runner the node host hands to the core. */
export const runScript: RunScript = createScriptRunner();

function spawnError(command: string, err: NodeJS.ErrnoException): CertkeepError {
  const message =
    err.code === 'ENOENT'
      ? `command not found: ${command}`
      : err.code === 'EACCES'
        ? `command not executable (permission denied): ${command}`
        : `cannot start ${command}: ${err.message}`;
  return new CertkeepError('DNS_PROVIDER_FAILED', message, { provider: 'script', reason: err.code });
}

/** Keeps the last `cap` bytes pushed into it. */
class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private dropped = 0;

  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size - this.chunks[0].length >= this.cap) {
      this.size -= this.chunks[0].length;
      this.dropped += this.chunks[0].length;
      this.chunks.shift();
    }
  }

  text(): string {
    const all = Buffer.concat(this.chunks);
    const kept = all.length > this.cap ? all.subarray(all.length - this.cap) : all;
    const prefix = this.dropped + (all.length - kept.length) > 0 ? `[${this.dropped + all.length - kept.length} bytes before this cut]\n` : '';
    return prefix + kept.toString('utf8');
  }
}
