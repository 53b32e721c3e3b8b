// Anchors: the peer ACME clients a benchmark compares Certkeep against, timed against the same
// Pebble in the same run. Each function issues one certificate for `domains` over http-01 and
// returns the wall-clock milliseconds from process start to a successful exit.
//
// Both clients answer http-01 with their own built-in server on 127.0.0.1:<httpPort> — the port
// Pebble's validator was started with. Pebble resolves the names through challtestsrv (its
// -dnsserver), which answers 127.0.0.1 for every name, so the clients themselves never resolve
// them and only ever talk to Pebble on 127.0.0.1.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess } from '../test/harness/processes.ts';

export interface AnchorRun {
  /** Pebble's directory URL. */
  directoryUrl: string;
  /** The port Pebble's validator connects to for http-01 (its `httpPort`). */
  httpPort: number;
  /** Names for one certificate, e.g. two fresh random subdomains. */
  domains: string[];
  /** Scratch directory for the client's config, account, logs and certificates. */
  workDir: string;
  /** PEM file that makes the client trust Pebble's HTTPS certificate (the test CA). */
  caBundle: string;
  /** Stopped (whole process tree, by pid) and failed after this long; default 120 s. */
  timeoutMs?: number;
}

/** Debian certbot 2.1.0, `certonly --standalone`. Trusts Pebble through REQUESTS_CA_BUNDLE. */
export async function runCertbot(run: AnchorRun): Promise<number> {
  const dirs = ['config', 'work', 'logs'].map((d) => join(run.workDir, d));
  dirs.forEach((d) => mkdirSync(d, { recursive: true }));
  const [configDir, workDir, logsDir] = dirs;
  return timed('certbot', [
    'certonly', '--standalone',
    '--preferred-challenges', 'http',
    '--http-01-address', '127.0.0.1',
    '--http-01-port', String(run.httpPort),
    '--server', run.directoryUrl,
    '--non-interactive', '--agree-tos', '--no-eff-email', '-m', 'x@example.com',
    '--config-dir', configDir, '--work-dir', workDir, '--logs-dir', logsDir,
    ...run.domains.flatMap((d) => ['-d', d]),
  ], { REQUESTS_CA_BUNDLE: run.caBundle }, run);
}

/** lego 4.9.1, `run` with its built-in http-01 server. Trusts Pebble through LEGO_CA_CERTIFICATES. */
export async function runLego(run: AnchorRun): Promise<number> {
  mkdirSync(run.workDir, { recursive: true });
  return timed('lego', [
    '--server', run.directoryUrl,
    '--email', 'x@example.com', '--accept-tos',
    '--http', '--http.port', `127.0.0.1:${run.httpPort}`,
    '--path', run.workDir,
    ...run.domains.flatMap((d) => ['-d', d]),
    'run',
  ], { LEGO_CA_CERTIFICATES: run.caBundle }, run);
}

async function timed(cmd: string, args: string[], env: Record<string, string>, run: AnchorRun): Promise<number> {
  const timeoutMs = run.timeoutMs ?? 120_000;
  const started = performance.now();
  const proc = await startProcess(cmd, args, { env, cwd: run.workDir, logFile: join(run.workDir, `${cmd}.out`) });
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const result = await Promise.race([proc.exited, timedOut]);
  const elapsed = performance.now() - started;
  clearTimeout(timer);
  if (result === 'timeout') {
    await proc.stop();
    throw new Error(`${cmd} did not finish in ${timeoutMs} ms; output:\n${proc.output()}`);
  }
  if (result !== 0) throw new Error(`${cmd} exited with ${result}; output:\n${proc.output()}`);
  return elapsed;
}
