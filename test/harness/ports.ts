// Free-port finder. Every port a test uses comes from here: other programs on this machine
// (and other test files running in parallel forks) hold the well-known defaults.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago.
 *
 * The port is drawn at random below Linux's ephemeral range (32768–60999 by default) and checked
 * by binding it. A port the kernel picks for port 0 comes from that ephemeral range, the same
 * range every outgoing connection takes its source port from, so between our check and the
 * daemon's bind any connect() on the machine could take it (seen: a node host failing with
 * "already in use"). Below the range only another listener can, and listeners are checked.
 *
 * With `udp: true` the same number is also checked free for UDP, for daemons that listen
 * on both (a DNS server). Callers that start daemons still retry on "address already in use".
 */
export async function freePort(opts: { udp?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (!(await tcpPortFree(port))) continue;
    if (!opts.udp || (await udpPortFree(port))) return port;
  }
  throw new Error('freePort: no free port found after 50 attempts');
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
