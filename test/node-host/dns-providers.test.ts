// dns-01 providers that only the node host has: a script (run directly, never through a shell)
// and RFC 2136 dynamic updates to a real authoritative server (Knot) that Pebble asks.
import { fileURLToPath } from 'node:url';
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePebble } from '../harness/pebble.ts';
import { describeKnot, startKnot, type Knot } from '../harness/knot.ts';
import { openssl, startWorld, type World } from '../harness/world.ts';

const SCRIPT = fileURLToPath(new URL('../fixtures/dns/challtestsrv-txt.mjs', import.meta.url));

describePebble('dns-01 through a script on the node host', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld('node');
  });
  afterAll(async () => world?.stop());

  it('runs the set and clear commands with Certera placeholders and keeps their output in the order log', async () => {
    const provider = await world.api.post('/api/v1/dns-providers', {
      name: 'script',
      type: 'script',
      set: { command: SCRIPT, args: ['set', '{{FullRecord}}', '{{Value}}'] },
      clear: { command: SCRIPT, args: ['clear', '{{FullRecord}}', '{{Value}}'] },
      env: { CHALLTESTSRV: world.pebble.challtestsrvUrl },
    });
    expect(provider.status).toBe(201);
    expect(provider.body.config.env).toEqual(['CHALLTESTSRV']); // names only, never values

    const base = world.domain('script');
    const name = world.name();
    expect((await world.api.post('/api/v1/certificates', { name, domains: [base, `*.${base}`], challenge: 'dns-01', dnsProvider: 'script' })).status).toBe(201);
    const issued = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
    expect(issued.status, issued.text).toBe(200);
    const [order] = (await world.api.get(`/api/v1/certificates/${name}/orders`)).body.items;
    const log = order.log.map((l: { message: string }) => l.message).join('\n');
    expect(log).toContain(`set _acme-challenge.${base}: challtestsrv answered 200`);
    expect(log).toContain(`clear _acme-challenge.${base}: challtestsrv answered 200`);
  });
});

describePebble('dns-01 through RFC 2136 on the node host', () => {
  describeKnot('against Knot, which Pebble asks', () => {
    let knot: Knot;
    let world: World;
    beforeAll(async () => {
      knot = await startKnot({ zone: 'example.test' });
      world = await startWorld('node', { pebble: { dnsServer: knot.address }, host: { env: { CERTKEEP_DNS_SERVERS: knot.address } } });
    });
    afterAll(async () => {
      await world?.stop();
      await knot?.stop();
    });

    it('obtains a wildcard certificate with TSIG-signed updates and deletes both values afterwards', async () => {
      const res = await world.api.post('/api/v1/dns-providers', {
        name: 'knot',
        type: 'rfc2136',
        server: knot.address,
        zone: knot.zone,
        tsig: { name: knot.tsig.name, algorithm: knot.tsig.algorithm, secret: knot.tsig.secret },
      });
      expect(res.status, res.text).toBe(201);
      expect(JSON.stringify(res.body)).not.toContain(knot.tsig.secret);

      const base = `w${Date.now().toString(36)}.${knot.zone}`;
      const name = world.name();
      const created = await world.api.post('/api/v1/certificates', { name, domains: [`*.${base}`, base], challenge: 'dns-01', dnsProvider: 'knot' });
      expect(created.status).toBe(201);
      const issued = await world.api.post(`/api/v1/certificates/${name}/issue?wait=true`);
      expect(issued.status, issued.text).toBe(200);
      const pem = await (await fetch(`${world.host.baseUrl}/api/certificate/${name}?chain=false`, { headers: { apikey: created.body.apiKeys[0] } })).text();
      expect(openssl(['x509', '-noout', '-ext', 'subjectAltName'], pem)).toContain(`DNS:*.${base}`);

      const resolver = new Resolver();
      resolver.setServers([knot.address]);
      const txt = await resolver.resolveTxt(`_acme-challenge.${base}`).catch((err) => (err.code === 'ENODATA' || err.code === 'ENOTFOUND' ? [] : Promise.reject(err)));
      expect(txt).toEqual([]);
    });
  });
});
