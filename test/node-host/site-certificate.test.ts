// The site certificate (node host only: on Workers, Cloudflare terminates TLS). Setup with a
// hostname obtains a certificate for it from the CA; the HTTPS listener presents it by SNI within
// a second of its issuance, by this host or by another on the same database, and likewise each
// renewal; plain HTTP then redirects, except the challenge path and /healthz, and /api/* over
// plain HTTP from a non-loopback client is refused.
import http from 'node:http';
import https from 'node:https';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble, normalizeSerial, startPebble, type Pebble } from '../harness/pebble.ts';
import { presentedAfterIssuance, presentedCertificate } from '../harness/served-certificate.ts';
import { freePort } from '../harness/ports.ts';
import { startNodeHost, type NodeHostUnderTest } from '../harness/hosts.ts';
import { AdminClient, setupBody } from '../harness/world.ts';

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
      // No scheduler tick during the tests: the certificate is presented because it was issued,
      // not because a tick came by.
      env: { CERTKEEP_HTTPS_PORT: String(httpsPort), CERTKEEP_TICK_SECONDS: '3600', CERTKEEP_TRUST_PROXY: '127.0.0.1', CERTKEEP_ALLOW_ADMIN: '*', CERTKEEP_ALLOW_API: '*' },
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

  it('presents the site certificate by SNI as soon as the API has obtained it, and each renewal', async () => {
    const self = await presentedCertificate(httpsPort, hostname);
    expect(self.issuer.CN).toBe(self.subject.CN); // self-signed until then
    let serial: string | null = null;
    for (let round = 0; round < 2; round++) {
      const issued = await api.post('/api/v1/certificates/site/issue?wait=true');
      expect(issued.status).toBe(200);
      expect(issued.body.serial).not.toBe(serial);
      serial = issued.body.serial;
      // By the time the order's answer comes, the HTTPS port presents the new certificate.
      const peer = await presentedCertificate(httpsPort, hostname);
      expect(normalizeSerial(peer.serialNumber)).toBe(serial);
      expect(peer.subjectaltname).toBe(`DNS:${hostname}`);
      expect(peer.issuer.CN).not.toBe(peer.subject.CN);
    }
    expect((await api.get('/api/v1/certificates/site')).body).toMatchObject({ status: 'valid', domains: [hostname], serial });
  });

  it('presents within a second a site certificate that another host on the same database obtained', async () => {
    const before = normalizeSerial((await presentedCertificate(httpsPort, hostname)).serialNumber);
    const other = await startNodeHost({ dataDir: host.dataDir, env: { CERTKEEP_TICK_SECONDS: '3600' } });
    try {
      const renewed = await new AdminClient(other.baseUrl, api.token).post('/api/v1/certificates/site/issue?wait=true');
      expect(renewed.status).toBe(200);
      const presented = await presentedAfterIssuance(host, httpsPort, hostname, before, 5_000);
      expect(presented.serial).toBe(renewed.body.serial);
      expect(presented.seenAt - presented.issuedAt).toBeLessThan(1000);
    } finally {
      await other.stop();
    }
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
