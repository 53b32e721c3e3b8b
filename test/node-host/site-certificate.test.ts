// The site certificate (node host only: on Workers, Cloudflare terminates TLS). Setup with a
// hostname obtains a certificate for it from the CA; the HTTPS listener serves it by SNI and
// swaps in a renewed one without a restart; plain HTTP then redirects, except the challenge
// path and /healthz, and /api/* over plain HTTP from a non-loopback client is refused.
import tls from 'node:tls';
import http from 'node:http';
import https from 'node:https';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble, startPebble, type Pebble } from '../harness/pebble.ts';
import { freePort } from '../harness/ports.ts';
import { startNodeHost, type NodeHostUnderTest } from '../harness/hosts.ts';
import { AdminClient, setupBody } from '../harness/world.ts';

function peerCertificate(port: number, servername: string): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate());
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** A plain-HTTP request as if from `clientIp` (the host trusts 127.0.0.1 as a proxy). */
function viaProxy(port: number, path: string, clientIp: string, extra: Record<string, string> = {}): Promise<{ status: number; location?: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers: { 'x-forwarded-for': clientIp, host: `site.example:${port}`, ...extra } }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, location: res.headers.location });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Headers of a GET over the HTTPS listener, reached by SNI as `servername`. */
function headersOverHttps(port: number, servername: string, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path, servername, headers: { host: `${servername}:${port}` }, rejectUnauthorized: false }, (res) => {
      res.resume();
      resolve({ status: res.statusCode!, headers: res.headers });
    });
    req.on('error', reject);
    req.end();
  });
}

describePebble('the site certificate on the node host', () => {
  let pebble: Pebble;
  let host: NodeHostUnderTest;
  let httpsPort: number;
  let api: AdminClient;
  const hostname = `site-${Date.now()}.example.com`;

  beforeAll(async () => {
    const httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble({ httpPort });
    host = await startNodeHost({
      httpPort,
      env: { CERTKEEP_HTTPS_PORT: String(httpsPort), CERTKEEP_TRUST_PROXY: '127.0.0.1', CERTKEEP_ALLOW_ADMIN: '*', CERTKEEP_ALLOW_API: '*' },
    });
    api = new AdminClient(host.baseUrl);
    const res = await api.post('/api/v1/setup', setupBody(pebble, { hostname }));
    expect(res.status).toBe(201);
    api.token = res.body.token;
  });
  afterAll(async () => {
    await host?.stop();
    await pebble?.stop();
  });

  it('obtains the site certificate by itself and serves it by SNI, then swaps in a renewal without a restart', async () => {
    let peer: tls.PeerCertificate | undefined;
    for (let i = 0; i < 60; i++) {
      peer = await peerCertificate(httpsPort, hostname);
      if (peer.subjectaltname?.includes(hostname)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(peer!.subjectaltname).toBe(`DNS:${hostname}`);
    expect(peer!.issuer.CN).not.toBe(peer!.subject.CN);
    const site = await api.get('/api/v1/certificates/site');
    expect(site.body).toMatchObject({ status: 'valid', domains: [hostname] });
    expect(peer!.serialNumber.toLowerCase().replace(/^0+/, '')).toBe(site.body.serial);

    const renewed = await api.post('/api/v1/certificates/site/issue?wait=true');
    expect(renewed.status).toBe(200);
    expect(renewed.body.serial).not.toBe(site.body.serial);
    const pid = host.process.pid;
    let served = '';
    for (let i = 0; i < 40 && served !== renewed.body.serial; i++) {
      await new Promise((r) => setTimeout(r, 250));
      served = (await peerCertificate(httpsPort, hostname)).serialNumber.toLowerCase().replace(/^0+/, '');
    }
    expect(served).toBe(renewed.body.serial);
    expect(host.process.pid).toBe(pid);
  });

  it('redirects plain HTTP to HTTPS except the challenge path and /healthz, and refuses /api over plain HTTP', async () => {
    const page = await viaProxy(host.httpPort, '/certificates?x=1', '198.51.100.7');
    expect(page.status).toBe(308);
    expect(page.location).toBe(`https://site.example:${httpsPort}/certificates?x=1`);
    expect((await viaProxy(host.httpPort, '/api/v1/certificates', '198.51.100.7')).status).toBe(403);
    expect((await viaProxy(host.httpPort, '/api/certificate/site', '198.51.100.7')).status).toBe(403);
    expect((await viaProxy(host.httpPort, '/healthz', '198.51.100.7')).status).toBe(200);
    expect((await viaProxy(host.httpPort, `/.well-known/acme-challenge/${'A'.repeat(43)}`, '198.51.100.7')).status).toBe(404);
    // A TLS-terminating proxy that says so counts as HTTPS.
    expect((await viaProxy(host.httpPort, '/api/v1/certificates', '198.51.100.7', { 'x-forwarded-proto': 'https' })).status).toBe(401);
    // Loopback clients keep plain HTTP (the CLI, local scripts).
    expect((await api.get('/api/v1/certificates')).status).toBe(200);
  });

  it('sends HSTS and the strict page headers over HTTPS, and no HSTS over plain HTTP', async () => {
    const secure = await headersOverHttps(httpsPort, hostname, '/login');
    expect(secure.status).toBe(200);
    expect(secure.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(secure.headers['content-security-policy']).toContain("default-src 'self'");
    const plain = await fetch(`${host.baseUrl}/login`);
    expect(plain.status).toBe(200); // loopback: plain HTTP is allowed
    expect(plain.headers.get('strict-transport-security')).toBeNull();
  });
});
