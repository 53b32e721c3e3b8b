// NodeDnsResolver (UDP, TCP on truncation, a list of servers) against Knot DNS.
import dns from 'node:dns';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeDnsResolver, exchangeTcp, exchangeUdp, rfc2136Update, systemDnsServers } from '../../node-host/dns.ts';
import { decodeMessage, encodeQuery } from '../../src/dns/index.ts';
import { freePort } from '../harness/ports.ts';
import { describeKnot, startKnot, type Knot } from '../harness/knot.ts';

describeKnot('NodeDnsResolver against Knot DNS', () => {
  let knot: Knot;
  const bigName = '_acme-challenge.big.example.test';
  const bigValues = Array.from({ length: 40 }, (_, i) => `value-${String(i).padStart(2, '0')}-${'v'.repeat(50)}`);

  beforeAll(async () => {
    knot = await startKnot({ zone: 'example.test', records: ['v6 AAAA 2001:db8::53'] });
    for (const value of bigValues) {
      await rfc2136Update({ server: knot.address, zone: knot.zone, tsig: knot.tsig, add: { name: bigName, value, ttl: 60 } });
    }
  });

  afterAll(async () => {
    await knot?.stop();
  });

  it('asks SOA, NS, A and AAAA of the configured server', async () => {
    const resolver = new NodeDnsResolver({ servers: [knot.address] });
    const soa = await resolver.query('example.test', 'SOA');
    expect(soa).toMatchObject({ rcode: 'NOERROR', flags: { qr: true, aa: true } });
    expect(soa.answers[0]).toMatchObject({ type: 'SOA', soa: { mname: 'ns1.example.test' } });
    expect((await resolver.query('example.test', 'NS')).answers).toEqual([expect.objectContaining({ type: 'NS', target: 'ns1.example.test' })]);
    expect((await resolver.query('Whatever.Example.Test', 'A')).answers).toEqual([
      expect.objectContaining({ type: 'A', address: '127.0.0.1', name: 'Whatever.Example.Test' }),
    ]);
    expect((await resolver.query('v6.example.test', 'AAAA')).answers).toEqual([expect.objectContaining({ address: '2001:db8::53' })]);
  });

  it('retries over TCP when the UDP answer is truncated, and gets every record', async () => {
    // The same question straight over UDP comes back truncated (40 × ~60 octets > 1232)…
    const udp = decodeMessage(await exchangeUdp(knot.address, encodeQuery({ id: 1, name: bigName, type: 'TXT' })));
    expect(udp.flags.tc).toBe(true);
    expect(udp.answers.length).toBeLessThan(40);
    // …and the resolver still returns all of them.
    const res = await new NodeDnsResolver({ servers: [knot.address] }).query(bigName, 'TXT');
    expect(res.flags.tc).toBe(false);
    expect(res.answers.map((rr) => rr.type === 'TXT' && rr.value).sort()).toEqual(bigValues);
    // And TCP alone works too.
    const tcp = decodeMessage(await exchangeTcp(knot.address, encodeQuery({ id: 2, name: 'example.test', type: 'SOA' })));
    expect(tcp).toMatchObject({ id: 2, rcode: 'NOERROR' });
  });

  it('moves on to the next server when one does not answer or refuses', async () => {
    const silent = `127.0.0.1:${await freePort({ udp: true })}`;
    const resolver = new NodeDnsResolver({ servers: [silent, knot.address], timeoutMs: 200, tries: 1 });
    expect((await resolver.query('example.test', 'SOA')).rcode).toBe('NOERROR');

    // Knot refuses a zone it does not serve; with nobody else to ask, that answer is returned as is.
    const refused = await new NodeDnsResolver({ servers: [knot.address] }).query('other.invalid', 'SOA');
    expect(refused.rcode).toBe('REFUSED');
  });

  it('asks a given server rather than its own list, and times out with DNS_TIMEOUT', async () => {
    const silent = `127.0.0.1:${await freePort({ udp: true })}`;
    const resolver = new NodeDnsResolver({ servers: [silent], timeoutMs: 200, tries: 2 });
    expect((await resolver.query('example.test', 'SOA', knot.address)).rcode).toBe('NOERROR');
    const started = Date.now();
    await expect(resolver.query('example.test', 'SOA')).rejects.toMatchObject({ code: 'DNS_TIMEOUT', details: { server: silent } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(390); // two tries of 200 ms
    await expect(resolver.query('bad..name', 'SOA', knot.address)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('systemDnsServers', () => {
  it('reads the system resolvers as host:port, IPv6 in brackets', () => {
    const saved = dns.getServers();
    try {
      dns.setServers(['192.0.2.1', '192.0.2.2:5353', '2001:db8::1', '[2001:db8::2]:5353']);
      expect(systemDnsServers()).toEqual(['192.0.2.1:53', '192.0.2.2:5353', '[2001:db8::1]:53', '[2001:db8::2]:5353']);
    } finally {
      dns.setServers(saved);
    }
  });
});
