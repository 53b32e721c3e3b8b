// The HTTP contract (SPEC §2, §4, §5) on both hosts: the download API's 401/403/404/400 rules,
// ETag/304, formats, API-key rotation, what Certera's clients send (curl), the always-open
// endpoints, setup rules and problem documents for bad input with nothing half-created.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { issueCertificate, openssl, setupBody, startWorld, tempFile, type World } from '../harness/world.ts';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

for (const kind of HOST_KINDS) {
  describePebble(`HTTP contract on the ${kind} host`, () => {
    let world: World;
    let cert: { name: string; apiKeys: string[]; key: { name: string; apiKeys: string[] } };
    let other: { name: string; apiKeys: string[]; key: { name: string; apiKeys: string[] } };
    let pending: { name: string; apiKeys: string[] };
    const download = (path: string, init: RequestInit = {}) => fetch(`${world.host.baseUrl}${path}`, init);

    beforeAll(async () => {
      world = await startWorld(kind);
      cert = (await issueCertificate(world, { name: world.name(), domains: [world.domain(), world.domain()] })).created;
      other = (await issueCertificate(world, { name: world.name(), domains: [world.domain()] })).created;
      // A certificate that is never issued: its only name resolves where nothing listens.
      const unreachable = world.domain('nowhere');
      await world.pebble.challtestsrv('add-a', { host: `${unreachable}.`, addresses: ['127.0.0.2'] });
      pending = (await world.api.post('/api/v1/certificates', { name: world.name(), domains: [unreachable] })).body;
    });
    afterAll(async () => world?.stop());

    describe('always-open endpoints', () => {
      it('answers /healthz', async () => {
        const res = await download('/healthz');
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ status: 'ok' });
      });

      it('answers 404 for an unknown challenge token', async () => {
        const res = await download('/.well-known/acme-challenge/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
        expect(res.status).toBe(404);
      });
    });

    describe('download API', () => {
      it('serves the full chain as PEM by default, leaf first, with an ETag', async () => {
        const res = await download(`/api/certificate/${cert.name}`, { headers: { apiKey: cert.apiKeys[0] } });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
        expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
        const pem = await res.text();
        expect(pem.match(PEM_CERT)!.length).toBeGreaterThanOrEqual(2);
      });

      it('serves the leaf alone with chain=false and DER as base64 with format=der', async () => {
        const leafOnly = await (await download(`/api/certificate/${cert.name}?chain=false`, { headers: { apikey: cert.apiKeys[1] } })).text();
        expect(leafOnly.match(PEM_CERT)).toHaveLength(1);
        const der = await (await download(`/api/certificate/${cert.name}?format=der`, { headers: { APIKEY: cert.apiKeys[0] } })).text();
        const fromDer = openssl(['x509', '-inform', 'DER', '-in', writeBinary(Buffer.from(der, 'base64')), '-outform', 'PEM']);
        expect(fromDer.trim()).toBe(leafOnly.trim());
      });

      it('takes the parameters from a form body too', async () => {
        const res = await download(`/api/certificate/${cert.name}`, {
          method: 'POST',
          headers: { apikey: cert.apiKeys[0], 'content-type': 'application/x-www-form-urlencoded' },
          body: 'chain=false&format=pem',
        });
        expect(res.status).toBe(200);
        expect((await res.text()).match(PEM_CERT)).toHaveLength(1);
      });

      it('serves a PKCS#12 that openssl opens with the password and refuses without it', async () => {
        const res = await download(`/api/certificate/${cert.name}?format=pfx&pfxPassword=s3cret%20p%C3%A4ss`, { headers: { apikey: cert.apiKeys[0] } });
        expect(res.status).toBe(200);
        expect(res.headers.get('etag')).toMatch(/^W\/"/);
        const pfx = writeBinary(Buffer.from(await res.text(), 'base64'));
        const read = spawnSync('openssl', ['pkcs12', '-in', pfx, '-passin', 'pass:s3cret päss', '-info', '-nodes'], { encoding: 'utf8' });
        expect(read.status).toBe(0);
        const info = read.stdout;
        expect(read.stderr).toMatch(/PBES2, PBKDF2, AES-256-CBC/); // openssl prints the algorithms on stderr
        expect(read.stderr).toMatch(/MAC: sha256/);
        // Key, leaf and chain: the key matches the leaf; every certificate of the PEM is there.
        const pem = await (await download(`/api/certificate/${cert.name}`, { headers: { apikey: cert.apiKeys[0] } })).text();
        const certs = info.match(PEM_CERT)!;
        expect(certs.map((c) => c.trim())).toEqual(pem.match(PEM_CERT)!.map((c) => c.trim()));
        const key = info.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----\n/)![0];
        expect(openssl(['pkey', '-pubout'], key)).toBe(openssl(['x509', '-noout', '-pubkey'], certs[0]));
        expect(() => openssl(['pkcs12', '-in', pfx, '-passin', 'pass:wrong', '-nodes'])).toThrow();
        // The same certificate and key: a 304 for the weak ETag.
        const again = await download(`/api/certificate/${cert.name}`, {
          method: 'POST',
          headers: { apikey: cert.apiKeys[0], 'if-none-match': res.headers.get('etag')!, 'content-type': 'application/x-www-form-urlencoded' },
          body: 'format=pfx&pfxPassword=another',
        });
        expect(again.status).toBe(304);
      });

      it('answers 304 to If-None-Match with the ETag', async () => {
        const first = await download(`/api/certificate/${cert.name}`, { headers: { apikey: cert.apiKeys[0] } });
        const etag = first.headers.get('etag')!;
        const again = await download(`/api/certificate/${cert.name}`, { headers: { apikey: cert.apiKeys[0], 'if-none-match': etag } });
        expect(again.status).toBe(304);
        expect(again.headers.get('etag')).toBe(etag);
        expect(await again.text()).toBe('');
        const key = await download(`/api/key/${cert.key.name}`, { headers: { apikey: cert.key.apiKeys[0] } });
        const keyAgain = await download(`/api/key/${cert.key.name}`, { headers: { apikey: cert.key.apiKeys[0], 'if-none-match': key.headers.get('etag')! } });
        expect(keyAgain.status).toBe(304);
      });

      it('serves the key as PKCS#8 PEM and DER', async () => {
        const pem = await (await download(`/api/key/${cert.key.name}`, { headers: { apikey: cert.key.apiKeys[0] } })).text();
        expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
        const der = await (await download(`/api/key/${cert.key.name}?format=der`, { headers: { apikey: cert.key.apiKeys[0] } })).text();
        const fromDer = openssl(['pkey', '-inform', 'DER', '-in', writeBinary(Buffer.from(der, 'base64'))]);
        expect(fromDer).toBe(pem);
      });

      it('answers 401 without a key, with an unknown key, an empty key or a prefix of a real key', async () => {
        for (const headers of [{} as Record<string, string>, { apikey: '' }, { apikey: 'ckc_' + 'A'.repeat(32) }, { apikey: 'cka_' + 'A'.repeat(32) }, { apikey: cert.apiKeys[0].slice(0, -1) }, { apikey: `${cert.apiKeys[0]}x` }]) {
          const res = await download(`/api/certificate/${cert.name}`, { headers });
          expect(res.status).toBe(401);
          expect(res.headers.get('content-type')).toBe('application/problem+json');
        }
        expect((await download(`/api/certificate/does-not-exist`, {})).status).toBe(401);
      });

      it('answers 403 for a key of another object, and never lets a certificate key open a key or the reverse, saying which key is wanted', async () => {
        const detailOf = async (path: string, apikey: string) => {
          const res = await download(path, { headers: { apikey } });
          expect(res.status).toBe(403);
          const text = await res.text();
          expect(text).not.toContain(other.name); // what the presented key does open stays unnamed
          return JSON.parse(text).detail as string;
        };
        expect(await detailOf(`/api/certificate/${cert.name}`, other.apiKeys[0])).toMatch(/^this API key belongs to another certificate; /);
        expect(await detailOf(`/api/certificate/${cert.name}`, cert.key.apiKeys[0])).toBe(
          `this is a key's API key; /api/certificate/${cert.name} needs one of the certificate's own two API keys (ckc_…, or an older cka_…)`,
        );
        expect(await detailOf(`/api/key/${cert.key.name}`, cert.apiKeys[0])).toBe(
          `this is a certificate's API key; /api/key/${cert.key.name} needs one of the key's own two API keys (ckk_…, or an older cka_…)`,
        );
        expect(await detailOf(`/api/key/${cert.key.name}`, other.key.apiKeys[0])).toMatch(/^this API key belongs to another key; /);
      });

      it('answers 404 for an unknown name and for a certificate not issued yet', async () => {
        expect((await download(`/api/certificate/no-such-cert`, { headers: { apikey: cert.apiKeys[0] } })).status).toBe(404);
        expect((await download(`/api/key/no-such-key`, { headers: { apikey: cert.key.apiKeys[0] } })).status).toBe(404);
        const res = await download(`/api/certificate/${pending.name}`, { headers: { apikey: pending.apiKeys[0] } });
        expect(res.status).toBe(404);
        expect((await res.json()).detail).toMatch(/not yet issued/);
      });

      it('guards staging: a production certificate asked for with staging=true is 404', async () => {
        expect((await download(`/api/certificate/${cert.name}?staging=false`, { headers: { apikey: cert.apiKeys[0] } })).status).toBe(200);
        expect((await download(`/api/certificate/${cert.name}?staging=true`, { headers: { apikey: cert.apiKeys[0] } })).status).toBe(404);
      });

      it('answers 400 for a bad parameter, naming it', async () => {
        for (const [query, field] of [['format=zip', 'format'], ['chain=maybe', 'chain'], ['staging=yes', 'staging'], ['format=pfx', 'pfxPassword']]) {
          const res = await download(`/api/certificate/${cert.name}?${query}`, { headers: { apikey: cert.apiKeys[0] } });
          expect(res.status, query).toBe(400);
          expect((await res.json()).field).toBe(field);
        }
        const res = await download(`/api/key/${cert.key.name}?format=pfx`, { headers: { apikey: cert.key.apiKeys[0] } });
        expect(res.status).toBe(400);
      });

      it('rotates one API key while the other keeps working', async () => {
        const rotated = await world.api.post(`/api/v1/certificates/${other.name}/api-keys/1`);
        expect(rotated.status).toBe(200);
        const fresh = rotated.body.apiKey as string;
        expect(fresh).not.toBe(other.apiKeys[0]);
        expect((await download(`/api/certificate/${other.name}`, { headers: { apikey: other.apiKeys[0] } })).status).toBe(401);
        expect((await download(`/api/certificate/${other.name}`, { headers: { apikey: fresh } })).status).toBe(200);
        expect((await download(`/api/certificate/${other.name}`, { headers: { apikey: other.apiKeys[1] } })).status).toBe(200);

        const keyRotated = await world.api.post(`/api/v1/keys/${other.key.name}/api-keys/2`);
        expect((await download(`/api/key/${other.key.name}`, { headers: { apikey: other.key.apiKeys[1] } })).status).toBe(401);
        expect((await download(`/api/key/${other.key.name}`, { headers: { apikey: keyRotated.body.apiKey } })).status).toBe(200);
        expect((await download(`/api/key/${other.key.name}`, { headers: { apikey: other.key.apiKeys[0] } })).status).toBe(200);
        expect((await world.api.post(`/api/v1/keys/${other.key.name}/api-keys/3`)).status).toBe(400);
      });
    });

    // Certera's clients, sent with curl as its users send them (SPEC §5, issue 13): what Certera
    // (ASP.NET Core MVC) answered and a plain Fetch router would not. In detail, in process:
    // src/http/download-certera.test.ts.
    describe("Certera's clients", () => {
      let base: string;
      let subject: string;
      let chain: string;
      beforeAll(async () => {
        base = world.host.baseUrl;
        subject = (await world.api.get(`/api/v1/certificates/${cert.name}`)).body.domains[0];
        chain = curl([`${base}/api/certificate/${cert.name}`, '-H', `apiKey:${cert.apiKeys[0]}`]).body;
      });

      it('takes the parameters as a form body on a GET (curl -X GET -d), for certificates and keys', async () => {
        expect(chain.match(PEM_CERT)!.length).toBeGreaterThanOrEqual(2);
        const pfx = curl(['-X', 'GET', `${base}/api/certificate/${cert.name}`, '-H', `apiKey:${cert.apiKeys[0]}`, '-d', 'format=pfx&pfxPassword=s3cr3t%20pass']);
        expect(pfx.status).toBe(200);
        const contents = openssl(['pkcs12', '-in', writeBinary(Buffer.from(pfx.body, 'base64')), '-passin', 'pass:s3cr3t pass', '-nodes']);
        expect(contents.match(PEM_CERT)!.length).toBe(chain.match(PEM_CERT)!.length);
        const leaf = curl(['-X', 'GET', `${base}/api/certificate/${cert.name}`, '-H', `apiKey:${cert.apiKeys[1]}`, '-d', 'chain=false']);
        expect(leaf.body.match(PEM_CERT)).toEqual([chain.match(PEM_CERT)![0]]);
        const der = curl(['-X', 'GET', `${base}/api/key/${cert.key.name}`, '-H', `apiKey:${cert.key.apiKeys[0]}`, '-d', 'format=der']);
        expect(der.status).toBe(200);
        const publicKey = openssl(['x509', '-noout', '-pubkey'], chain);
        expect(openssl(['pkey', '-inform', 'DER', '-in', writeBinary(Buffer.from(der.body, 'base64')), '-pubout'])).toBe(publicKey);
        // A form body larger than parameters need is refused, not read on.
        const big = curl(['-X', 'GET', `${base}/api/certificate/${cert.name}`, '-H', `apiKey:${cert.apiKeys[0]}`, '-d', `chain=false&pad=${'x'.repeat(20_000)}`]);
        expect(big.status).toBe(413);
      });

      it('matches paths and parameter names in any case', async () => {
        const leaf = curl([`${base}/API/Certificate/${cert.name}?Chain=false`, '-H', `apikey:${cert.apiKeys[0]}`]);
        expect(leaf.status).toBe(200);
        expect(leaf.body.match(PEM_CERT)).toHaveLength(1);
        expect(curl([`${base}/Api/Certificate/${cert.name}/`, '-H', `APIKEY:${cert.apiKeys[0]}`]).body).toBe(chain);
        const pfx = curl([`${base}/api/CERTIFICATE/${cert.name}`, '-H', `apiKey:${cert.apiKeys[0]}`, '-d', 'FORMAT=pfx&PfxPassword=x']);
        expect(pfx.status).toBe(200);
        expect(openssl(['pkcs12', '-in', writeBinary(Buffer.from(pfx.body, 'base64')), '-passin', 'pass:x', '-nodes', '-nokeys'])).toMatch(/BEGIN CERTIFICATE/);
        expect(curl([`${base}/Api/Key/${cert.key.name}?FORMAT=pem`, '-H', `apiKey:${cert.key.apiKeys[1]}`]).body).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      });

      it('refuses a whitespace-only pfxPassword with a 400 that names pfxPassword', async () => {
        for (const args of [['-X', 'GET', '-d', 'format=pfx&pfxPassword=%20%20'], ['-G', '--data-urlencode', 'format=pfx', '--data-urlencode', 'pfxPassword=\t']]) {
          const res = curl([...args, `${base}/api/certificate/${cert.name}`, '-H', `apiKey:${cert.apiKeys[0]}`]);
          expect(res.status).toBe(400);
          expect(res.type).toBe('application/problem+json');
          expect(JSON.parse(res.body)).toMatchObject({ status: 400, field: 'pfxPassword' });
        }
      });

      it('answers GET /api/test with 200 and an empty body, in any case', async () => {
        for (const path of ['/api/test', '/API/Test']) expect(curl([`${base}${path}`])).toMatchObject({ status: 200, body: '' });
      });

      it('finds a certificate by its subject when no certificate has that name, and keys by name only', async () => {
        const bySubject = curl([`${base}/api/certificate/${subject}`, '-H', `apiKey:${cert.apiKeys[1]}`]);
        expect(bySubject.status).toBe(200);
        expect(bySubject.body).toBe(chain);
        expect(curl([`${base}/api/certificate/${subject.toUpperCase()}?chain=false`, '-H', `apiKey:${cert.apiKeys[0]}`]).body.match(PEM_CERT)).toHaveLength(1);
        expect(curl([`${base}/api/certificate/${world.domain('nobody')}`, '-H', `apiKey:${cert.apiKeys[0]}`]).status).toBe(404);
        expect(curl([`${base}/api/key/${subject}`, '-H', `apiKey:${cert.key.apiKeys[0]}`]).status).toBe(404);
      });
    });

    describe('admin API', () => {
      it('refuses requests without a valid admin token', async () => {
        const anonymous = await fetch(`${world.host.baseUrl}/api/v1/certificates`);
        expect(anonymous.status).toBe(401);
        const wrong = await fetch(`${world.host.baseUrl}/api/v1/certificates`, { headers: { authorization: 'Bearer ckt_' + 'x'.repeat(32) } });
        expect(wrong.status).toBe(401);
        expect(wrong.headers.get('content-type')).toBe('application/problem+json');
      });

      if (kind === 'worker') {
        it('requires the Setup-Token header for setup on the Worker', async () => {
          for (const headers of [{}, { 'Setup-Token': 'wrong' }, { 'Setup-Token': '' }] as Record<string, string>[]) {
            const res = await world.api.post('/api/v1/setup', setupBody(world.pebble), headers);
            expect(res.status).toBe(401);
          }
        });
      }

      it('answers 409 to a second setup', async () => {
        const res = await world.api.post('/api/v1/setup', setupBody(world.pebble), world.host.setupHeaders);
        expect(res.status).toBe(409);
      });

      it('lists certificates and keys without any secret', async () => {
        const certs = await world.api.get('/api/v1/certificates');
        expect(certs.status).toBe(200);
        expect(certs.body.items.map((c: { name: string }) => c.name)).toEqual(expect.arrayContaining([cert.name, other.name]));
        const keys = await world.api.get('/api/v1/keys');
        expect(keys.body.items.map((k: { name: string }) => k.name)).toContain(cert.key.name);
        const all = certs.text + keys.text + (await world.api.get('/api/v1/accounts')).text;
        expect(all).not.toMatch(/ck[tcka]_|PRIVATE KEY|key_sealed|keySealed/);
      });

      it('refuses to delete a key in use and deletes an unused one', async () => {
        expect((await world.api.delete(`/api/v1/keys/${cert.key.name}`)).status).toBe(409);
        const made = await world.api.post('/api/v1/keys', { name: world.name('k'), type: 'rsa-2048' });
        expect(made.status).toBe(201);
        expect(made.body.apiKeys).toHaveLength(2);
        expect((await world.api.delete(`/api/v1/keys/${made.body.name}`)).status).toBe(204);
        expect((await world.api.get(`/api/v1/keys/${made.body.name}`)).status).toBe(404);
      });

      it('imports a PEM key and issues a certificate with it', async () => {
        const pem = openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384']);
        const imported = await world.api.post('/api/v1/keys', { name: world.name('k'), pem });
        expect(imported.status).toBe(201);
        expect(imported.body.type).toBe('ec-p384');
        const { created } = await issueCertificate(world, { name: world.name(), domains: [world.domain()], key: imported.body.name });
        expect(created.key).toEqual({ name: imported.body.name });
        const leaf = (await (await download(`/api/certificate/${created.name}?chain=false`, { headers: { apikey: created.apiKeys[0] } })).text());
        expect(openssl(['x509', '-noout', '-pubkey'], leaf)).toBe(openssl(['pkey', '-pubout'], pem));
      });
    });

    describe('bad input', () => {
      const post = (body: unknown) => world.api.post('/api/v1/certificates', body);
      let before: string;
      beforeAll(async () => {
        before = JSON.stringify([(await world.api.get('/api/v1/certificates')).body.items.map((c: { name: string }) => c.name), (await world.api.get('/api/v1/keys')).body.items.map((k: { name: string }) => k.name)]);
      });

      it('answers malformed JSON with 400', async () => {
        const res = await world.api.post('/api/v1/certificates', '{"name": "x",');
        expect(res.status).toBe(400);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        expect(res.body).toMatchObject({ status: 400, title: expect.any(String), detail: expect.stringMatching(/JSON/) });
      });

      const cases: Array<[string, Record<string, unknown>, string, number?]> = [
        ['unknown field', { name: 'x1', domains: ['a.example.com'], colour: 'red' }, 'colour'],
        ['unknown nested field', { name: 'x1', domains: ['a.example.com'], subject: { CN: 'a', X: 1 } }, 'subject.X'],
        ['missing name', { domains: ['a.example.com'] }, 'name'],
        ['empty name', { name: '', domains: ['a.example.com'] }, 'name'],
        ['over-long name', { name: 'n'.repeat(65), domains: ['a.example.com'] }, 'name'],
        ['name with a slash', { name: 'a/b', domains: ['a.example.com'] }, 'name'],
        ['no domains', { name: 'x2', domains: [] }, 'domains'],
        ['domains not a list', { name: 'x2', domains: 'a.example.com' }, 'domains'],
        ['empty domain', { name: 'x2', domains: [''] }, 'domains'],
        ['over-long domain', { name: 'x2', domains: [`${'a'.repeat(64)}.example.com`] }, 'domains'],
        ['more than 100 domains', { name: 'x2', domains: Array.from({ length: 101 }, (_, i) => `d${i}.example.com`) }, 'domains'],
        ['wildcard with http-01', { name: 'x2', domains: ['*.example.com'] }, 'domains'],
        ['IPv4 literal', { name: 'x2', domains: ['192.0.2.1'] }, 'domains'],
        ['IPv6 literal', { name: 'x2', domains: ['2001:db8::1'] }, 'domains'],
        ['bad challenge', { name: 'x2', domains: ['a.example.com'], challenge: 'tls-alpn-01' }, 'challenge'],
        ['unknown key type', { name: 'x2', domains: ['a.example.com'], keyType: 'ec-p521' }, 'keyType'],
        ['unknown key', { name: 'x2', domains: ['a.example.com'], key: 'nope' }, 'key'],
        ['unknown account', { name: 'x2', domains: ['a.example.com'], account: 'nope' }, 'account'],
        ['dns-01 without provider', { name: 'x2', domains: ['a.example.com'], challenge: 'dns-01' }, 'dnsProvider'],
      ];
      for (const [label, body, field] of cases) {
        it(`answers 400 naming "${field}" for ${label}`, async () => {
          const res = await post(body);
          expect(res.status).toBe(400);
          expect(res.headers.get('content-type')).toBe('application/problem+json');
          expect(res.body.field).toBe(field);
          expect(res.body['invalid-params'][0].name).toBe(field);
        });
      }

      it('answers 409 naming "name" for a duplicate certificate name', async () => {
        const res = await post({ name: cert.name, domains: [world.domain()] });
        expect(res.status).toBe(409);
        expect(res.body.field).toBe('name');
      });

      it('answers 409 when the new key would take an existing key name', async () => {
        const keyName = world.name('k');
        expect((await world.api.post('/api/v1/keys', { name: keyName, type: 'ec-p256' })).status).toBe(201);
        const res = await post({ name: keyName, domains: [world.domain()] });
        expect(res.status).toBe(409);
        expect((await world.api.get(`/api/v1/certificates/${keyName}`)).status).toBe(404);
      });

      it('punycodes non-ASCII names', async () => {
        const name = world.name();
        const res = await post({ name, domains: ['Bücher.Example.com'] });
        expect(res.status).toBe(201);
        expect((await world.api.get(`/api/v1/certificates/${name}`)).body.domains).toEqual(['xn--bcher-kva.example.com']);
        // Its order starts at once (the work queue), and a certificate is deleted once its order has
        // ended: wait while it is new (the order not placed yet) or pending (the order running).
        const waiting = async () => ['new', 'pending'].includes((await world.api.get(`/api/v1/certificates/${name}`)).body.status);
        for (let i = 0; i < 100 && (await waiting()); i++) await new Promise((r) => setTimeout(r, 100));
        expect((await world.api.delete(`/api/v1/certificates/${name}`)).status).toBe(204);
        expect((await world.api.delete(`/api/v1/keys/${name}`)).status).toBe(204);
      });

      it('left nothing half-created', async () => {
        const after = JSON.stringify([
          (await world.api.get('/api/v1/certificates')).body.items.map((c: { name: string }) => c.name),
          (await world.api.get('/api/v1/keys')).body.items.map((k: { name: string }) => k.name).filter((n: string) => !n.startsWith('k-')),
        ]);
        expect(after).toBe(JSON.stringify([JSON.parse(before)[0], JSON.parse(before)[1].filter((n: string) => !n.startsWith('k-'))]));
      });
    });
  });
}

function writeBinary(bytes: Buffer): string {
  const path = tempFile('bin', '');
  writeFileSync(path, bytes);
  return path;
}

/** curl with the given arguments: status, body and content type. */
function curl(args: string[]): { status: number; body: string; type: string } {
  const out = execFileSync('curl', ['-s', '-w', '\n%{http_code} %{content_type}', ...args], { encoding: 'utf8', maxBuffer: 4 << 20 });
  const at = out.lastIndexOf('\n');
  const [status, type = ''] = out.slice(at + 1).split(' ');
  return { status: Number(status), body: out.slice(0, at), type };
}
