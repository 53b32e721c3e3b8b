// dns-01 on both hosts, against Pebble: a webhook provider publishes the TXT records (the test's
// receiver puts them into challtestsrv, the DNS server Pebble asks), the host waits until they
// are visible, answers, and removes them afterwards by value. A wildcard and its apex share one
// record name with two values.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { HOST_KINDS } from '../harness/hosts.ts';
import { openssl, startWorld, type World } from '../harness/world.ts';
import { startDnsWebhook, type DnsWebhook } from '../harness/dns-helpers.ts';

for (const kind of HOST_KINDS) {
  describePebble(`dns-01 with a webhook provider on the ${kind} host`, () => {
    let world: World;
    let hook: DnsWebhook;
    const provider = 'hook';

    beforeAll(async () => {
      world = await startWorld(kind);
      hook = await startDnsWebhook(world.pebble);
      const res = await world.api.post('/api/v1/dns-providers', { name: provider, type: 'webhook', url: hook.url, secret: hook.secret });
      expect(res.status).toBe(201);
    });
    afterAll(async () => {
      await hook?.stop();
      await world?.stop();
    });

    it('shows the provider without its secret', async () => {
      const res = await world.api.get(`/api/v1/dns-providers/${provider}`);
      expect(res.body).toEqual({ name: provider, type: 'webhook', config: { url: hook.url }, createdAt: expect.any(String) });
      expect((await world.api.get('/api/v1/dns-providers')).text).not.toContain(hook.secret);
    });

    it('obtains a wildcard certificate with its apex, and removes both TXT values afterwards', async () => {
      const base = world.domain('dns');
      const name = world.name();
      hook.calls.length = 0;
      const created = await world.api.post('/api/v1/certificates', { name, domains: [`*.${base}`, base], challenge: 'dns-01', dnsProvider: provider });
      expect(created.status).toBe(201);
      const issued = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
      expect(issued.status, issued.text).toBe(200);

      const pem = await (await fetch(`${world.host.baseUrl}/api/certificate/${name}?chain=false`, { headers: { apikey: created.body.apiKeys[0] } })).text();
      const sans = openssl(['x509', '-noout', '-ext', 'subjectAltName'], pem);
      expect(sans).toContain(`DNS:*.${base}`);
      expect(sans).toContain(`DNS:${base}`);

      const fqdn = `_acme-challenge.${base}`;
      const sets = hook.calls.filter((c) => c.action === 'set');
      const clears = hook.calls.filter((c) => c.action === 'clear');
      expect(sets.map((c) => c.fqdn)).toEqual([fqdn, fqdn]);
      expect(new Set(sets.map((c) => c.value)).size).toBe(2);
      expect(clears.map((c) => c.value).sort()).toEqual(sets.map((c) => c.value).sort());
      expect(hook.calls.indexOf(clears[0])).toBeGreaterThan(hook.calls.indexOf(sets[1]));
    });

    it('reports a failing provider in lastError and the order history', async () => {
      const name = world.name();
      hook.failWith = 503;
      try {
        expect((await world.api.post('/api/v1/certificates', { name, domains: [world.domain('broken')], challenge: 'dns-01', dnsProvider: provider })).status).toBe(201);
        const issued = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
        expect(issued.status).toBe(502);
        expect(issued.body.detail).toMatch(/503/);
        const cert = await world.api.get(`/api/v1/certificates/${name}`);
        expect(cert.body.lastError.detail).toMatch(/503/);
        const orders = await world.api.get(`/api/v1/certificates/${name}/orders`);
        expect(orders.body.items[0].state).toBe('failed');
      } finally {
        hook.failWith = undefined;
      }
    });

    it('validates providers and refuses to delete one in use', async () => {
      const bad = await world.api.post('/api/v1/dns-providers', { name: 'bad', type: 'webhook', url: 'ftp://x', secret: hook.secret });
      expect(bad.status).toBe(400);
      expect(bad.body.field).toBe('url');
      expect((await world.api.post('/api/v1/dns-providers', { name: 'bad', type: 'carrier-pigeon' })).body.field).toBe('type');
      expect((await world.api.post('/api/v1/dns-providers', { name: 'bad', type: 'webhook', url: hook.url, secret: hook.secret, colour: 'red' })).body.field).toBe('colour');
      expect((await world.api.get('/api/v1/dns-providers/bad')).status).toBe(404);
      expect((await world.api.post('/api/v1/dns-providers', { name: provider, type: 'webhook', url: hook.url, secret: hook.secret })).status).toBe(409);
      expect((await world.api.post('/api/v1/certificates', { name: world.name(), domains: [world.domain()], challenge: 'dns-01', dnsProvider: 'nope' })).body.field).toBe('dnsProvider');
      expect((await world.api.delete(`/api/v1/dns-providers/${provider}`)).status).toBe(409);
      if (kind === 'worker') {
        const script = await world.api.post('/api/v1/dns-providers', { name: 'sh', type: 'script', set: { command: '/bin/true', args: [] }, clear: { command: '/bin/true', args: [] } });
        expect(script.status).toBe(400);
        expect(script.body.detail).toMatch(/node host/);
      }
    });
  });
}
