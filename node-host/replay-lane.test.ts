// The replay lane against node:http itself: two servers with the same app and the same replay
// state, one with the lane in front, one without, get the same bytes on raw sockets, and must
// answer with the same bytes (Date aside). Also checks that the lane did answer where it should
// (node:http never saw those requests) and that it keeps node:http's connection management.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestContext } from '../src/http/context.ts';
import { DownloadCache, markReplayable } from '../src/http/download-cache.ts';
import { parseIpList } from '../src/http/ip.ts';
import { testCa } from '../test/harness/ca.ts';
import { createRequestListener } from './http-adapter.ts';
import { installReplayLane, wireBytes } from './replay-lane.ts';
import type { ReplayOptions } from './replay-cache.ts';

type AnyServer = http.Server | https.Server;
const servers: AnyServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Side {
  server: AnyServer;
  port: number;
  /** Requests that reached node:http's request listener. */
  nodeRequests: number;
  /** Requests the app itself answered. */
  appCalls: number;
  errors: unknown[];
}

/** Shared by both sides, so that a version change reaches both. */
interface World {
  version: string | null;
}

/**
 * An app that answers like the download API: a known key gets a body naming what was asked,
 * marked replayable, or 304 for its ETag; anything else 401, not marked. Bodies depend only on
 * the request, so that both sides give the same bytes whatever they replayed.
 */
async function side(world: World, opts: { lane: boolean; tls?: boolean; trustProxy?: string; keepAliveTimeout?: number }): Promise<Side> {
  const replay: ReplayOptions = { version: () => world.version, hash: (text) => `sha(${text})` };
  const cache = new DownloadCache({ version: replay.version, sha256Hex: replay.hash });
  const result = { nodeRequests: 0, appCalls: 0, errors: [] as unknown[] } as Side;
  const app = {
    async fetch(request: Request, ctx: RequestContext): Promise<Response> {
      result.appCalls++;
      const round = cache.begin();
      const key = request.headers.get('apikey');
      if (key !== 'cka_one' && key !== 'cka_two') return new Response('{"title":"Unauthorized"}', { status: 401, headers: { 'content-type': 'application/problem+json' } });
      const etag = `"${key}"`;
      const headers = new Headers({ etag, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      headers.append('set-cookie', 'a=1');
      headers.append('set-cookie', 'b=2');
      const url = new URL(request.url);
      const response =
        request.headers.get('if-none-match') === etag
          ? new Response(null, { status: 304, headers })
          : new Response(`${request.method} ${url.pathname}${url.search} for ${key} from ${ctx.clientIp} ${ctx.secure ? 'https' : 'http'} ✓ ${world.version}\n`, { headers });
      return round ? markReplayable(response, round) : response;
    },
  };
  const handler = createRequestListener(app, {
    secure: opts.tls ?? false,
    trustProxy: parseIpList(opts.trustProxy ?? '', { defaultLoopback: false }),
    onError: (err) => result.errors.push(err),
    replay,
  });
  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    result.nodeRequests++;
    handler.listener(req, res);
  };
  const keepAliveTimeout = opts.keepAliveTimeout ?? 65_000;
  const ca = testCa();
  const server = opts.tls
    ? https.createServer({ cert: readFileSync(ca.leafCertPath), key: readFileSync(ca.leafKeyPath), keepAliveTimeout }, listener)
    : http.createServer({ keepAliveTimeout }, listener);
  if (opts.lane) installReplayLane(server, handler, { onError: (err) => result.errors.push(err) });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  result.server = server;
  result.port = (server.address() as AddressInfo).port;
  return result;
}

interface Exchange {
  /** Everything the server sent, Date values blanked. */
  text: string;
  /** Whether the server closed the connection (within the wait). */
  closed: boolean;
}

interface ExchangeOptions {
  tls?: boolean;
  /** Send each part only once the previous one was answered (else after a pause of `gapMs`). */
  stepwise?: boolean;
  gapMs?: number;
  quietMs?: number;
  /** Half-close after the last part. */
  end?: boolean;
}

/**
 * Sends `parts` on one new connection, then collects what comes back until the server closes
 * or is quiet for `quietMs`.
 */
function exchange(port: number, parts: Array<string | Buffer>, opts: ExchangeOptions = {}): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = opts.tls ? tls.connect({ port, host: '127.0.0.1', ca: readFileSync(testCa().caCertPath), servername: 'localhost' }) : net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let quiet: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(quiet);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1').replace(/^Date: .*$/gm, 'Date: (now)'), closed });
    };
    const waitQuiet = () => {
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(false), opts.quietMs ?? 150);
    };
    let answered: (() => void) | undefined;
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      answered?.();
      waitQuiet();
    });
    socket.on('close', () => finish(true));
    socket.on('error', (err) => (done ? undefined : reject(err)));
    socket.once(opts.tls ? 'secureConnect' : 'connect', async () => {
      let reply = Promise.resolve();
      for (const [i, part] of parts.entries()) {
        if (i > 0 && opts.stepwise) await reply;
        else if (i > 0) await new Promise((r) => setTimeout(r, opts.gapMs ?? 50));
        reply = new Promise<void>((r) => (answered = r));
        socket.write(part);
      }
      if (opts.end) socket.end();
      // Every exchange here gets an answer or a close: the quiet time counts from the first byte.
      clearTimeout(quiet);
      quiet = setTimeout(() => finish(false), 3000);
    });
  });
}

const get = (target = '/api/certificate/www', extra = '', key = 'cka_one') => `GET ${target} HTTP/1.1\r\nHost: certs.example\r\napikey: ${key}\r\n${extra}\r\n`;

/** The same exchange on both sides; the answers must be identical. Returns the lane side's. */
async function both(a: Side, b: Side, parts: Array<string | Buffer>, opts: ExchangeOptions = {}): Promise<Exchange> {
  const [lane, plain] = await Promise.all([exchange(a.port, parts, opts), exchange(b.port, parts, opts)]);
  expect(lane).toEqual(plain);
  return lane;
}

async function pair(opts: { tls?: boolean; trustProxy?: string; keepAliveTimeout?: number } = {}) {
  const world: World = { version: 'v1' };
  const a = await side(world, { ...opts, lane: true });
  const b = await side(world, { ...opts, lane: false });
  return { world, a, b };
}

describe('the replay lane answers as node:http does', () => {
  it('writes a repeated download itself, byte for byte what node:http writes', async () => {
    const { a, b } = await pair();
    const first = await both(a, b, [get()]);
    expect(first.text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(a.nodeRequests).toBe(1);

    const again = await both(a, b, [get()]);
    expect(again.text).toBe(first.text);
    expect(again.text).toContain('set-cookie: a=1\r\nset-cookie: b=2\r\n');
    expect(again.text).toContain('Connection: keep-alive\r\nKeep-Alive: timeout=65\r\n');
    expect(a.nodeRequests).toBe(1); // the lane answered
    expect(b.nodeRequests).toBe(2);
    expect(a.appCalls).toBe(1);
    expect(a.errors).toEqual([]);
  });

  it('replays a 304 without a body', async () => {
    const { a, b } = await pair();
    const conditional = get(undefined, 'If-None-Match: "cka_one"\r\n');
    await both(a, b, [conditional]);
    const again = await both(a, b, [conditional]);
    expect(again.text).toMatch(/^HTTP\/1\.1 304 Not Modified\r\n[^]*\r\n\r\n$/);
    expect(a.nodeRequests).toBe(1);
  });

  it('answers pipelined requests in order, handing the connection over at the first it cannot answer', async () => {
    const { a, b } = await pair();
    await both(a, b, [get(), get('/api/certificate/www?chain=false')]);
    const before = a.nodeRequests;
    const batch = [
      get(),
      get('/api/certificate/www?chain=false'),
      get().replace('GET', 'HEAD'),
      get(), // node:http's from here on
      'POST /api/certificate/www HTTP/1.1\r\nHost: certs.example\r\napikey: cka_one\r\nContent-Length: 5\r\n\r\nchain',
      get(),
    ].join('');
    const out = await both(a, b, [batch]);
    expect(out.text.match(/^HTTP\/1\.1 /gm)).toHaveLength(6);
    expect(a.nodeRequests - before).toBe(4);
  });

  it('answers several requests in one read with one write each, and keeps the connection', async () => {
    const { a, b } = await pair();
    await both(a, b, [get()]);
    const out = await both(a, b, [get().repeat(3), get()], { stepwise: true });
    expect(out.text.match(/^HTTP\/1\.1 200 OK/gm)).toHaveLength(4);
    expect(out.closed).toBe(false);
    expect(a.nodeRequests).toBe(1);
  });

  // Requests node:http reads (some of them end the connection).
  it.each([
    ['HEAD', get().replace('GET', 'HEAD')],
    ['HTTP/1.0', get().replace('HTTP/1.1', 'HTTP/1.0')],
    ['HTTP/1.0 with keep-alive', get(undefined, 'Connection: keep-alive\r\n').replace('HTTP/1.1', 'HTTP/1.0')],
    ['Connection: close', get(undefined, 'Connection: close\r\n')],
    ['Connection: keep-alive, close', get(undefined, 'Connection: keep-alive, close\r\n')],
    ['Content-Length: 0', get(undefined, 'Content-Length: 0\r\n')],
    ['a chunked body', `${get(undefined, 'Transfer-Encoding: chunked\r\n')}5\r\nchain\r\n0\r\n\r\n`],
    ['Expect: 100-continue', get(undefined, 'Expect: 100-continue\r\n')],
    ['two Host headers', get(undefined, 'Host: other.example\r\n')],
    ['no Host', get().replace('Host: certs.example\r\n', '')],
    ['two apikey headers', get(undefined, 'apikey: cka_one\r\n')],
    ['an absolute-form target', get('http://certs.example/api/certificate/www')],
    ['a byte above 0x7e in a value', get(undefined, 'User-Agent: caf\xe9\r\n')],
    ['a fragment in the target', get('/api/certificate/www#x')],
    ['an upgrade', get(undefined, 'Upgrade: websocket\r\nConnection: Upgrade\r\n')],
  ])('leaves %s to node:http, alone, after a lane answer, and pipelined behind one', async (_label, unusual) => {
    const { a, b } = await pair();
    await both(a, b, [get()]);
    const bytes = Buffer.from(unusual, 'latin1');
    await both(a, b, [bytes]);
    await both(a, b, [get(), bytes], { stepwise: true });
    await both(a, b, [Buffer.concat([Buffer.from(get()), bytes])]);
    expect(a.errors).toEqual([]);
  });

  // Requests node:http refuses with 400 and a closed connection.
  it.each([
    ['a space before a colon', get(undefined, 'X-A : 1\r\n')],
    ['a folded line', get(undefined, 'X-A: 1\r\n 2\r\n')],
    ['a bare line feed', get().replace('\r\napikey', '\napikey')],
    ['garbage', 'NOT HTTP AT ALL\r\n\r\n'],
  ])('leaves %s to node:http, alone and after a lane answer', async (_label, malformed) => {
    const { a, b } = await pair();
    await both(a, b, [get()]);
    const alone = await both(a, b, [malformed]);
    expect(alone.text).toBe('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    await both(a, b, [get(), malformed], { stepwise: true });
    // Pipelined in the same read behind an answered request, node:http closes without its 400
    // while that answer is still in its hands; behind the lane's answer it sends the 400.
    const lane = await exchange(a.port, [get() + malformed]);
    const plain = await exchange(b.port, [get() + malformed]);
    expect(lane).toEqual({ text: `${plain.text}HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n`, closed: true });
  });

  it('reads header names in any case and values with blanks around them as node:http does', async () => {
    const { a, b } = await pair();
    await both(a, b, [get()]);
    const before = a.nodeRequests;
    const variant = 'GET /api/certificate/www HTTP/1.1\r\nhost:certs.example\r\nUser-Agent: test\r\nAPIKEY: \t cka_one \t\r\nAccept: */*\r\n\r\n';
    const out = await both(a, b, [variant]);
    expect(out.text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(a.nodeRequests).toBe(before);
  });

  it('answers a request that says Connection: keep-alive, as HTTP/1.1 clients often do', async () => {
    const { a, b } = await pair();
    await both(a, b, [get()]);
    const out = await both(a, b, [get(undefined, 'Connection: Keep-Alive\r\n'), get(undefined, 'connection: keep-alive\r\n')], { stepwise: true });
    expect(out.text.match(/^HTTP\/1\.1 200 OK/gm)).toHaveLength(2);
    expect(out.closed).toBe(false);
    expect(a.nodeRequests).toBe(1);
  });

  it('leaves a head split across reads to node:http, with the part already read', async () => {
    const { a, b } = await pair();
    await both(a, b, [get()]);
    const request = get();
    const out = await both(a, b, [request.slice(0, 20), request.slice(20)]);
    expect(out.text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(a.nodeRequests).toBe(2);
    // And a head cut after a lane answer in the same read.
    await both(a, b, [get() + request.slice(0, 30), request.slice(30)]);
    expect(a.nodeRequests).toBe(3);
  });

  it('asks the app again once the version changes, and never replays while it cannot be told', async () => {
    const { world, a, b } = await pair();
    await both(a, b, [get()]);
    world.version = 'v2';
    const changed = await both(a, b, [get(), get()], { stepwise: true });
    expect(changed.text).toContain(' v2\n');
    expect(changed.text).not.toContain(' v1\n');
    world.version = null;
    await both(a, b, [get()]);
    await both(a, b, [get()]);
    expect(a.appCalls).toBe(4);
  });

  it('replays for the same API key, target and If-None-Match only', async () => {
    const { a, b } = await pair();
    await both(a, b, [get()]);
    for (const request of [get(undefined, '', 'cka_two'), get('/api/certificate/www?chain=true'), get(undefined, 'If-None-Match: "x"\r\n'), get(undefined, '', 'cka_wrong')]) {
      await both(a, b, [request]);
      await both(a, b, [request]);
    }
    // Each was answered by the app once (the 401 for the wrong key every time: it is not marked).
    expect(a.appCalls).toBe(1 + 3 + 2);
    expect(b.appCalls).toBe(a.appCalls);
  });

  it('replays per client address, and leaves X-Forwarded-* to node:http', async () => {
    const { a, b } = await pair({ trustProxy: '127.0.0.1' });
    await both(a, b, [get()]);
    const forwarded = get(undefined, 'X-Forwarded-For: 203.0.113.9\r\n');
    const first = await both(a, b, [forwarded]);
    expect(first.text).toContain('from 203.0.113.9 http');
    await both(a, b, [forwarded]);
    await both(a, b, [get(undefined, 'X-Forwarded-Proto: https\r\n')]);
    expect(a.nodeRequests).toBe(4);
  });

  it('does the same over TLS', async () => {
    const { a, b } = await pair({ tls: true });
    await both(a, b, [get()], { tls: true });
    const again = await both(a, b, [get(), get().replace('GET', 'HEAD') + get()], { tls: true });
    expect(again.text).toContain('from 127.0.0.1 https');
    expect(a.nodeRequests).toBe(3);
  });

  it('answers a client that half-closes after its request, then closes', async () => {
    const { a, b } = await pair();
    await both(a, b, [get()]);
    const out = await both(a, b, [get()], { end: true, quietMs: 1000 });
    expect(out.text).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(out.closed).toBe(true);
    expect(a.nodeRequests).toBe(1);
  });

  it('answers a flood of pipelined requests in full and in order', async () => {
    const { a, b } = await pair();
    await both(a, b, [get()]);
    const flood = get().repeat(3000) + get('/api/certificate/www?last=1');
    const out = await both(a, b, [flood], { quietMs: 500 });
    expect(out.text.match(/^HTTP\/1\.1 200 OK/gm)).toHaveLength(3001);
    expect(out.text).toMatch(/GET \/api\/certificate\/www\?last=1 for cka_one from 127\.0\.0\.1 http \S+ v1\n$/);
    // The lane answered the first read's requests; a head cut by the end of a read went to node:http.
    expect(a.nodeRequests).toBeGreaterThan(1);
    expect(a.nodeRequests).toBeLessThan(3001);
  });
});

describe('the replay lane manages connections as node:http does', () => {
  async function laneConnection(side: Side): Promise<{ socket: net.Socket; closed: Promise<void> }> {
    const socket = net.connect(side.port, '127.0.0.1');
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.on('error', () => {});
    const answered = new Promise((resolve) => socket.once('data', resolve));
    socket.write(get());
    await answered;
    return { socket, closed };
  }

  it('closes an idle connection after the keep-alive timeout and its grace second', async () => {
    const { a } = await pair({ keepAliveTimeout: 200 });
    await exchange(a.port, [get()]);
    const started = Date.now();
    const { closed } = await laneConnection(a);
    await closed;
    const idle = Date.now() - started;
    expect(idle).toBeGreaterThanOrEqual(1100);
    expect(idle).toBeLessThan(4000);
    expect(a.nodeRequests).toBe(1);
  });

  it('closes idle lane connections on server.close()', async () => {
    const { a } = await pair();
    await exchange(a.port, [get()]);
    const { closed } = await laneConnection(a);
    const serverClosed = new Promise((resolve) => a.server.close(resolve));
    await closed;
    await serverClosed;
    servers.splice(servers.indexOf(a.server), 1);
  });

  it('closes every lane connection on closeAllConnections()', async () => {
    const { a } = await pair();
    await exchange(a.port, [get()]);
    const { closed } = await laneConnection(a);
    a.server.closeAllConnections();
    await closed;
  });

  it('leaves requests that arrive after close() to node:http', async () => {
    const { a } = await pair();
    await exchange(a.port, [get()]);
    const socket = net.connect(a.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    // Close the listener while the connection is open and has sent nothing yet.
    a.server.close();
    servers.splice(servers.indexOf(a.server), 1);
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
      socket.write(get());
    });
    // node:http either answers with Connection: close or had already closed the idle socket.
    if (reply !== '') expect(reply).toMatch(/Connection: close/);
    expect(a.nodeRequests).toBeGreaterThanOrEqual(1);
  });
});

describe('wireBytes', () => {
  it('refuses answers for which node:http would add or decide more', () => {
    const base = { version: 'v', status: 200, statusText: undefined, body: 'x' };
    expect(wireBytes({ ...base, head: ['content-length', '1'] }, 'D', 5000)?.toString()).toBe('HTTP/1.1 200 OK\r\ncontent-length: 1\r\nDate: D\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nx');
    expect(wireBytes({ ...base, head: [] }, 'D', 5000)).toBeUndefined(); // would be chunked
    expect(wireBytes({ ...base, head: ['content-length', '1', 'Connection', 'close'] }, 'D', 5000)).toBeUndefined();
    expect(wireBytes({ ...base, head: ['content-length', '1', 'date', 'x'] }, 'D', 5000)).toBeUndefined();
    expect(wireBytes({ ...base, status: 101, head: [] }, 'D', 5000)).toBeUndefined();
    expect(wireBytes({ ...base, status: 304, head: ['etag', '"e"'] }, 'D', 0)?.toString()).toBe('HTTP/1.1 304 Not Modified\r\netag: "e"\r\nDate: D\r\nConnection: keep-alive\r\n\r\n');
  });
});
