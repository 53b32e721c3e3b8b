// Free-port finder. Every port a test uses comes from here: other programs on this machine
// (and other test files running in parallel forks) hold the well-known defaults.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago.
 *
 * The port is drawn at random below Linux's ephemeral range (32768–60999 by default) and checked
 * by binding it. A port the kernel picks for port 0 comes from that ephemeral range, the same
 * range every outgoing connection takes its source port from, so between our check and the
 * daemon's bind any connect() on the machine could take it (seen: a node host failing with
 * "already in use"). Below the range only another listener can, and listeners are checked.
 *
 * Test files run in parallel processes, and a port checked free here is bound only later (after
 * a Pebble or a Worker has started, seconds on a loaded machine): two processes could draw the
 * same free number in that window (seen: Miniflare failing with "address already in use"). So a
 * port is also reserved for the life of this process with a file created exclusively under the
 * system's temporary directory; another process skips it while this one lives.
 *
 * With `udp: true` the same number is also checked free for UDP, for daemons that listen
 * on both (a DNS server). Callers that start daemons still retry on "address already in use".
 */
export async function freePort(opts: { udp?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (!reservePort(port)) continue;
    if ((await tcpPortFree(port)) && (!opts.udp || (await udpPortFree(port)))) return port;
  }
  throw new Error('freePort: no free port found after 50 attempts');
}

export const RESERVATIONS = join(tmpdir(), 'certkeep-test-ports');
const reserved: string[] = [];

/** Claims `port` for this process; false when a living process holds it already. */
export function reservePort(port: number): boolean {
  mkdirSync(RESERVATIONS, { recursive: true });
  const file = join(RESERVATIONS, String(port));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      if (reserved.push(file) === 1) process.once('exit', release);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner: number;
    try {
      owner = Number(readFileSync(file, 'utf8').trim());
    } catch {
      continue; // released in between: try to create it again
    }
    // Empty: created a moment ago, its owner not yet written.
    if (!owner || owner === process.pid || processLives(owner)) return false;
    // Left by a process that has ended: take it over (if another process does first, the
    // exclusive create above fails again and the port is skipped).
    try {
      unlinkSync(file);
    } catch {
      return false;
    }
  }
  return false;
}

function processLives(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function release(): void {
  for (const file of reserved.splice(0)) {
    try {
      unlinkSync(file);
    } catch {
      // already taken over or removed
    }
  }
}

/** Below the ephemeral range and above the well-known and common service ports. */
const LOW = 12_000;
const HIGH = 32_000;

function tcpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.unref();
    socket.once('error', () => {
      socket.close();
      resolve(false);
    });
    socket.bind({ address: '127.0.0.1', port, exclusive: true }, () => {
      socket.close(() => resolve(true));
    });
  });
}
