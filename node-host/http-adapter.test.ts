import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { App, RequestContext } from '../src/http/context.ts';
import { parseIpList } from '../src/http/ip.ts';
import { createRequestListener, type NodeRequestHandler, type RequestListenerOptions } from './http-adapter.ts';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

interface Started {
  port: number;
  handler: NodeRequestHandler;
  errors: unknown[];
}

/** A real node:http server on 127.0.0.1 with `app` behind the adapter. */
async function start(app: App['fetch'], opts: Partial<RequestListenerOptions> = {}): Promise<Started> {
  const errors: unknown[] = [];
  const handler = createRequestListener(
    { fetch: app },
    { secure: false, trustProxy: parseIpList(undefined, { defaultLoopback: false }), onError: (err) => errors.push(err), ...opts },
  );
  const server = http.createServer(handler.listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, handler, errors };
}

interface Reply {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

function send(port: number, opts: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path ?? '/', headers: opts.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode!,
          statusMessage: res.statusMessage!,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Writes `raw` bytes on a plain socket and returns everything the server sends until it closes or `until` matches. */
function rawExchange(port: number, raw: string | Buffer, until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const finish = () => {
      socket.destroy();
      resolve(received);
    };
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (until?.test(received)) finish();
    });
    socket.on('end', finish);
    socket.on('error', (err) => (received ? finish() : reject(err)));
    socket.write(raw);
  });
}

/** An app that describes the request it saw. */
const echo: App['fetch'] = async (request, ctx) => {
  const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.text();
  return Response.json({
    method: request.method,
    url: request.url,
    headers: Object.fromEntries(request.headers),
    body,
    clientIp: ctx.clientIp,
    secure: ctx.secure,
    isRequest: request instanceof Request,
  });
};

describe('request', () => {
  it('round-trips method, URL, headers and body', async () => {
    const { port } = await start(echo);
    const reply = await send(port, {
      method: 'PUT',
      path: '/a/b?x=1&y=%20',
      headers: { 'X-Custom': 'one', 'content-type': 'text/plain; charset=utf-8', 'x-multi': ['a', 'b'] },
      body: 'héllo wörld',
    });
    expect(reply.status).toBe(200);
    const seen = JSON.parse(reply.body);
    expect(seen).toMatchObject({
      method: 'PUT',
      url: `http://127.0.0.1:${port}/a/b?x=1&y=%20`,
      body: 'héllo wörld',
      clientIp: '127.0.0.1',
      secure: false,
      isRequest: true,
    });
    expect(seen.headers).toMatchObject({ 'x-custom': 'one', 'x-multi': 'a, b', host: `127.0.0.1:${port}`, 'content-length': '13' });
  });

  it('serializes the URL as WHATWG URL does (dot segments resolved)', async () => {
    const { port } = await start(echo);
    const seen = JSON.parse((await send(port, { path: '/api/../api/v1/./x?q' })).body);
    expect(seen.url).toBe(`http://127.0.0.1:${port}/api/v1/x?q`);
  });

  it('reads chunked bodies, JSON and forms through the real Request methods', async () => {
    const { port } = await start(async (request) => {
      const type = request.headers.get('content-type') ?? '';
      if (type.startsWith('application/json')) return Response.json({ json: await request.json() });
      const form = await request.clone().formData();
      return Response.json({ form: Object.fromEntries(form), again: await request.text() });
    });
    const json = await send(port, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, body: '{"a":[1,2]}' });
    expect(JSON.parse(json.body)).toEqual({ json: { a: [1, 2] } });
    const form = await send(port, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'format=pfx&pfxPassword=x%20y' });
    expect(JSON.parse(form.body)).toEqual({ form: { format: 'pfx', pfxPassword: 'x y' }, again: 'format=pfx&pfxPassword=x%20y' });
  });

  it('works where undici expects a real Request (new Request(request))', async () => {
    const { port } = await start(async (request) => {
      const copy = new Request(request, { headers: { 'x-copied': '1' } });
      return Response.json({ url: copy.url, method: copy.method, body: await copy.text(), copied: copy.headers.get('x-copied') });
    });
    const reply = await send(port, { method: 'POST', path: '/copy', body: 'payload' });
    expect(JSON.parse(reply.body)).toEqual({ url: `http://127.0.0.1:${port}/copy`, method: 'POST', body: 'payload', copied: '1' });
  });

  it('gives POST without a body an empty body', async () => {
    const { port } = await start(echo);
    expect(JSON.parse((await send(port, { method: 'POST' })).body).body).toBe('');
  });

  it('names the local address when an HTTP/1.0 client sends no Host', async () => {
    const { port } = await start(echo);
    const raw = await rawExchange(port, 'GET /x HTTP/1.0\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw).toContain(`"url":"http://127.0.0.1:${port}/x"`);
  });

  it.each([
    ['a Host with a path', 'GET / HTTP/1.1\r\nHost: evil.example/steal\r\n\r\n'],
    ['a Host with userinfo', 'GET / HTTP/1.1\r\nHost: user@evil.example\r\n\r\n'],
    ['a Host with a bad port', 'GET / HTTP/1.1\r\nHost: example.com:99999\r\n\r\n'],
    ['an absolute-form target of another scheme', 'GET ftp://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n'],
  ])('answers 400 to %s without calling the app', async (_name, raw) => {
    let called = false;
    const { port } = await start(async () => {
      called = true;
      return new Response('no');
    });
    const reply = await rawExchange(port, raw, /\r\n\r\n[^]*\}/);
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).toContain('application/problem+json');
    expect(called).toBe(false);
  });

  it('takes the authority of an absolute-form target', async () => {
    const { port } = await start(echo);
    const raw = await rawExchange(port, 'GET http://other.example:8080/p?q=1 HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n');
    expect(raw).toContain('"url":"http://other.example:8080/p?q=1"');
  });
});

describe('request body limit', () => {
  it('accepts a body of exactly the limit', async () => {
    const { port } = await start(echo, { maxBodyBytes: 100 });
    const reply = await send(port, { method: 'POST', body: 'x'.repeat(100) });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body).body).toHaveLength(100);
  });

  it('answers 413 to a declared length over the limit before the body arrives', async () => {
    let called = false;
    const { port } = await start(
      async () => {
        called = true;
        return new Response('no');
      },
      { maxBodyBytes: 100 },
    );
    // Only the head is sent: the answer must not wait for 101 bytes that never come.
    const reply = await rawExchange(port, `POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
    expect(reply).toMatch(/content-type: application\/problem\+json/i);
    expect(reply).toMatch(/connection: close/i);
    expect(reply).toContain('"status":413');
    expect(called).toBe(false);
  });

  it('answers 413 when a chunked body grows past the limit', async () => {
    const { port } = await start(echo, { maxBodyBytes: 100 });
    const chunk = 'y'.repeat(60);
    const head = 'POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n';
    // Two chunks (120 bytes) and no terminating chunk: the limit, not the end, must trigger.
    const reply = await rawExchange(port, `${head}3c\r\n${chunk}\r\n3c\r\n${chunk}\r\n`, /\r\n\r\n[^]*\}/);
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('defaults to 1 MiB', async () => {
    const { port } = await start(async (request) => new Response(String((await request.arrayBuffer()).byteLength)));
    expect((await send(port, { method: 'POST', body: Buffer.alloc(1024 * 1024) })).body).toBe(String(1024 * 1024));
    const reply = await rawExchange(port, `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 * 1024 + 1}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 413 /);
  });
});

describe('a body on GET', () => {
  /** What the app saw of a GET's body: the Request carries none (the Fetch API forbids it), ctx.getBody does. */
  const getEcho: App['fetch'] = async (request, ctx) =>
    Response.json({ method: request.method, requestBody: request.body === null ? null : await request.text(), getBody: ctx.getBody === undefined ? null : new TextDecoder().decode(ctx.getBody) });

  it('reaches the app beside the Request, as curl -X GET -d sends it (Content-Length or chunked)', async () => {
    const { port } = await start(getEcho);
    const form = 'format=pfx&pfxPassword=s3cret';
    const sized = await send(port, { path: '/api/certificate/www', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': form.length }, body: form });
    expect(JSON.parse(sized.body)).toEqual({ method: 'GET', requestBody: null, getBody: form });
    const chunked = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nchain\r\n0\r\n\r\n`);
    expect(chunked).toContain('"getBody":"chain"');
    // A GET without a body (every other download) has none, and nothing is waited for.
    expect(JSON.parse((await send(port, { path: '/' })).body)).toEqual({ method: 'GET', requestBody: null, getBody: null });
  });

  it('is held to the same limit: 413 before the app runs', async () => {
    let called = false;
    const { port } = await start(
      async () => {
        called = true;
        return new Response('no');
      },
      { maxBodyBytes: 100 },
    );
    expect(await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n`)).toMatch(/^HTTP\/1\.1 413 /);
    const chunk = 'y'.repeat(60);
    expect(await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3c\r\n${chunk}\r\n3c\r\n${chunk}\r\n`, /\r\n\r\n[^]*\}/)).toMatch(/^HTTP\/1\.1 413 /);
    expect(called).toBe(false);
  });
});

describe('response', () => {
  it('passes status, statusText and headers, and sets an exact Content-Length for known bodies', async () => {
    const { port } = await start(async () => new Response('½ € 𝄞', { status: 201, statusText: 'Made It', headers: { 'content-type': 'text/plain; charset=utf-8', 'x-a': '1' } }));
    const reply = await send(port);
    expect(reply.status).toBe(201);
    expect(reply.statusMessage).toBe('Made It');
    expect(reply.headers['x-a']).toBe('1');
    expect(reply.headers['content-length']).toBe(String(Buffer.byteLength('½ € 𝄞')));
    expect(reply.headers['transfer-encoding']).toBeUndefined();
    expect(reply.body).toBe('½ € 𝄞');
  });

  it('sends byte bodies whole, and replaces a wrong Content-Length from the app', async () => {
    const bytes = new Uint8Array(70_000).map((_, i) => i % 251);
    const { port } = await start(async () => new Response(bytes, { headers: { 'content-length': '5' } }));
    const reply = await new Promise<Buffer>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, agent: false }, (res) => {
        expect(res.headers['content-length']).toBe('70000');
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject);
    });
    expect(Buffer.compare(reply, Buffer.from(bytes))).toBe(0);
  });

  it('sends a body view of a larger buffer without its neighbours', async () => {
    const backing = new TextEncoder().encode('xxxxHELLOyyyy');
    const { port } = await start(async () => new Response(backing.subarray(4, 9)));
    expect((await send(port)).body).toBe('HELLO');
  });

  it('keeps every Set-Cookie header apart', async () => {
    const { port } = await start(async () => {
      const headers = new Headers({ 'content-type': 'text/plain' });
      headers.append('set-cookie', 'a=1; Path=/; HttpOnly');
      headers.append('set-cookie', 'b=2, with comma; Expires=Wed, 21 Oct 2026 07:28:00 GMT');
      headers.append('x-list', 'p');
      headers.append('x-list', 'q');
      return new Response('ok', { headers });
    });
    const reply = await send(port);
    expect(reply.headers['set-cookie']).toEqual(['a=1; Path=/; HttpOnly', 'b=2, with comma; Expires=Wed, 21 Oct 2026 07:28:00 GMT']);
    expect(reply.headers['x-list']).toBe('p, q');
  });

  it('streams bodies that are streams, chunk by chunk', async () => {
    const parts = ['first ', 'second ', 'third'];
    const { port } = await start(async () => {
      const stream = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const next = parts.shift();
          if (next === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(next));
        },
      });
      return new Response(stream, { headers: { 'content-type': 'text/plain' } });
    });
    const reply = await send(port);
    expect(reply.body).toBe('first second third');
    expect(reply.headers['transfer-encoding']).toBe('chunked');
  });

  it('streams a large body with backpressure intact', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(97);
    const { port } = await start(async () => {
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ === 64) controller.close();
          else controller.enqueue(chunk);
        },
      });
      return new Response(stream);
    });
    const reply = await send(port);
    expect(reply.body.length).toBe(64 * 64 * 1024);
  });

  it('cuts the connection when a streamed body fails midway, and reports it', async () => {
    const { port, errors } = await start(async () => {
      let step = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (step++ < 2) controller.enqueue(new TextEncoder().encode('partial'));
          else controller.error(new Error('disk on fire'));
        },
      });
      return new Response(stream);
    });
    await expect(send(port)).rejects.toThrow();
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toContain('disk on fire');
  });

  it('answers 500 when a body fails before its head was sent', async () => {
    const { port, errors } = await start(async () => {
      let step = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (step++ === 0) controller.enqueue(new TextEncoder().encode('partial'));
          else controller.error(new Error('disk on fire'));
        },
      });
      return new Response(stream);
    });
    const reply = await send(port);
    expect(reply.status).toBe(500);
    expect(reply.body).not.toContain('partial');
    expect(String(errors[0])).toContain('disk on fire');
  });

  it('answers HEAD with the headers and Content-Length of the body, and no body', async () => {
    const { port } = await start(async () => new Response('twelve bytes', { headers: { 'content-type': 'text/plain', etag: '"e"' } }));
    const raw = await rawExchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const [head, body] = raw.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\ncontent-length: 12\r\n/i);
    expect(head).toMatch(/\r\netag: "e"\r\n/i);
    expect(body).toBe('');
  });

  it('answers HEAD by cancelling a streamed body', async () => {
    let cancelled = false;
    const { port } = await start(
      async () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull: (controller) => controller.enqueue(new Uint8Array(1024)), // endless
            cancel() {
              cancelled = true;
            },
          }),
        ),
    );
    const raw = await rawExchange(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 200 /);
    expect(raw.split('\r\n\r\n')[1]).toBe('');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(cancelled).toBe(true);
  });

  it('sends 304 and 204 without a body', async () => {
    const { port } = await start(async (request) => new Response(null, { status: request.url.endsWith('/304') ? 304 : 204, headers: { etag: '"v1"' } }));
    const notModified = await send(port, { path: '/304' });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.etag).toBe('"v1"');
    expect(notModified.body).toBe('');
    expect((await send(port, { path: '/204' })).status).toBe(204);
  });
});

describe('errors', () => {
  it('answers 500 problem+json without details when the app throws, and reports the error', async () => {
    const { port, errors } = await start(async () => {
      throw new Error('secret database path /var/lib/x');
    });
    const reply = await send(port);
    expect(reply.status).toBe(500);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(reply.body)).toEqual({ type: 'about:blank', title: 'Internal server error', status: 500 });
    expect(reply.body).not.toContain('secret');
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe('secret database path /var/lib/x');
  });

  it('answers 500 when the app resolves to something that is not a Response', async () => {
    const { port, errors } = await start((async () => ({ status: 200 })) as unknown as App['fetch']);
    expect((await send(port)).status).toBe(500);
    expect(String(errors[0])).toMatch(/not a Response/);
  });

  it('survives an onError that throws', async () => {
    const { port } = await start(
      async () => {
        throw new Error('x');
      },
      {
        onError: () => {
          throw new Error('reporter broke');
        },
      },
    );
    expect((await send(port)).status).toBe(500);
    expect((await send(port)).status).toBe(500);
  });
});

describe('client address behind proxies', () => {
  const whoami: App['fetch'] = async (request, ctx: RequestContext) => Response.json({ ip: ctx.clientIp, secure: ctx.secure, url: request.url });

  async function ask(port: number, headers: http.OutgoingHttpHeaders) {
    return JSON.parse((await send(port, { path: '/w', headers })).body) as { ip: string; secure: boolean; url: string };
  }

  it('ignores X-Forwarded-* when no proxy is trusted', async () => {
    const { port } = await start(whoami);
    expect(await ask(port, { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' })).toEqual({
      ip: '127.0.0.1',
      secure: false,
      url: `http://127.0.0.1:${port}/w`,
    });
  });

  it('ignores X-Forwarded-* from a peer that is not a trusted proxy', async () => {
    const { port } = await start(whoami, { trustProxy: parseIpList('10.0.0.0/8') });
    expect(await ask(port, { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' })).toMatchObject({ ip: '127.0.0.1', secure: false });
  });

  it('believes a trusted proxy, taking the right-most untrusted address', async () => {
    const { port } = await start(whoami, { trustProxy: parseIpList('127.0.0.1, 10.0.0.0/8') });
    // client 198.51.100.7 claims to be 1.1.1.1; an inner proxy 10.0.0.2 passed it on.
    expect(await ask(port, { 'x-forwarded-for': '1.1.1.1, 198.51.100.7, 10.0.0.2' })).toMatchObject({ ip: '198.51.100.7', secure: false });
    // several header lines count as one list, in order
    expect(await ask(port, { 'x-forwarded-for': ['1.1.1.1', '198.51.100.8'] })).toMatchObject({ ip: '198.51.100.8' });
    // ports and brackets, as some proxies write them
    expect(await ask(port, { 'x-forwarded-for': '198.51.100.9:4711' })).toMatchObject({ ip: '198.51.100.9' });
    expect(await ask(port, { 'x-forwarded-for': '[2001:DB8::1]:443' })).toMatchObject({ ip: '2001:db8::1' });
    expect(await ask(port, { 'x-forwarded-for': '2001:db8::2' })).toMatchObject({ ip: '2001:db8::2' });
    // every hop trusted: the left-most is the client
    expect(await ask(port, { 'x-forwarded-for': '10.9.9.9, 10.0.0.2' })).toMatchObject({ ip: '10.9.9.9' });
    // a trusted proxy that adds no header is itself the client
    expect(await ask(port, {})).toMatchObject({ ip: '127.0.0.1' });
  });

  it('never lets a garbage entry fall back to a trusted address', async () => {
    const { port } = await start(whoami, { trustProxy: parseIpList('127.0.0.1') });
    expect(await ask(port, { 'x-forwarded-for': 'bogus' })).toMatchObject({ ip: 'unknown' });
    expect(await ask(port, { 'x-forwarded-for': '1.2.3.4, _hidden' })).toMatchObject({ ip: 'unknown' });
  });

  it('takes https from a trusted proxy, into both ctx.secure and the URL', async () => {
    const { port } = await start(whoami, { trustProxy: parseIpList('127.0.0.1') });
    expect(await ask(port, { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'HTTPS' })).toEqual({
      ip: '198.51.100.7',
      secure: true,
      url: `https://127.0.0.1:${port}/w`,
    });
    // the nearest proxy's word (the right-most) counts
    expect(await ask(port, { 'x-forwarded-proto': 'https, http' })).toMatchObject({ secure: false });
    expect(await ask(port, { 'x-forwarded-proto': 'http' })).toMatchObject({ secure: false });
  });

  it('keeps secure on a TLS listener whatever a proxy says', async () => {
    const { port } = await start(whoami, { secure: true, trustProxy: parseIpList('127.0.0.1') });
    expect(await ask(port, { 'x-forwarded-proto': 'http' })).toMatchObject({ secure: true, url: `https://127.0.0.1:${port}/w` });
  });
});

describe('lifecycle', () => {
  it('aborts request.signal when the client goes away', async () => {
    let aborted!: (reason: unknown) => void;
    const abortedReason = new Promise((resolve) => (aborted = resolve));
    const { port } = await start(async (request) => {
      request.signal.addEventListener('abort', () => aborted(request.signal.reason));
      await new Promise(() => {}); // never answers
      return new Response('unreachable');
    });
    const socket = net.connect(port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
    expect(await abortedReason).toMatchObject({ name: 'AbortError' });
  });

  it('aborts a signal first asked for after the client left', async () => {
    let seen!: (aborted: boolean) => void;
    const result = new Promise<boolean>((resolve) => (seen = resolve));
    const { port } = await start(async (request) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      seen(request.signal.aborted);
      return new Response('late');
    });
    const socket = net.connect(port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 30));
    socket.destroy();
    expect(await result).toBe(true);
  });

  it('does not abort the signal of a request answered normally', async () => {
    let signal: AbortSignal | undefined;
    const { port } = await start(async (request) => {
      signal = request.signal;
      return new Response('ok');
    });
    await send(port);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(signal?.aborted).toBe(false);
  });

  it('drain() waits for requests in flight and waitUntil() work, and reports failed work', async () => {
    let finishWork!: () => void;
    let finishRequest!: () => void;
    const { port, handler, errors } = await start(async (request, ctx) => {
      if (request.url.endsWith('/slow')) {
        await new Promise<void>((resolve) => (finishRequest = resolve));
        return new Response('slow');
      }
      ctx.waitUntil(new Promise<void>((resolve) => (finishWork = resolve)));
      ctx.waitUntil(Promise.reject(new Error('background failed')));
      return new Response('fast');
    });
    expect((await send(port)).body).toBe('fast');
    const slow = send(port, { path: '/slow' });
    await new Promise((resolve) => setTimeout(resolve, 30));

    let drained = false;
    const draining = handler.drain().then(() => (drained = true));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(drained).toBe(false);
    finishWork();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(drained).toBe(false); // the slow request is still running
    finishRequest();
    await draining;
    expect((await slow).body).toBe('slow');
    expect(errors.map(String)).toEqual(['Error: background failed']);
  });

  it('stops pulling a streamed body when the client goes away', async () => {
    let cancelled!: () => void;
    const wasCancelled = new Promise<void>((resolve) => (cancelled = resolve));
    const { port, handler } = await start(
      async () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull: (controller) => controller.enqueue(new Uint8Array(16 * 1024)), // endless
            cancel: () => cancelled(),
          }),
        ),
    );
    const socket = net.connect(port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    socket.destroy();
    await wasCancelled;
    await handler.drain();
  });

  it('forgets a request whose client leaves while sending the body, without an error', async () => {
    let called = false;
    const { port, handler, errors } = await start(async () => {
      called = true;
      return new Response('no');
    });
    const socket = net.connect(port, '127.0.0.1');
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly part');
    await new Promise((resolve) => setTimeout(resolve, 30));
    socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 30));
    await handler.drain();
    expect(called).toBe(false);
    expect(errors).toEqual([]);
  });

  it('drain() resolves at once when idle', async () => {
    const { handler } = await start(echo);
    await handler.drain();
  });
});
