// The outgoing-request path against real local servers: what it refuses before connecting
// (schemes, loopback, private, metadata and their IPv6 disguises), redirects (refused by default,
// every hop checked again when allowed), the deadline, and the byte cap — an endless body is
// cancelled at the cap, which the server sees as its connection closing.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { testOutbound } from '../../test/harness/outbound.ts';
import { OutboundError } from './outbound.ts';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((s) => {
      s.closeAllConnections();
      return new Promise((r) => s.close(r));
    }),
  );
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void, host = '127.0.0.1') {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, host, r));
  return { url: `http://${host}:${(server.address() as AddressInfo).port}`, hits, server };
}

async function failure(p: Promise<unknown>): Promise<OutboundError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundError);
  return err as OutboundError;
}

const opts = { timeoutMs: 5_000, maxBytes: 64 * 1024 };
const NONE = '';

describe('Outbound: what it refuses before connecting', () => {
  const refusing = testOutbound(async () => {
    throw new Error('nothing may be fetched in this test');
  }, NONE);

  it.each([
    ['https://127.0.0.1/', '127.0.0.1 is a loopback address'],
    ['https://127.255.0.9:8443/x', '127.255.0.9 is a loopback address'],
    ['https://localhost/dir', 'localhost is a loopback address'],
    ['https://api.LOCALHOST./dir', 'api.localhost. is a loopback address'],
    ['https://[::1]/', '::1 is a loopback address'],
    ['https://[::ffff:127.0.0.1]/', '::ffff:7f00:1 (that is 127.0.0.1) is a loopback address'],
    ['https://[::127.0.0.1]/', '::7f00:1 (that is 127.0.0.1) is a loopback address'],
    ['https://[64:ff9b::10.0.0.1]/', '64:ff9b::a00:1 (that is 10.0.0.1) is a private (RFC 1918) address'],
    ['https://[2002:c0a8:101::1]/', '2002:c0a8:101::1 (that is 192.168.1.1) is a private (RFC 1918) address'],
    ['https://10.1.2.3/', '10.1.2.3 is a private (RFC 1918) address'],
    ['https://172.16.0.1/', '172.16.0.1 is a private (RFC 1918) address'],
    ['https://192.168.1.1/', '192.168.1.1 is a private (RFC 1918) address'],
    ['https://[fd12::1]/', 'fd12::1 is a unique local (fc00::/7) address'],
    ['https://169.254.169.254/latest/meta-data/', '169.254.169.254 is a cloud metadata address'],
    ['https://[fd00:ec2::254]/', 'fd00:ec2::254 is a cloud metadata address'],
    ['https://169.254.1.1/', '169.254.1.1 is a link-local address'],
    ['https://[fe80::1]/', 'fe80::1 is a link-local address'],
    ['https://100.100.100.200/', '100.100.100.200 is a carrier-grade NAT (100.64.0.0/10) address'],
    ['https://0.0.0.0/', '0.0.0.0 is an unspecified address'],
    ['https://[::]/', ':: is an unspecified address'],
    ['https://224.0.0.1/', '224.0.0.1 is a multicast address'],
    ['https://2130706433/', '127.0.0.1 is a loopback address'], // the URL parser reads it as 127.0.0.1
    ['https://0x7f.1/', '127.0.0.1 is a loopback address'],
  ])('refuses %s', async (url, words) => {
    const err = await failure(refusing.request(url, opts));
    expect(err.code).toBe('TARGET_REFUSED');
    expect(err.reason).toBe('target-refused');
    expect(err.words).toBe(`${words}; outgoing requests go there only when CERTKEEP_ALLOW_PRIVATE_TARGETS lists it`);
  });

  it.each([
    ['http://acme.example.com/dir', 'only https URLs are accepted here'],
    ['ftp://acme.example.com/dir', 'ftp URLs are not accepted here; use https'],
    ['file:///etc/passwd', 'file URLs are not accepted here; use https'],
    ['https://user:pw@acme.example.com/', 'a URL must not carry a user name or password'],
  ])('refuses %s by its scheme', async (url, words) => {
    const err = await failure(refusing.request(url, opts));
    expect(err).toMatchObject({ code: 'TARGET_REFUSED', reason: 'scheme-refused', words });
  });

  it('takes plain http only where the caller accepts it, and then only to an allowed private address', async () => {
    const allowing = testOutbound(async () => new Response('ok'), '10.9.0.0/16');
    expect((await allowing.request('http://10.9.1.1/x', { ...opts, schemes: 'https+private-http' })).text()).toBe('ok');
    const err = await failure(allowing.request('http://hooks.example.com/x', { ...opts, schemes: 'https+private-http' }));
    expect(err.words).toBe('plain http goes only to an address CERTKEEP_ALLOW_PRIVATE_TARGETS lists, and hooks.example.com is not one; use https');
    expect((await allowing.request('http://crl.example.com/x.crl', { ...opts, schemes: 'http+https' })).text()).toBe('ok');
    // The allowed range opens that range only.
    expect((await failure(allowing.request('https://10.8.0.1/', opts))).reason).toBe('target-refused');
  });

  it('names the check at creation as a field error', () => {
    expect(() => refusing.checkUrl('https://10.0.0.1/dir', 'directoryUrl')).toThrow(
      expect.objectContaining({ code: 'BAD_REQUEST', details: { field: 'directoryUrl' }, message: expect.stringMatching(/^directoryUrl: 10\.0\.0\.1 is a private/) }),
    );
    expect(refusing.checkUrl('https://acme.example.com/dir', 'directoryUrl').href).toBe('https://acme.example.com/dir');
  });

  it('names the Worker setting on the Worker', async () => {
    const { Outbound } = await import('./outbound.ts');
    const { parseIpList } = await import('../http/ip.ts');
    const worker = new Outbound({ fetch: globalThis.fetch, allowPrivateTargets: parseIpList('', { defaultLoopback: false }), runtime: 'worker' });
    expect((await failure(worker.request('https://10.0.0.1/', opts))).words).toMatch(/only when ALLOW_PRIVATE_TARGETS lists it$/);
  });
});

describe('Outbound: redirects', () => {
  it('follows none unless asked, and says where it would have gone', async () => {
    const target = await serve((_, res) => res.end('secret'));
    const hop = await serve((_, res) => res.writeHead(302, { location: `${target.url}/internal?token=abc` }).end());
    const outbound = testOutbound(undefined, '127.0.0.1/32');
    const err = await failure(outbound.request(`${hop.url}/dir`, { ...opts, schemes: 'http+https' }));
    expect(err).toMatchObject({ code: 'OUTBOUND_FAILED', reason: 'redirect' });
    expect(err.words).toBe(`it redirects (HTTP 302) to ${target.url}/internal; redirects are not followed here: use the final URL`);
    expect(target.hits).toEqual([]);
  });

  it('follows as many as asked, checking every hop again: a hop to an address not allowed is refused before connecting', async () => {
    const allowed = await serve((_, res) => res.end('crl bytes'));
    const forbidden = await serve((_, res) => res.end('internal'), '127.0.0.2');
    const toAllowed = await serve((_, res) => res.writeHead(301, { location: `${allowed.url}/a.crl` }).end());
    const toForbidden = await serve((_, res) => res.writeHead(302, { location: `${forbidden.url}/x` }).end());
    const outbound = testOutbound(undefined, '127.0.0.1/32');
    const ok = await outbound.request(`${toAllowed.url}/a.crl`, { ...opts, schemes: 'http+https', maxRedirects: 3 });
    expect(ok.text()).toBe('crl bytes');
    expect(ok.url).toBe(`${allowed.url}/a.crl`);
    const err = await failure(outbound.request(`${toForbidden.url}/a.crl`, { ...opts, schemes: 'http+https', maxRedirects: 3 }));
    expect(err).toMatchObject({ code: 'TARGET_REFUSED', words: expect.stringMatching(/^127\.0\.0\.2 is a loopback address/) });
    expect(forbidden.hits).toEqual([]);
    // An https-only caller never lands on plain http, whatever the redirect says.
    const err2 = await failure(outbound.request(`${toAllowed.url}/a.crl`, { ...opts, schemes: 'https', maxRedirects: 3 }));
    expect(err2.reason).toBe('scheme-refused');
  });

  it('stops at the number asked', async () => {
    let hops = 0;
    const loop = await serve((req, res) => res.writeHead(307, { location: `/again-${++hops}` }).end());
    const err = await failure(testOutbound().request(`${loop.url}/`, { ...opts, schemes: 'http+https', maxRedirects: 2 }));
    expect(err.reason).toBe('redirect');
    expect(loop.hits).toEqual(['/', '/again-1', '/again-2']);
  });
});

describe('Outbound: deadline and byte cap', () => {
  it('gives up at the deadline, headers or body', async () => {
    const silent = await serve(() => {});
    const t0 = Date.now();
    const err = await failure(testOutbound().request(`${silent.url}/`, { ...opts, timeoutMs: 300, schemes: 'http+https' }));
    expect(err).toMatchObject({ reason: 'timeout', words: 'no complete answer within 300 ms' });
    expect(Date.now() - t0).toBeLessThan(3000);

    const dribbling = await serve((_, res) => {
      res.writeHead(200);
      res.write('{');
    });
    const err2 = await failure(testOutbound().request(`${dribbling.url}/`, { ...opts, timeoutMs: 300, schemes: 'http+https' }));
    expect(err2.reason).toBe('timeout');
  });

  it('stops reading at the cap and cancels the body: the server sees its connection close', async () => {
    let written = 0;
    let closed!: () => void;
    const connectionClosed = new Promise<void>((r) => (closed = r));
    const endless = await serve((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && written < 200 * 1024 * 1024 && res.write(chunk)) written += chunk.length;
      };
      res.on('drain', pump);
      res.on('close', closed);
      pump();
    });
    const err = await failure(testOutbound().request(`${endless.url}/dir`, { ...opts, schemes: 'http+https' }));
    expect(err).toMatchObject({ code: 'OUTBOUND_FAILED', reason: 'too-large', words: 'the answer is larger than 64 KiB; it was not read further' });
    await connectionClosed;
    expect(written).toBeLessThan(8 * 1024 * 1024); // socket buffers, not 200 MB
  });

  it('refuses a declared length over the cap without reading', async () => {
    const big = await serve((_, res) => res.writeHead(200, { 'content-length': String(10 * 1024 * 1024) }).end(Buffer.alloc(10 * 1024 * 1024)));
    expect((await failure(testOutbound().request(`${big.url}/`, { ...opts, schemes: 'http+https' }))).reason).toBe('too-large');
  });

  it('reports a refused connection in words', async () => {
    const gone = await serve(() => {});
    await new Promise((r) => gone.server.close(r));
    const err = await failure(testOutbound().request(`${gone.url}/`, { ...opts, schemes: 'http+https' }));
    expect(err.reason).toBe('connection-refused');
    expect(err.message).toBe(`request to ${gone.url}/ failed: nothing accepts connections at ${new URL(gone.url).host} (connection refused, ECONNREFUSED)`);
  });
});
