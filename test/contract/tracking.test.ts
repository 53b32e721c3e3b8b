// Tracking on both hosts (SPEC §4.2), against Pebble: a certificate Certkeep obtains is tracked by
// itself; uploads (several PEM certificates, DER as base64) work on both, a key in an upload is
// refused with nothing stored; the tick writes the expiry notice of a tracked certificate on both
// (the Worker's cron included). Scanning is the node host's: there a server presenting the
// certificate Pebble issued (openssl s_server with the key and chain from the download API)
// verifies through Pebble's intermediate — one of Certkeep's own CAs, not a test switch — and after
// a renewal the server is seen presenting the earlier one. On the Worker a URL is a 400 that says
// why.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { freePort } from '../harness/ports.ts';
import { issueCertificate, startWorld, type World } from '../harness/world.ts';
import { makeLeaf, type Issued } from '../fixtures/tracking/pki.ts';
import { startSServer } from '../fixtures/tracking/servers.ts';
import { toBase64 } from '../../src/util/encoding.ts';

for (const kind of HOST_KINDS) {
  describePebble(`tracking on the ${kind} host`, () => {
    let world: World;
    beforeAll(async () => {
      world = await startWorld(kind);
    });
    afterAll(async () => world?.stop());

    const list = async (query: string) => {
      const res = await world.api.get(`/api/v1/tracking?${query}`);
      expect(res.status, res.text).toBe(200);
      return res.body.items as Array<Record<string, any>>;
    };

    it('tracks a certificate obtained from the CA by itself, and takes uploads (PEM, DER), refusing a key', async () => {
      const name = world.name();
      const { certificate } = await issueCertificate(world, { name, domains: [world.domain()] });
      const issued = (await list('source=issued&limit=500')).find((i) => i.certificate === name);
      expect(issued).toMatchObject({ source: 'issued', subject: certificate.domains[0], serial: certificate.serial, notAfter: certificate.notAfter, chainValid: null });
      expect(issued!.issuer).toMatch(/Pebble Intermediate/);
      expect(issued!.history).toHaveLength(1);
      expect((await world.api.delete(`/api/v1/tracking/${issued!.id}`)).status).toBe(409);

      const a = await makeLeaf({ names: [world.domain('a')], to: 50 });
      const b = await makeLeaf({ names: [world.domain('b')], to: 80 });
      const several = await world.api.post('/api/v1/tracking', { pem: a.pem + b.pem });
      expect(several.status, several.text).toBe(201);
      expect(several.body.items).toHaveLength(2);
      const der = await world.api.post('/api/v1/tracking', { pem: toBase64((await makeLeaf({ names: [world.domain('der')] })).der) });
      expect(der.status, der.text).toBe(201);
      const before = (await list('source=upload&limit=500')).length;
      const keyed = await world.api.post('/api/v1/tracking', { pem: (await makeLeaf({ names: [world.domain('k')] })).pem + a.keyPem });
      expect(keyed.status).toBe(400);
      expect(keyed.body.field).toBe('pem');
      expect((await list('source=upload&limit=500')).length).toBe(before);
      expect((await world.api.post('/api/v1/tracking', { pem: 'not a certificate' })).body.field).toBe('pem');
      expect((await world.api.post('/api/v1/tracking', { url: 'www.example.com:99999' })).body.field).toBe('url');
    });

    it('writes the expiry notice of a tracked certificate at the tick', async () => {
      const soon = await makeLeaf({ names: [world.domain('soon')], to: 10 });
      const added = await world.api.post('/api/v1/tracking', { pem: soon.pem });
      expect(added.status).toBe(201);
      const id = added.body.items[0].id;
      await world.host.tick();
      const rows = await world.host.sql(`select type, dedupe_key, title from events where subject_id = ?`, id);
      expect(rows).toEqual([{ type: 'tracking.expiring', dedupe_key: `tracking.expiring:${id}:${added.body.items[0].sha256}:14`, title: `${added.body.items[0].subject} expires in 10 days` }]);
    });

    if (kind === 'worker') {
      it('answers a URL with a 400 that says scans are a node-host feature', async () => {
        const res = await world.api.post('/api/v1/tracking', { url: 'www.example.com' });
        expect(res.status).toBe(400);
        expect(res.body.field).toBe('url');
        expect(res.body.detail).toMatch(/only the node host has/);
      });
      return;
    }

    it("scans a server presenting the certificate Pebble issued: trusted through Pebble's intermediate, and seen out of date after a renewal", async () => {
      const name = world.name();
      const domain = world.domain('www');
      const { created, certificate } = await issueCertificate(world, { name, domains: [domain] });
      const download = async (path: string, apiKey: string) => (await fetch(`${world.host.baseUrl}${path}`, { headers: { apikey: apiKey } })).text();
      const chainPem = await download(`/api/certificate/${name}`, created.apiKeys[0]);
      const [leafPem, ...chain] = chainPem.split(/(?<=-----END CERTIFICATE-----\n)/).filter((p) => p.includes('BEGIN'));
      const served = { pem: leafPem, keyPem: await download(`/api/key/${name}`, created.key.apiKeys[0]) } as Issued;
      const port = await freePort();
      const server = await startSServer(port, served, chain.map((pem) => ({ pem }) as Issued));
      try {
        // challtestsrv answers every name with 127.0.0.1 (CERTKEEP_DNS_SERVERS).
        const added = await world.api.post('/api/v1/tracking', { url: `https://${domain}:${port}` });
        expect(added.status, added.text).toBe(201);
        const scanned = await world.api.post(`/api/v1/tracking/${added.body.id}/scan?wait=true`);
        expect(scanned.status, scanned.text).toBe(200);
        expect(scanned.body).toMatchObject({ target: `${domain}:${port}`, serial: certificate.serial, chainValid: true, nameMatches: true, lastError: null, certificate: name });
        // One row for the certificate: the server's (the issued row is shown through it).
        expect((await list(`q=${domain}&limit=500`)).map((i) => i.source)).toEqual(['url']);

        // Renewed: Certkeep serves a new certificate, the server still presents the first one.
        const renewed = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
        expect(renewed.status).toBe(200);
        const after = await world.api.post(`/api/v1/tracking/${added.body.id}/scan?wait=true`);
        expect(after.body).toMatchObject({ serial: certificate.serial, certificate: null });
        const rows = await list(`q=${domain}&sort=source&limit=500`);
        expect(rows.map((i) => [i.source, i.serial])).toEqual([
          ['issued', renewed.body.serial],
          ['url', certificate.serial],
        ]);
      } finally {
        await server.stop();
      }
    });
  });
}
