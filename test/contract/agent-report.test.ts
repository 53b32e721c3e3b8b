// The agent's side of the contract on both hosts (SPEC §4.8, §4.5): the script served to anyone
// at one exact path, POST /api/agent/report behind the download allow-list with a certificate
// API key, and the consumers it records, listed page by page. Every refusal is checked to have
// recorded nothing. Downloads record their consumer too (one row per consumer, not per request),
// and the tick raises consumer.stale for those still behind staleHours after a renewal.
//
// Client addresses: the node host believes X-Forwarded-For from loopback here
// (CERTKEEP_TRUST_PROXY), the Worker takes CF-Connecting-IP, so one test client can be many
// consumers.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { issueCertificate, openssl, startWorld, type World } from '../harness/world.ts';
import { AGENT_SHA256 } from '../../templates/static/agent.generated.ts';

const CONSUMERS = '192.0.2.0/24';
const OUTSIDER = '198.51.100.7';

for (const kind of HOST_KINDS) {
  describePebble(`the agent's report and the consumers list on the ${kind} host`, () => {
    let world: World;
    const env: Record<string, string> =
      kind === 'node'
        ? { CERTKEEP_TRUST_PROXY: '127.0.0.1/32', CERTKEEP_ALLOW_API: `127.0.0.1, ${CONSUMERS}` }
        : { ALLOW_API: `127.0.0.1, ${CONSUMERS}` };
    const from = (ip: string): Record<string, string> => (kind === 'worker' ? { 'cf-connecting-ip': ip } : { 'x-forwarded-for': ip });

    beforeAll(async () => {
      world = await startWorld(kind, { host: { env } });
    });
    afterAll(async () => world?.stop());

    const report = (apiKey: string | null, body: unknown, ip = '192.0.2.10', headers: Record<string, string> = {}) =>
      fetch(`${world.host.baseUrl}/api/agent/report`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(apiKey ? { apikey: apiKey } : {}), ...from(ip), ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const consumers = async (name: string, query = '') => {
      const res = await world.api.get(`/api/v1/certificates/${name}/consumers${query}`);
      expect(res.status, res.text).toBe(200);
      return res.body as { items: Array<Record<string, unknown>>; next: string | null };
    };
    /** The serial as openssl prints it for the served leaf: upper case, as the agent sends it (downloaded as the consumer 192.0.2.10 would). */
    const opensslSerial = async (name: string, apiKey: string) => {
      const pem = await (await fetch(`${world.host.baseUrl}/api/certificate/${name}?chain=false`, { headers: { apikey: apiKey, ...from('192.0.2.10') } })).text();
      return openssl(['x509', '-noout', '-serial'], pem).trim().replace(/^serial=/, '');
    };
    const good = (serial: string, extra: Record<string, unknown> = {}) => ({
      certificate: '', serial, installed: true, reload: 'ok', verified: true, host: 'web1.example.net', agentVersion: '1.0.0', ...extra,
    });

    it('records a report per consumer (certificate, API key slot, address), updates it in place, and lists the consumers page by page', async () => {
      const name = world.name();
      const { created, certificate } = await issueCertificate(world, { name, domains: [world.domain()] });
      const [key1, key2] = created.apiKeys as string[];
      const serial = await opensslSerial(name, key1);
      expect(serial.toLowerCase().replace(/^0+/, '')).toBe(certificate.serial);

      const first = await report(key1, good(serial, { certificate: name }), '192.0.2.10');
      expect(first.status, await first.clone().text()).toBe(204);
      expect(await first.text()).toBe('');
      expect((await report(key2, good(serial, { certificate: name, verified: null, reload: 'skipped', host: 'web2' }), '192.0.2.11')).status).toBe(204);
      expect((await report(key1, good(serial, { certificate: name, host: 'web3' }), '192.0.2.12')).status).toBe(204);

      const all = await consumers(name);
      expect(all.next).toBeNull();
      expect(all.items.map((c) => [c.apiKeySlot, c.address, c.host])).toEqual([
        [1, '192.0.2.10', 'web1.example.net'],
        [1, '192.0.2.12', 'web3'],
        [2, '192.0.2.11', 'web2'],
      ]);
      expect(all.items[0]).toMatchObject({ installedSerial: certificate.serial, reload: 'ok', verified: true, agentVersion: '1.0.0', behind: false, installed: true });
      expect(Date.parse(all.items[0].installedAt as string)).toBeGreaterThan(Date.now() - 60_000);
      expect(all.items[2]).toMatchObject({ reload: 'skipped', verified: null });

      // The same consumer again, this time a failed install: one row still, the installed serial kept.
      expect((await report(key1, good(serial, { certificate: name, installed: false, reload: 'failed', verified: false }), '192.0.2.10')).status).toBe(204);
      const again = await consumers(name);
      expect(again.items).toHaveLength(3);
      expect(again.items[0]).toMatchObject({ installedSerial: certificate.serial, installed: false, reload: 'failed', verified: false, reportedSerial: certificate.serial });

      // Paged: limit 1 walks the same three in the same order.
      const seen: unknown[] = [];
      let cursor: string | null = '';
      for (let pages = 0; cursor !== null; pages++) {
        expect(pages).toBeLessThan(4);
        const page = await consumers(name, `?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(page.items).toHaveLength(1);
        seen.push(page.items[0].address);
        cursor = page.next;
      }
      expect(seen).toEqual(['192.0.2.10', '192.0.2.12', '192.0.2.11']);
      expect((await world.api.get(`/api/v1/certificates/${name}/consumers?limit=0`)).body.field).toBe('limit');
      expect((await world.api.get(`/api/v1/certificates/${name}/consumers?limit=501`)).body.field).toBe('limit');
      expect((await world.api.get(`/api/v1/certificates/${name}/consumers?cursor=bogus`)).body.field).toBe('cursor');
      expect((await world.api.get(`/api/v1/certificates/nope/consumers`)).status).toBe(404);

      // After a renewal the consumers that did not install it are behind; the previous serial
      // is still a serial a report may name (a renewal can land between download and report).
      const renewed = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
      expect(renewed.status).toBe(200);
      expect(renewed.body.serial).not.toBe(certificate.serial);
      expect((await consumers(name)).items.every((c) => c.behind === true)).toBe(true);
      expect((await report(key2, good(serial, { certificate: name }), '192.0.2.13')).status).toBe(204);
      expect((await report(key2, good(renewed.body.serial, { certificate: name }), '192.0.2.11')).status).toBe(204);
      const after = await consumers(name);
      expect(after.items.find((c) => c.address === '192.0.2.11')).toMatchObject({ installedSerial: renewed.body.serial, behind: false });
      expect(after.items.find((c) => c.address === '192.0.2.13')).toMatchObject({ installedSerial: certificate.serial, behind: true });

      // Deleting the certificate takes its consumers with it.
      expect((await world.api.delete(`/api/v1/certificates/${name}`)).status).toBe(204);
      expect(Number((await world.host.sql('select count(*) as n from consumers where client_ip like ?', '192.0.2.1_'))[0].n)).toBe(0);
    });

    it('refuses bad reports with the status and field they deserve, and records nothing', async () => {
      const name = world.name();
      const other = world.name();
      const { created, certificate } = await issueCertificate(world, { name, domains: [world.domain()] });
      const otherCreated = (await world.api.post('/api/v1/certificates', { name: other, domains: [world.domain()] })).body;
      const key = created.apiKeys[0] as string;
      const body = good(certificate.serial, { certificate: name });

      const refused = async (res: Response, status: number, field?: string) => {
        const text = await res.text();
        expect(res.status, text).toBe(status);
        expect(res.headers.get('content-type')).toBe('application/problem+json');
        if (field) expect(JSON.parse(text).field, text).toBe(field);
      };
      await refused(await report(null, body), 401);
      await refused(await report('cka_not-a-real-key-at-all-0123456789', body), 401);
      await refused(await report('Bearer whatever', body), 401);
      // A key of another certificate, and the certificate's key's own API key.
      await refused(await report(otherCreated.apiKeys[0], body), 403);
      await refused(await report(created.key.apiKeys[0], body), 403);
      await refused(await report(key, { ...body, certificate: 'no-such-certificate' }), 404);
      // The serial of another certificate, or one never issued.
      await refused(await report(key, { ...body, serial: 'abcdef0123456789' }), 400, 'serial');
      await refused(await report(key, { ...body, serial: 'not hex' }), 400, 'serial');
      await refused(await report(key, '{"certificate":'), 400, 'body');
      await refused(await report(key, '[1,2]'), 400, 'body');
      await refused(await report(key, JSON.stringify({ ...body, host: 'x'.repeat(5000) })), 400, 'body');
      await refused(await report(key, { ...body, colour: 'red' }), 400, 'colour');
      const { installed: _i, ...noInstalled } = body;
      await refused(await report(key, noInstalled), 400, 'installed');
      await refused(await report(key, { ...body, reload: 'maybe' }), 400, 'reload');
      await refused(await report(key, { ...body, verified: 'yes' }), 400, 'verified');
      await refused(await report(key, { ...body, host: 'two words' }), 400, 'host');
      await refused(await report(key, body, '192.0.2.10', { 'content-type': 'text/plain' }), 415);
      // From an address outside the download allow-list.
      await refused(await report(key, body, OUTSIDER), 403);

      expect((await consumers(name)).items).toEqual([]);
      expect(Number((await world.host.sql('select count(*) as n from consumers c join certificates k on k.id = c.certificate_id where k.name in (?, ?)', name, other))[0].n)).toBe(0);
    });

    it('downloads record their consumer: one row per address and API key, written again only for a new serial; stale and failed installs raise their events once', async () => {
      const name = world.name();
      const { created, certificate } = await issueCertificate(world, { name, domains: [world.domain()] });
      const [key1, key2] = created.apiKeys as string[];
      const download = (apiKey: string, ip: string, headers: Record<string, string> = {}, path = `/api/certificate/${name}`) =>
        fetch(`${world.host.baseUrl}${path}`, { headers: { apikey: apiKey, ...from(ip), ...headers } });
      const row = async (ip: string, slot = 1) =>
        (await world.host.sql('select c.fetched_serial, c.fetched_at, c.updated_at, c.behind_since from consumers c join certificates k on k.id = c.certificate_id where k.name = ? and c.client_ip = ? and c.api_key_slot = ?', name, ip, slot))[0];
      const count = async () => Number((await world.host.sql('select count(*) as n from consumers c join certificates k on k.id = c.certificate_id where k.name = ?', name))[0].n);

      const first = await download(key1, '192.0.2.40');
      expect(first.status).toBe(200);
      await first.arrayBuffer();
      const recorded = await row('192.0.2.40');
      expect(recorded).toMatchObject({ fetched_serial: certificate.serial, behind_since: null });
      // Again, and as a 304: the same row, not written again.
      for (let i = 0; i < 3; i++) expect((await download(key1, '192.0.2.40')).status).toBe(200);
      expect((await download(key1, '192.0.2.40', { 'if-none-match': first.headers.get('etag')! })).status).toBe(304);
      expect(await row('192.0.2.40')).toEqual(recorded);
      // Another address (a 304 counts: it has the serial) and the other API key are other consumers;
      // a key download is none.
      expect((await download(key1, '192.0.2.41', { 'if-none-match': first.headers.get('etag')! })).status).toBe(304);
      expect((await download(key2, '192.0.2.40')).status).toBe(200);
      expect((await download(created.key.apiKeys[0], '192.0.2.42', {}, `/api/key/${created.key.name}`)).status).toBe(200);
      expect(await count()).toBe(3);
      const listed = await consumers(name);
      expect(listed.items.map((c) => [c.apiKeySlot, c.address, c.fetchedSerial, c.behind, c.stale])).toEqual([
        [1, '192.0.2.40', certificate.serial, false, false],
        [1, '192.0.2.41', certificate.serial, false, false],
        [2, '192.0.2.40', certificate.serial, false, false],
      ]);

      // A renewal: every consumer is behind; the next download of one catches it up.
      const renewed = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
      expect(renewed.status).toBe(200);
      expect((await consumers(name)).items.every((c) => c.behind === true && typeof c.behindSince === 'string')).toBe(true);
      expect((await download(key1, '192.0.2.40')).status).toBe(200);
      expect(await row('192.0.2.40')).toMatchObject({ fetched_serial: renewed.body.serial, behind_since: null });

      // 25 hours later (the clock moved in the database): the tick finds the two still behind
      // stale and says so once each.
      await world.host.sql('update consumers set behind_since = behind_since - ? where behind_since is not null and certificate_id = (select id from certificates where name = ?)', 25 * 3_600_000, name);
      await world.host.tick();
      // The key: consumer.stale:<certificate id>:<slot>:<address>:<serial>.
      const stale = async () =>
        (await world.host.sql("select dedupe_key from events where type = 'consumer.stale' and subject_name like ?", `${name} on %`)).map((r) => String(r.dedupe_key).split(':').slice(2).join(':')).sort();
      expect(await stale()).toEqual([`1:192.0.2.41:${renewed.body.serial}`, `2:192.0.2.40:${renewed.body.serial}`]);
      await world.host.tick();
      expect(await stale()).toHaveLength(2);
      expect((await consumers(name)).items.map((c) => [c.apiKeySlot, c.address, c.stale])).toEqual([
        [1, '192.0.2.40', false],
        [1, '192.0.2.41', true],
        [2, '192.0.2.40', true],
      ]);
      const all = await world.api.get('/api/v1/consumers?status=stale');
      expect(all.body.items.filter((c: any) => c.certificate === name).map((c: any) => c.address).sort()).toEqual(['192.0.2.40', '192.0.2.41']);
      // The dashboard's twin counts them (and its timeline is one statement both databases take).
      const dashboard = await world.api.get('/api/v1/dashboard');
      expect(dashboard.status, dashboard.text).toBe(200);
      expect(dashboard.body.attention.staleConsumers).toBeGreaterThanOrEqual(2);
      expect(dashboard.body.timeline.weeks.length).toBeGreaterThanOrEqual(13);

      // A failed install, reported twice: one event.
      const failed = good(renewed.body.serial, { certificate: name, installed: false, reload: 'failed', verified: null });
      for (let i = 0; i < 2; i++) expect((await report(key1, failed, '192.0.2.40')).status).toBe(204);
      expect(await world.host.sql("select title from events where type = 'consumer.install_failed' and subject_name like ?", `${name} on %`)).toEqual([
        { title: `Installing ${name} failed on web1.example.net` },
      ]);
    });

    it('serves the agent to anyone at its one path, with the SHA-256 the pages show; the paths beside it are not open', async () => {
      const res = await fetch(`${world.host.baseUrl}/agent/certkeep-agent.sh`, { headers: from(OUTSIDER) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      const bytes = Buffer.from(await res.arrayBuffer());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(AGENT_SHA256);
      expect(bytes.subarray(0, 10).toString()).toBe('#!/bin/sh\n');
      expect(res.headers.get('etag')).toBe(`"${AGENT_SHA256}"`);
      expect(res.headers.get('repr-digest')).toBe(`sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`);
      const again = await fetch(`${world.host.baseUrl}/agent/certkeep-agent.sh`, { headers: { ...from(OUTSIDER), 'if-none-match': res.headers.get('etag')! } });
      expect(again.status).toBe(304);
      for (const path of ['/agent/', '/agent/certkeep-agent.sh/x', '/agent/certkeep-agent.shx', '/agent/other.sh']) {
        expect((await fetch(`${world.host.baseUrl}${path}`, { headers: from(OUTSIDER) })).status, path).toBe(403);
      }
    });
  });
}
