// Replays through the adapter, on a real node:http server: an answer the app marked replayable is
// written again without running the app, exactly as it was, and only for the same request while
// the version holds.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestContext } from '../src/http/context.ts';
import { DownloadCache, markReplayable } from '../src/http/download-cache.ts';
import { parseIpList } from '../src/http/ip.ts';
import { createRequestListener } from './http-adapter.ts';
import type { ReplayOptions } from './replay-cache.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Site {
  port: number;
  /** Requests the app itself answered. */
  calls: Array<{ url: string; clientIp: string; secure: boolean }>;
  state: { version: string | null; mark: boolean; status: number };
  replayed: Array<{ path: string; status: number; clientIp: string }>;
}

/**
 * An app that answers like a download: a body numbered by how often the app ran (so a replay is
 * told from a fresh answer), marked replayable under the version current when it started.
 */
async function start(opts: { trustProxy?: string; versionDuringApp?: string } = {}): Promise<Site> {
  const state: Site['state'] = { version: 'v1', mark: true, status: 200 };
  const calls: Site['calls'] = [];
  const replayed: Site['replayed'] = [];
  const replay: ReplayOptions = {
    version: () => state.version,
    hash: (text) => `sha(${text})`,
    onReplay: (path, status, clientIp) => replayed.push({ path, status, clientIp }),
  };
  const cache = new DownloadCache({ version: replay.version, sha256Hex: replay.hash });
  const app = {
    async fetch(request: Request, ctx: RequestContext): Promise<Response> {
      calls.push({ url: request.url, clientIp: ctx.clientIp, secure: ctx.secure });
      const round = cache.begin();
      if (opts.versionDuringApp !== undefined) state.version = opts.versionDuringApp;
      const headers = { etag: '"tag"', 'x-answer': String(calls.length), 'set-cookie': 'a=1' };
      const response = state.status === 304 ? new Response(null, { status: 304, headers }) : new Response(`answer ${calls.length}`, { status: state.status, headers });
      return state.mark && round ? markReplayable(response, round) : response;
    },
  };
  const handler = createRequestListener(app, { secure: false, trustProxy: parseIpList(opts.trustProxy ?? '', { defaultLoopback: false }), replay });
  const server = http.createServer(handler.listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, calls, state, replayed };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function send(port: number, opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/api/certificate/www', headers: opts.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

const KEY = { apikey: 'cka_one' };

describe('replaying marked answers', () => {
  it('writes the same answer again without running the app, while the version holds', async () => {
    const site = await start();
    const first = await send(site.port, { headers: KEY });
    const second = await send(site.port, { headers: KEY });
    expect(site.calls).toHaveLength(1);
    expect(second.status).toBe(200);
    expect(second.body).toBe(first.body);
    const { date: _a, ...firstHeaders } = first.headers;
    const { date: _b, ...secondHeaders } = second.headers;
    expect(secondHeaders).toEqual(firstHeaders);
    expect(second.headers['set-cookie']).toEqual(['a=1']);
    expect(site.replayed).toEqual([{ path: '/api/certificate/www', status: 200, clientIp: '127.0.0.1' }]);
  });

  it('asks the app again once the version changes', async () => {
    const site = await start();
    await send(site.port, { headers: KEY });
    site.state.version = 'v2';
    expect((await send(site.port, { headers: KEY })).body).toBe('answer 2');
    expect((await send(site.port, { headers: KEY })).body).toBe('answer 2');
    expect(site.calls).toHaveLength(2);
  });

  it('never replays while the version cannot be told', async () => {
    const site = await start();
    site.state.version = null;
    await send(site.port, { headers: KEY });
    await send(site.port, { headers: KEY });
    expect(site.calls).toHaveLength(2);
  });

  it('keys on the API key, If-None-Match and the request target', async () => {
    const site = await start();
    await send(site.port, { headers: KEY });
    expect((await send(site.port, { headers: { apikey: 'cka_two' } })).body).toBe('answer 2');
    expect((await send(site.port, { headers: { ...KEY, 'if-none-match': '"tag"' } })).body).toBe('answer 3');
    expect((await send(site.port, { path: '/api/certificate/www?chain=false', headers: KEY })).body).toBe('answer 4');
    expect((await send(site.port, { path: '/api/certificate/other', headers: KEY })).body).toBe('answer 5');
    // Each of them is now replayed in turn.
    expect((await send(site.port, { headers: { apikey: 'cka_two' } })).body).toBe('answer 2');
    expect((await send(site.port, { headers: { ...KEY, 'if-none-match': '"tag"' } })).body).toBe('answer 3');
    expect(site.calls).toHaveLength(5);
  });

  it('replays a 304 as a 304', async () => {
    const site = await start();
    site.state.status = 304;
    await send(site.port, { headers: { ...KEY, 'if-none-match': '"tag"' } });
    const again = await send(site.port, { headers: { ...KEY, 'if-none-match': '"tag"' } });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect(site.calls).toHaveLength(1);
  });

  it('keys on the client address and scheme that trusted proxies name', async () => {
    const site = await start({ trustProxy: '127.0.0.1' });
    await send(site.port, { headers: { ...KEY, 'x-forwarded-for': '203.0.113.7' } });
    await send(site.port, { headers: { ...KEY, 'x-forwarded-for': '203.0.113.8' } });
    await send(site.port, { headers: { ...KEY, 'x-forwarded-for': '203.0.113.8', 'x-forwarded-proto': 'https' } });
    await send(site.port, { headers: { ...KEY, 'x-forwarded-for': '203.0.113.8', 'x-forwarded-proto': 'https' } });
    expect(site.calls.map((c) => [c.clientIp, c.secure])).toEqual([
      ['203.0.113.7', false],
      ['203.0.113.8', false],
      ['203.0.113.8', true],
    ]);
  });

  it('replays nothing without an API key, for other methods, with a body, or unmarked', async () => {
    const site = await start();
    for (let i = 0; i < 2; i++) await send(site.port);
    for (let i = 0; i < 2; i++) await send(site.port, { method: 'HEAD', headers: KEY });
    for (let i = 0; i < 2; i++) await send(site.port, { method: 'POST', headers: { ...KEY, 'content-type': 'application/x-www-form-urlencoded' }, body: 'chain=false' });
    expect(site.calls).toHaveLength(6);
    site.state.mark = false;
    await send(site.port, { path: '/api/certificate/unmarked', headers: KEY });
    await send(site.port, { path: '/api/certificate/unmarked', headers: KEY });
    expect(site.calls).toHaveLength(8);
  });

  it('never serves an answer computed under a version that moved on while the app worked', async () => {
    const site = await start({ versionDuringApp: 'v2' });
    await send(site.port, { headers: KEY });
    await send(site.port, { headers: KEY });
    expect(site.calls).toHaveLength(2);
  });
});
