// wrk (Debian `wrk`): HTTP/1.1 keep-alive load from a fixed number of connections.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const WRK_BIN = '/usr/bin/wrk';

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  seconds: number;
  headers?: Record<string, string>;
}

export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  /** Answers other than 2xx/3xx, and socket errors: a run with any is not a measurement. */
  non2xx: number;
  socketErrors: number;
  /** wrk's own line, e.g. "connect 0, read 0, write 0, timeout 3", when there were socket errors. */
  socketErrorKinds?: string;
  latencyAvg: string;
}

export async function wrk(opts: WrkOptions): Promise<WrkResult> {
  const args = [`-t${opts.threads}`, `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency'];
  for (const [name, value] of Object.entries(opts.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(opts.url);
  const { stdout } = await run(WRK_BIN, args, { timeout: (opts.seconds + 30) * 1000 });
  const num = (re: RegExp) => Number(re.exec(stdout)?.[1] ?? NaN);
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const result: WrkResult = {
    requestsPerSecond: num(/Requests\/sec:\s+([\d.]+)/),
    requests: num(/(\d+) requests in/),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((n, e) => n + Number(e), 0) : 0,
    socketErrorKinds: errors ? errors[0].replace('Socket errors: ', '') : undefined,
    latencyAvg: /Latency\s+(\S+)/.exec(stdout)?.[1] ?? '?',
  };
  if (!Number.isFinite(result.requestsPerSecond)) throw new Error(`cannot read wrk's output:\n${stdout}`);
  return result;
}
