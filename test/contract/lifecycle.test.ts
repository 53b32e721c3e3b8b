// Keys and accounts over a certificate's life, on both hosts, against Pebble: rotating a
// certificate onto a new key (the next issuance uses it, the served pair stays until then),
// deleting keys only when unused, accounts at a CA that requires external account binding,
// and deactivation.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { issueCertificate, openssl, setupBody, startWorld, type World } from '../harness/world.ts';

const EAB_KID = 'kid-certkeep';
const EAB_KEY = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W';

for (const kind of HOST_KINDS) {
  describePebble(`key rotation on the ${kind} host`, () => {
    let world: World;
    beforeAll(async () => {
      world = await startWorld(kind);
    });
    afterAll(async () => world?.stop());

    const leafPublicKey = async (name: string, apiKey: string) => {
      const pem = await (await fetch(`${world.host.baseUrl}/api/certificate/${name}?chain=false`, { headers: { apikey: apiKey } })).text();
      return openssl(['x509', '-noout', '-pubkey'], pem);
    };
    const keyPublicKey = async (name: string, apiKey: string) =>
      openssl(['pkey', '-pubout'], await (await fetch(`${world.host.baseUrl}/api/key/${name}`, { headers: { apikey: apiKey } })).text());

    it('moves the certificate to a new key at its next issuance, keeping the served pair until then', async () => {
      const name = world.name();
      const { created } = await issueCertificate(world, { name, domains: [world.domain()] });
      const oldKey = created.key;
      expect(await leafPublicKey(name, created.apiKeys[0])).toBe(await keyPublicKey(oldKey.name, oldKey.apiKeys[0]));

      const rotated = await world.api.post(`/api/v1/certificates/${name}/key`, { keyType: 'rsa-2048' });
      expect(rotated.status).toBe(200);
      const newKey = rotated.body.key;
      expect(newKey).toMatchObject({ name: `${name}-2`, type: 'rsa-2048' });
      expect(newKey.apiKeys).toHaveLength(2);
      // Still the old pair until the next issuance; the old key cannot go while it is served.
      expect(await leafPublicKey(name, created.apiKeys[0])).toBe(await keyPublicKey(oldKey.name, oldKey.apiKeys[0]));
      expect((await world.api.delete(`/api/v1/keys/${oldKey.name}`)).status).toBe(409);

      const issued = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
      expect(issued.status).toBe(200);
      expect(await leafPublicKey(name, created.apiKeys[0])).toBe(await keyPublicKey(newKey.name, newKey.apiKeys[0]));
      expect(openssl(['x509', '-noout', '-text'], await (await fetch(`${world.host.baseUrl}/api/certificate/${name}?chain=false`, { headers: { apikey: created.apiKeys[0] } })).text())).toMatch(/rsaEncryption/);
      // Now the old key is unused and can be deleted; the new one cannot.
      expect((await world.api.delete(`/api/v1/keys/${oldKey.name}`)).status).toBe(204);
      expect((await world.api.delete(`/api/v1/keys/${newKey.name}`)).status).toBe(409);
    });

    it('applies a renewal-days setting to served certificates at once, and back', async () => {
      const name = world.name();
      const { certificate } = await issueCertificate(world, { name, domains: [world.domain()] });
      const third = (c: { notBefore: string; notAfter: string }) => Date.parse(c.notAfter) - (Date.parse(c.notAfter) - Date.parse(c.notBefore)) / 3;
      // The renewal time is spread before the rule's time: by at most 5% of the lifetime, at most 3 days.
      const spread = (c: { notBefore: string; notAfter: string }) => Math.min((Date.parse(c.notAfter) - Date.parse(c.notBefore)) * 0.05, 3 * 86_400_000);
      const near = (c: { renewAt: string; notBefore: string; notAfter: string }, expected: number) => {
        expect(Date.parse(c.renewAt)).toBeLessThanOrEqual(expected + 1000);
        expect(Date.parse(c.renewAt)).toBeGreaterThanOrEqual(expected - spread(c) - 1000);
      };
      near(certificate, third(certificate));

      expect((await world.api.request('PUT', '/api/v1/settings', { renewDays: 5 })).body.field).toBe('renewDays');
      const set = await world.api.request('PUT', '/api/v1/settings', { renewDays: 30 });
      expect(set.status).toBe(200);
      expect(set.body.renewDays).toBe(30);
      const after = (await world.api.get(`/api/v1/certificates/${name}`)).body;
      const lifetime = Date.parse(after.notAfter) - Date.parse(after.notBefore);
      // 30 days before expiry, but never before half-way through the life of the certificate.
      const expected = Math.max(Date.parse(after.notAfter) - 30 * 86_400_000, Date.parse(after.notBefore) + lifetime / 2);
      near(after, expected);
      expect(Date.parse(after.renewAt)).not.toBe(Date.parse(certificate.renewAt));

      expect((await world.api.request('PUT', '/api/v1/settings', { renewDays: null })).body.renewDays).toBeNull();
      const back = (await world.api.get(`/api/v1/certificates/${name}`)).body;
      near(back, third(back));
    });

    it('edits a certificate through PATCH: new names make it due at once, bad input names the field', async () => {
      const name = world.name();
      const { certificate } = await issueCertificate(world, { name, domains: [world.domain()] });
      const extra = world.domain('extra');
      const edited = await world.api.request('PATCH', `/api/v1/certificates/${name}`, { domains: [...certificate.domains, extra] });
      expect(edited.status).toBe(200);
      expect(edited.body.changed).toEqual(['domains']);
      expect(edited.body.domains).toContain(extra);
      const reissued = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
      expect(reissued.status).toBe(200);
      const pem = await (await fetch(`${world.host.baseUrl}/api/certificate/${name}?chain=false`, { headers: { apikey: (await world.api.post(`/api/v1/certificates/${name}/api-keys/1`)).body.apiKey } })).text();
      expect(openssl(['x509', '-noout', '-ext', 'subjectAltName'], pem)).toContain(`DNS:${extra}`);
      expect((await world.api.request('PATCH', `/api/v1/certificates/${name}`, { domains: ['*.wild.example.com'] })).body.field).toBe('domains');
      expect((await world.api.request('PATCH', `/api/v1/certificates/${name}`, { colour: 'red' })).body.field).toBe('colour');
    });

    it('rotates onto an existing key and refuses bad rotations', async () => {
      const name = world.name();
      expect((await world.api.post('/api/v1/certificates', { name, domains: [world.domain()] })).status).toBe(201);
      const keyName = world.name('k');
      expect((await world.api.post('/api/v1/keys', { name: keyName, type: 'ec-p384' })).status).toBe(201);
      const ok = await world.api.post(`/api/v1/certificates/${name}/key`, { key: keyName });
      expect(ok.status).toBe(200);
      expect(ok.body.key).toEqual({ name: keyName });
      expect((await world.api.post(`/api/v1/certificates/${name}/key`, { key: keyName })).status).toBe(409);
      expect((await world.api.post(`/api/v1/certificates/${name}/key`, { key: 'nope' })).body.field).toBe('key');
      expect((await world.api.post(`/api/v1/certificates/${name}/key`, {})).body.field).toBe('keyType');
      expect((await world.api.post(`/api/v1/certificates/nope/key`, { keyType: 'ec-p256' })).status).toBe(404);
    });
  });

  describePebble(`accounts with external account binding on the ${kind} host`, () => {
    let world: World;
    beforeAll(async () => {
      world = await startWorld(kind, {
        pebble: { config: { externalAccountBindingRequired: true, externalAccountMACKeys: { [EAB_KID]: EAB_KEY } } },
        setup: false,
      });
      const res = await world.api.post('/api/v1/setup', setupBody(world.pebble, {
        acme: { directoryUrl: world.pebble.directoryUrl, termsOfServiceAgreed: true, eab: { kid: EAB_KID, hmacKey: EAB_KEY } },
      }), world.host.setupHeaders);
      expect(res.status).toBe(201);
      world.api.token = res.body.token;
    });
    afterAll(async () => world?.stop());

    it('registers only with a binding, keeps the ACME problem when refused, and deactivates', async () => {
      const without = await world.api.post('/api/v1/accounts', { name: 'no-eab', directoryUrl: world.pebble.directoryUrl, termsOfServiceAgreed: true });
      expect(without.status).toBe(502);
      expect(without.body.type).toBe('urn:ietf:params:acme:error:externalAccountRequired');
      expect((await world.api.get('/api/v1/accounts/no-eab')).status).toBe(404);

      const wrong = await world.api.post('/api/v1/accounts', {
        name: 'bad-eab',
        directoryUrl: world.pebble.directoryUrl,
        termsOfServiceAgreed: true,
        eab: { kid: EAB_KID, hmacKey: 'AAAA' + EAB_KEY.slice(4) },
      });
      expect(wrong.status).toBe(502);
      expect(wrong.body.acme.type).toMatch(/^urn:ietf:params:acme:error:/);

      const ok = await world.api.post('/api/v1/accounts', {
        name: 'with-eab',
        directoryUrl: world.pebble.directoryUrl,
        termsOfServiceAgreed: true,
        eab: { kid: EAB_KID, hmacKey: EAB_KEY },
      });
      expect(ok.status).toBe(201);
      const { certificate } = await issueCertificate(world, { name: world.name(), domains: [world.domain()], account: 'with-eab' });
      expect(certificate.status).toBe('valid');

      const deactivated = await world.api.post('/api/v1/accounts/with-eab/deactivate');
      expect(deactivated.status).toBe(200);
      expect(deactivated.body.status).toBe('deactivated');
      const refused = await world.api.post('/api/v1/certificates', { name: world.name(), domains: [world.domain()], account: 'with-eab' });
      expect(refused.status).toBe(400);
      expect(refused.body.field).toBe('account');
      // In use by a certificate: cannot be deleted.
      expect((await world.api.delete('/api/v1/accounts/with-eab')).status).toBe(409);
    });
  });
}
