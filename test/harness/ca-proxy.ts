// A TLS-terminating proxy in front of Pebble, for fault tests: it sees every ACME exchange in
// clear, can react to one (kill the host right after the CA answered newOrder, say), and can cut
// the CA off and bring it back without Pebble losing its state (a CA outage).
//
// Pebble builds its URLs from the Host header, so clients that use the proxy's directory URL
// talk to the proxy throughout, and the JWS `url` they sign is the URL Pebble checks against.
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { testCa } from './ca.ts';

export interface Exchange {
  method: string;
  path: string;
  status: number;
}

export interface CannedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface CaProxy {
  /** The directory URL to give clients: `https://127.0.0.1:<proxy port>/dir`. */
  directoryUrl: string;
  /** Every exchange so far, in order. */
  exchanges: Exchange[];
  /** Called after each answer was sent back to the client. */
  onExchange: ((exchange: Exchange) => void) | undefined;
  /**
   * Called before a request goes on to the CA; it may hold the request (return a promise) and
   * may drop it (resolve to false): the client then waits, as for a CA that does not answer.
   */
  beforeForward: ((request: { method: string; path: string }) => Promise<boolean> | boolean) | undefined;
  /**
   * Answers a request itself instead of passing it on (the CA never sees it): e.g. a 429
   * `rateLimited` problem with Retry-After. Undefined: forward as usual.
   */
  respondInstead: ((request: { method: string; path: string }) => CannedAnswer | undefined) | undefined;
  /** From now on, connections are reset: the CA is unreachable. */
  cut(): void;
  restore(): void;
  stop(): Promise<void>;
}

export async function startCaProxy(pebbleDirectoryUrl: string): Promise<CaProxy> {
  const upstream = new URL(pebbleDirectoryUrl);
  const ca = testCa();
  let down = false;
  const sockets = new Set<Socket>();
  const proxy: CaProxy = {
    directoryUrl: '',
    exchanges: [],
    onExchange: undefined,
    beforeForward: undefined,
    respondInstead: undefined,
    cut() {
      down = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      down = false;
    },
    stop: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (down) return void req.socket.destroy();
    const path = new URL(req.url!, 'https://x').pathname;
    if (proxy.beforeForward && !(await proxy.beforeForward({ method: req.method!, path }))) return;
    const canned = proxy.respondInstead?.({ method: req.method!, path });
    if (canned) {
      req.resume();
      res.writeHead(canned.status, canned.headers ?? {});
      res.end(canned.body ?? '', () => {
        const exchange = { method: req.method!, path, status: canned.status };
        proxy.exchanges.push(exchange);
        proxy.onExchange?.(exchange);
      });
      return;
    }
    // node:https, not fetch: fetch drops the Host header, and Pebble must see the proxy's.
    const forward = https.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => {
          if (down) return void req.socket.destroy();
          res.writeHead(answer.statusCode!, answer.headers);
          res.end(Buffer.concat(chunks), () => {
            const exchange = { method: req.method!, path: new URL(req.url!, 'https://x').pathname, status: answer.statusCode! };
            proxy.exchanges.push(exchange);
            proxy.onExchange?.(exchange);
          });
        });
      },
    );
    forward.on('error', () => req.socket.destroy());
    req.pipe(forward);
  };

  const server = https.createServer({ cert: readFileSync(ca.leafCertPath), key: readFileSync(ca.leafKeyPath) }, (req, res) => void handle(req, res).catch(() => req.socket.destroy()));
  server.on('connection', (s: Socket) => {
    if (down) return void s.destroy();
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.directoryUrl = `https://127.0.0.1:${(server.address() as AddressInfo).port}${upstream.pathname}`;
  return proxy;
}
