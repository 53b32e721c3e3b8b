// Obtaining certificates from a real ACME server (Pebble 2.4.0), on both hosts: the 2-name
// http-01 certificate checked with openssl, the scheduler picking up new certificates on its
// own, revocation seen by Pebble, account key rollover, alternate chains, and a failing
// challenge whose problem document reaches lastError.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { issueCertificate, openssl, startWorld, tempFile, type World } from '../harness/world.ts';

for (const kind of HOST_KINDS) {
  describePebble(`issuance on the ${kind} host`, () => {
    let world: World;
    beforeAll(async () => {
      world = await startWorld(kind);
    });
    afterAll(async () => world?.stop());

    it('registered the default ACME account at setup and can register another', async () => {
      const list = await world.api.get('/api/v1/accounts');
      expect(list.status).toBe(200);
      expect(list.body.items.map((a: { name: string }) => a.name)).toContain('default');
      expect(list.body.next).toBeNull();
      expect(list.body.items[0].accountUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);

      const name = world.name('acct');
      const created = await world.api.post('/api/v1/accounts', {
        name,
        directoryUrl: world.pebble.directoryUrl,
        email: 'ops@example.com',
        termsOfServiceAgreed: true,
        keyType: 'ec-p384',
      });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ name, status: 'valid', keyType: 'ec-p384', email: 'ops@example.com' });
      expect(JSON.stringify(created.body)).not.toMatch(/PRIVATE KEY|"d":/);
    });

    it('obtains a 2-name certificate over http-01 that openssl verifies, with the matching key', async () => {
      const name = world.name();
      const domains = [world.domain('www'), world.domain('api')];
      const { created, certificate } = await issueCertificate(world, { name, domains });
      expect(certificate).toMatchObject({ name, domains, status: 'valid', lastError: null });
      expect(certificate.serial).toMatch(/^[0-9a-f]+$/);
      expect(Date.parse(certificate.renewAt)).toBeGreaterThan(Date.now());

      const cert = await fetch(`${world.host.baseUrl}/api/certificate/${name}`, { headers: { apiKey: created.apiKeys[0] } });
      expect(cert.status).toBe(200);
      const pem = await cert.text();
      const key = await fetch(`${world.host.baseUrl}/api/key/${name}`, { headers: { apikey: created.key.apiKeys[1] } });
      expect(key.status).toBe(200);
      const keyPem = await key.text();
      expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

      // The chain as served verifies against Pebble's root; the SANs are the names asked for.
      const [root] = await world.pebble.roots();
      const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
      expect(blocks.length).toBeGreaterThanOrEqual(2);
      const leafFile = tempFile('leaf.pem', blocks[0]);
      const chainFile = tempFile('chain.pem', blocks.slice(1).join(''));
      const rootFile = tempFile('root.pem', root);
      expect(openssl(['verify', '-CAfile', rootFile, '-untrusted', chainFile, leafFile])).toContain(': OK');
      const sans = openssl(['x509', '-in', leafFile, '-noout', '-ext', 'subjectAltName']);
      for (const d of domains) expect(sans).toContain(`DNS:${d}`);
      const opensslSerial = openssl(['x509', '-in', leafFile, '-noout', '-serial']).trim().replace(/^serial=/, '').toLowerCase().replace(/^0+/, '');
      expect(opensslSerial).toBe(certificate.serial);

      // The key served is the certificate's key.
      const certPub = openssl(['x509', '-in', leafFile, '-noout', '-pubkey']);
      const keyPub = openssl(['pkey', '-in', tempFile('key.pem', keyPem), '-pubout']);
      expect(keyPub).toBe(certPub);

      // One order in the history, done.
      const orders = await world.api.get(`/api/v1/certificates/${name}/orders`);
      expect(orders.body.items).toHaveLength(1);
      expect(orders.body.items[0]).toMatchObject({ state: 'done', serial: certificate.serial, error: null });
    });

    it('obtains a new certificate on the next scheduler tick without anyone calling issue', async () => {
      const name = world.name();
      const created = await world.api.post('/api/v1/certificates', { name, domains: [world.domain()] });
      expect(created.status).toBe(201);
      const deadline = Date.now() + 30_000;
      let status = '';
      while (Date.now() < deadline) {
        await world.host.tick();
        status = (await world.api.get(`/api/v1/certificates/${name}`)).body.status;
        if (status === 'valid') break;
      }
      expect(status).toBe('valid');
      const orders = await world.api.get(`/api/v1/certificates/${name}/orders`);
      expect(orders.body.items).toHaveLength(1);
      expect(orders.body.items[0].reason).toBe('new');
    });

    it('revokes a certificate, and Pebble reports it revoked', async () => {
      const name = world.name();
      const { certificate } = await issueCertificate(world, { name, domains: [world.domain()] });
      expect(await world.pebble.certStatus(certificate.serial)).toBe('Valid');
      const revoked = await world.api.post(`/api/v1/certificates/${name}/revoke`, { reason: 4 });
      expect(revoked.status).toBe(200);
      expect(revoked.body.status).toBe('revoked');
      expect(await world.pebble.certStatus(certificate.serial)).toBe('Revoked');
      // Pebble 2.4.0 publishes no CRL and names no OCSP responder, so the status cannot be read
      // from the certificate here (checkRevocation itself is tested against real CRLs and
      // openssl's OCSP responder in src/crypto/revocation.test.ts).
      const status = await world.api.get(`/api/v1/certificates/${name}/revocation-status`);
      expect(status.status).toBe(200);
      expect(status.body).toMatchObject({ name, status: 'unknown', reason: expect.stringMatching(/no CRL distribution point/) });
      const again = await world.api.post(`/api/v1/certificates/${name}/revoke`, { reason: 4 });
      expect(again.status).toBe(409);
    });

    it('rolls the account key over and keeps issuing with the new key', async () => {
      const account = world.name('acct');
      expect((await world.api.post('/api/v1/accounts', { name: account, directoryUrl: world.pebble.directoryUrl, termsOfServiceAgreed: true })).status).toBe(201);
      const before = await world.api.get(`/api/v1/accounts/${account}`);
      const rolled = await world.api.post(`/api/v1/accounts/${account}/key-rollover`, { keyType: 'ec-p384' });
      expect(rolled.status).toBe(200);
      expect(rolled.body).toMatchObject({ keyType: 'ec-p384', accountUrl: before.body.accountUrl });
      const { certificate } = await issueCertificate(world, { name: world.name(), domains: [world.domain()], account });
      expect(certificate.status).toBe('valid');
    });

    it('puts the ACME problem of a failing challenge into lastError and the order history', async () => {
      const name = world.name();
      const domain = world.domain('unreachable');
      // Pebble's validator connects to 127.0.0.2, where nothing listens.
      await world.pebble.challtestsrv('add-a', { host: `${domain}.`, addresses: ['127.0.0.2'] });
      expect((await world.api.post('/api/v1/certificates', { name, domains: [domain] })).status).toBe(201);
      const issued = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
      expect(issued.status).toBe(502);
      expect(issued.headers.get('content-type')).toBe('application/problem+json');
      expect(issued.body.type).toMatch(/^urn:ietf:params:acme:error:(connection|unauthorized|incorrectResponse)$/);
      expect(issued.body.detail).toBeTruthy();

      const cert = await world.api.get(`/api/v1/certificates/${name}`);
      expect(cert.body.status).toBe('invalid');
      expect(cert.body.lastError).toMatchObject({ type: issued.body.type, detail: issued.body.detail });
      expect(Date.parse(cert.body.nextAttemptAt)).toBeGreaterThan(Date.now());
      const orders = await world.api.get(`/api/v1/certificates/${name}/orders`);
      expect(orders.body.items[0]).toMatchObject({ state: 'failed', error: { type: issued.body.type } });
      // Creating it may have started an order already (at once on the Worker, in the request's
      // waitUntil), which failed before the forced one: each failed order counts once.
      expect(orders.body.items.every((o: { state: string }) => o.state === 'failed')).toBe(true);
      expect(cert.body.failureCount).toBe(orders.body.items.length);
    });
  });

  describePebble(`alternate chains on the ${kind} host`, () => {
    let world: World;
    beforeAll(async () => {
      world = await startWorld(kind, { pebble: { env: { PEBBLE_ALTERNATE_ROOTS: '1' } } });
    });
    afterAll(async () => world?.stop());

    it('serves the chain whose root the certificate prefers', async () => {
      const roots = await world.pebble.roots();
      expect(roots.length).toBe(2);
      const rootCn = (pem: string) => /CN\s*=\s*(.+)/.exec(openssl(['x509', '-noout', '-subject'], pem))![1].trim();
      const alternate = rootCn(roots[1]);
      const name = world.name();
      const { created } = await issueCertificate(world, { name, domains: [world.domain()], preferredChain: alternate });
      const pem = await (await fetch(`${world.host.baseUrl}/api/certificate/${name}`, { headers: { apikey: created.apiKeys[0] } })).text();
      const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)!;
      const leaf = tempFile('leaf.pem', blocks[0]);
      expect(openssl(['verify', '-CAfile', tempFile('alt-root.pem', roots[1]), '-untrusted', tempFile('chain.pem', blocks.slice(1).join('')), leaf])).toContain(': OK');
      // …and not against the default root.
      expect(() => openssl(['verify', '-CAfile', tempFile('root.pem', roots[0]), '-untrusted', tempFile('chain.pem', blocks.slice(1).join('')), leaf])).toThrow();
    });
  });

  describePebble(`badNonce storm on the ${kind} host`, () => {
    let world: World;
    beforeAll(async () => {
      world = await startWorld(kind, { pebble: { env: { PEBBLE_WFE_NONCEREJECT: '60' } } });
    });
    afterAll(async () => world?.stop());

    it('obtains certificates while Pebble rejects 60% of nonces', async () => {
      for (let i = 0; i < 3; i++) {
        const { certificate } = await issueCertificate(world, { name: world.name(), domains: [world.domain('a'), world.domain('b')] });
        expect(certificate.status).toBe('valid');
      }
    });
  });
}
