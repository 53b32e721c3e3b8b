// Outgoing requests as an attacker would use them, on both hosts (issue 10, findings 2, 3 and 6):
// a CA directory that redirects to a plain-http service on loopback, a directory that names
// loopback URLs, a 200 MB directory, and DNS provider URLs that point inside. Each of these
// reached its target (or grew the process by hundreds of MB) before the outbound path existed.
// The hosts allow 127.0.0.1 (the harness's default, for Pebble and the hostile servers here);
// the internal services live on other loopback addresses (127.0.0.2, 127.0.0.3), which nothing
// allows, or behind a redirect the CA's directory must not be followed through.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCa } from '../harness/ca.ts';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS, startHost, startNodeHost, type HostUnderTest, type NodeHostUnderTest } from '../harness/hosts.ts';
import { openssl, startWorld, type World } from '../harness/world.ts';
import { makeTempDir } from '../harness/tmp.ts';
import { decode } from '../harness/markup.ts';
import { TEST_PRIVATE_TARGETS } from '../harness/outbound.ts';

const SECRET_TERMS = 'https://internal.example/terms-only-an-insider-sees';

interface Listener {
  url: string;
  port: number;
  /** Connections accepted (a refused target must never get one). */
  connections: number;
  hits: string[];
  server: Server | HttpsServer;
}

async function listen(server: Server | HttpsServer, host: string, scheme: 'http' | 'https'): Promise<Listener> {
  const l: Listener = { url: '', port: 0, connections: 0, hits: [], server };
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    l.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('request', (req) => l.hits.push(req.url ?? ''));
  (server as Server & { sockets?: Set<Socket> }).sockets = sockets;
  await new Promise<void>((r) => server.listen(0, host, r));
  l.port = (server.address() as AddressInfo).port;
  l.url = `${scheme}://${host}:${l.port}`;
  return l;
}

async function close(l: Listener | undefined): Promise<void> {
  if (!l) return;
  for (const s of (l.server as Server & { sockets: Set<Socket> }).sockets) s.destroy();
  await new Promise((r) => l.server.close(r));
}

/** The hostile CA's pieces: an https server on 127.0.0.1 (the test CA's certificate) and what it points at. */
async function hostileCa() {
  const ca = testCa();
  // A plain-http service on loopback that would answer anyone with an ACME-looking directory.
  const internal = await listen(
    createServer((_, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ newNonce: 'x', newAccount: 'x', newOrder: 'x', revokeCert: 'x', keyChange: 'x', meta: { termsOfService: SECRET_TERMS } }));
    }),
    '127.0.0.1',
    'http',
  );
  // An https service on another loopback address: no one allows 127.0.0.3.
  const hidden = await listen(createHttpsServer({ cert: readFileSync(ca.leafCertPath), key: readFileSync(ca.leafKeyPath) }, (_, res) => res.end('{}')), '127.0.0.3', 'https');
  let streamed = 0;
  const front = await listen(
    createHttpsServer({ cert: readFileSync(ca.leafCertPath), key: readFileSync(ca.leafKeyPath) }, (req, res) => {
      if (req.url === '/redirect/dir') return void res.writeHead(302, { location: `${internal.url}/dir` }).end();
      if (req.url === '/private/dir') {
        const at = (path: string) => `${hidden.url}/${path}`;
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ newNonce: at('nonce'), newAccount: at('acct'), newOrder: at('order'), revokeCert: at('revoke'), keyChange: at('key'), meta: {} }));
      }
      if (req.url === '/huge/dir') {
        // 200 MB of a JSON string, written as fast as the reader takes it.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"meta":{"termsOfService":"');
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const pump = () => {
          while (!res.destroyed && streamed < 200 * 1024 * 1024) {
            streamed += chunk.length;
            if (!res.write(chunk)) return;
          }
          if (!res.destroyed) res.end('"}}');
        };
        res.on('drain', pump);
        return void pump();
      }
      res.writeHead(404).end();
    }),
    '127.0.0.1',
    'https',
  );
  return { internal, hidden, front, streamed: () => streamed, stop: () => Promise.all([close(internal), close(hidden), close(front)]) };
}

/** Step 1 of the wizard: an administrator, signed in; returns a function that asks /setup/ca about a directory. */
async function wizardLookUp(host: HostUnderTest) {
  const base = host.baseUrl;
  const same = { origin: base, 'sec-fetch-site': 'same-origin' };
  const form = new URLSearchParams({ step: 'admin', adminEmail: 'admin@example.com', adminPassword: 'correct horse battery staple', adminPassword2: 'correct horse battery staple' });
  if (host.kind === 'worker') form.set('setupToken', host.setupHeaders['Setup-Token']);
  const created = await fetch(`${base}/setup`, { method: 'POST', body: form, headers: same, redirect: 'manual' });
  expect(created.status).toBe(303);
  const cookie = created.headers.get('set-cookie')!.split(';')[0];
  const step2 = await (await fetch(`${base}/setup`, { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(step2)![1];
  return async (directoryUrl: string) => {
    const res = await fetch(`${base}/setup/ca`, { method: 'POST', headers: { ...same, cookie }, body: new URLSearchParams({ ca: 'other', directoryUrl, _csrf: csrf }) });
    return { status: res.status, text: decode(await res.text()) };
  };
}

/** Peak resident memory of a process (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'))!;
  return Number(/(\d+)/.exec(line)![1]) / 1024;
}

for (const kind of HOST_KINDS) {
  describe(`a hostile CA directory on the ${kind} host`, () => {
    let host: HostUnderTest;
    let evil: Awaited<ReturnType<typeof hostileCa>>;
    let lookUp: Awaited<ReturnType<typeof wizardLookUp>>;
    beforeAll(async () => {
      evil = await hostileCa();
      host = await startHost(kind);
      lookUp = await wizardLookUp(host);
    });
    afterAll(async () => Promise.allSettled([host?.stop(), evil?.stop()]));

    it('does not follow its redirect to a plain-http service on loopback: the page shows the refusal, not that service', async () => {
      const { status, text } = await lookUp(`${evil.front.url}/redirect/dir`);
      expect(status).toBe(200);
      expect(text).not.toContain(SECRET_TERMS);
      expect(text).toContain(`The directory at ${evil.front.url}/redirect/dir could not be read: it redirects (HTTP 302) to ${evil.internal.url}/dir; redirects are not followed here: use the final URL`);
      expect(evil.internal.hits).toEqual([]);
    });

    it('does not send a request to a loopback URL the directory names (POST /api/v1/setup: 502, nothing set up)', async () => {
      const res = await fetch(`${host.baseUrl}/api/v1/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...host.setupHeaders },
        body: JSON.stringify({ adminEmail: 'a@example.com', adminPassword: 'correct horse battery staple', acme: { directoryUrl: `${evil.front.url}/private/dir`, termsOfServiceAgreed: true } }),
      });
      const problem = await res.json();
      expect(res.status).toBe(502);
      expect(problem).toMatchObject({ code: 'TARGET_REFUSED' });
      const setting = kind === 'node' ? 'CERTKEEP_ALLOW_PRIVATE_TARGETS' : 'ALLOW_PRIVATE_TARGETS';
      expect(problem.detail).toBe(`request to ${evil.hidden.url}/nonce failed: 127.0.0.3 is a loopback address; outgoing requests go there only when ${setting} lists it`);
      expect(evil.hidden.connections).toBe(0);
    });

    it('refuses a private directory URL as a field error before asking anything', async () => {
      const res = await fetch(`${host.baseUrl}/api/v1/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...host.setupHeaders },
        body: JSON.stringify({ adminEmail: 'a@example.com', adminPassword: 'correct horse battery staple', acme: { directoryUrl: `${evil.hidden.url}/dir`, termsOfServiceAgreed: true } }),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ field: 'directoryUrl', detail: expect.stringMatching(/^directoryUrl: 127\.0\.0\.3 is a loopback address/) });
      expect(evil.hidden.connections).toBe(0);
    });

    it('reads at most a bounded part of a 200 MB directory, and says so', async () => {
      const before = kind === 'node' ? peakRssMiB((host as NodeHostUnderTest).process.pid) : 0;
      const { text } = await lookUp(`${evil.front.url}/huge/dir`);
      expect(text).toContain(`The directory at ${evil.front.url}/huge/dir could not be read: the answer is larger than 64 KiB; it was not read further`);
      const res = await fetch(`${host.baseUrl}/api/v1/setup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...host.setupHeaders },
        body: JSON.stringify({ adminEmail: 'a@example.com', adminPassword: 'correct horse battery staple', acme: { directoryUrl: `${evil.front.url}/huge/dir`, termsOfServiceAgreed: true } }),
      });
      expect(res.status).toBe(502);
      expect((await res.json()).detail).toBe(`request to ${evil.front.url}/huge/dir failed: the answer is larger than 1 MiB; it was not read further`);
      expect(evil.streamed()).toBeLessThan(50 * 1024 * 1024); // the sender was stopped, not drained
      if (kind === 'node') {
        const after = peakRssMiB((host as NodeHostUnderTest).process.pid);
        console.log(`[outbound] node host peak RSS around two 200 MB directories: ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB after`);
        expect(after - before).toBeLessThan(32);
      }
    });
  });

  describePebble(`DNS provider URLs that point inside, on the ${kind} host`, () => {
    let world: World;
    let internal: Listener;
    beforeAll(async () => {
      internal = await listen(createHttpsServer({ cert: readFileSync(testCa().leafCertPath), key: readFileSync(testCa().leafKeyPath) }, (_, res) => res.end('{}')), '127.0.0.2', 'https');
      world = await startWorld(kind);
    });
    afterAll(async () => Promise.allSettled([world?.stop(), close(internal)]));

    it('names a CA whose TLS certificate is not trusted as the cause (POST /api/v1/accounts)', async () => {
      const dir = makeTempDir('untrusted-');
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=Private CA', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')]);
      const untrusted = await listen(createHttpsServer({ cert: readFileSync(join(dir, 'cert.pem')), key: readFileSync(join(dir, 'key.pem')) }, (_, res) => res.end('{}')), '127.0.0.1', 'https');
      try {
        const res = await world.api.post('/api/v1/accounts', { name: world.name('a'), directoryUrl: `${untrusted.url}/dir`, termsOfServiceAgreed: true });
        expect(res.status).toBe(502);
        expect(res.body.code).toBe('ACME_NETWORK');
        if (kind === 'node') {
          expect(res.body.detail).toBe(
            `request to ${untrusted.url}/dir failed: the TLS certificate of 127.0.0.1:${untrusted.port} is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT); if a private CA issued it, start Certkeep with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`,
          );
        } else {
          console.log(`[outbound] the Worker says: ${res.body.detail}`);
          expect(res.body.detail).toMatch(/TLS|certificate/i);
        }
        expect(untrusted.hits).toEqual([]);
      } finally {
        await close(untrusted);
      }
    });

    it.each([
      ['webhook', (url: string) => ({ url, secret: 'a long shared secret 0123456789' }), 'url'],
      ['acme-dns', (url: string) => ({ url }), 'url'],
      ['cloudflare', (url: string) => ({ apiToken: 'token-0123456789', apiBase: url }), 'apiBase'],
    ] as const)('refuses a %s provider aimed at an internal https host at creation, naming the field', async (type, config, field) => {
      for (const url of [`${internal.url}/api`, 'https://169.254.169.254/latest', 'https://[::ffff:10.0.0.1]/', 'http://192.168.1.10/hook']) {
        const res = await world.api.post('/api/v1/dns-providers', { name: world.name('p'), type, ...config(url) });
        expect(res.status, `${type} ${url}`).toBe(400);
        expect(res.body.field).toBe(field);
        expect(res.body.detail).toMatch(/address|plain http/);
      }
      expect(internal.connections).toBe(0);
    });
  });
}

describePebble('a DNS provider whose target the admin no longer allows, on the node host', () => {
  let world: World;
  let internal: Listener;
  let restarted: NodeHostUnderTest | undefined;
  beforeAll(async () => {
    internal = await listen(createHttpsServer({ cert: readFileSync(testCa().leafCertPath), key: readFileSync(testCa().leafKeyPath) }, (_, res) => res.end('{}')), '127.0.0.2', 'https');
    world = await startWorld('node', { host: { env: { CERTKEEP_ALLOW_PRIVATE_TARGETS: `${TEST_PRIVATE_TARGETS}, 127.0.0.2/32` } } });
  });
  afterAll(async () => Promise.allSettled([restarted?.stop(), world?.stop(), close(internal)]));

  it('is refused at call time: the acme-dns registration never reaches it', async () => {
    const provider = world.name('acme-dns');
    expect((await world.api.post('/api/v1/dns-providers', { name: provider, type: 'acme-dns', url: internal.url })).status).toBe(201);
    // The admin narrows the allow-list: the host restarts on the same data without 127.0.0.2.
    const node = world.host as NodeHostUnderTest;
    await node.stop();
    restarted = await startNodeHost({ httpPort: node.httpPort, dataDir: node.dataDir, env: { CERTKEEP_DNS_SERVERS: world.pebble.dnsAddress } });
    const res = await world.api.post('/api/v1/certificates', { name: world.name(), domains: [world.domain()], challenge: 'dns-01', dnsProvider: provider });
    expect(res.status).toBe(502);
    expect(res.body.detail).toBe(
      `acme-dns: POST /register failed: 127.0.0.2 is a loopback address; outgoing requests go there only when CERTKEEP_ALLOW_PRIVATE_TARGETS lists it`,
    );
    expect(internal.connections).toBe(0);
  });
});
