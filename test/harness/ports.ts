// Free-port finder. Every port a test uses comes from here: other programs on this machine
// (and other test files running in parallel forks) hold the well-known defaults.
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it for port 0).
 *
 * With `udp: true` the same number is also checked free for UDP, for daemons that listen
 * on both (a DNS server). There is an unavoidable race between closing our socket and the
 * daemon binding it; callers that start daemons retry on "address already in use".
 */
export async function freePort(opts: { udp?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await kernelTcpPort();
    if (!opts.udp || (await udpPortFree(port))) return port;
  }
  throw new Error('freePort: no port free for both TCP and UDP after 20 attempts');
}

function kernelTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('freePort: listener has no port'));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
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
