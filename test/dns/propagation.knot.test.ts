// waitForTxt against a real authoritative server: it finds example.test's NS names through the
// configured resolver (Knot itself here), asks each NS address directly on Knot's port, and waits
// for the update. A second NS name has only the address ::1, where Knot does not listen: a
// secondary that never gets the record (all traffic stays on loopback).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NodeDnsResolver, rfc2136Update } from '../../node-host/dns.ts';
import { waitForTxt } from '../../src/dns/index.ts';
import { describeKnot, startKnot, type Knot } from '../harness/knot.ts';

function freshName(zone: string): string {
  return `_acme-challenge.p${crypto.getRandomValues(new Uint32Array(1))[0]}.${zone}`;
}

describeKnot('waitForTxt against Knot DNS', () => {
  let knot: Knot;
  let lame: Knot;

  beforeAll(async () => {
    [knot, lame] = await Promise.all([
      startKnot({ zone: 'example.test' }),
      startKnot({ zone: 'lame.test', nameServers: ['ns2'], records: ['ns2 AAAA ::1'] }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([knot?.stop(), lame?.stop()]);
  });

  const resolverFor = (server: Knot) => new NodeDnsResolver({ servers: [server.address], timeoutMs: 300, tries: 1 });

  it('returns once the authoritative server serves the value, added while it waits', async () => {
    const fqdn = freshName(knot.zone);
    const add = setTimeout(() => {
      void rfc2136Update({ server: knot.address, zone: knot.zone, tsig: knot.tsig, add: { name: fqdn, value: 'late-value', ttl: 60 } });
    }, 400);
    const started = Date.now();
    try {
      await waitForTxt({ fqdn, value: 'late-value', resolver: resolverFor(knot), port: knot.port, intervalMs: 100, timeoutMs: 10_000 });
    } finally {
      clearTimeout(add);
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
  });

  it('times out naming the server that lacks the value and what it answered', async () => {
    const fqdn = freshName(knot.zone);
    await rfc2136Update({ server: knot.address, zone: knot.zone, tsig: knot.tsig, add: { name: fqdn, value: 'another-value', ttl: 60 } });
    const err = await waitForTxt({ fqdn, value: 'expected-value', resolver: resolverFor(knot), port: knot.port, intervalMs: 100, timeoutMs: 500 }).catch(
      (e) => e,
    );
    expect(err).toMatchObject({
      code: 'DNS_NOT_PROPAGATED',
      details: { zone: 'example.test', missing: [{ server: 'ns1.example.test', reason: `127.0.0.1:${knot.port} answered NOERROR with only "another-value"` }] },
    });
  });

  it('waits for every NS: one that never answers is listed, the one that serves the value is not', async () => {
    const fqdn = freshName(lame.zone);
    await rfc2136Update({ server: lame.address, zone: lame.zone, tsig: lame.tsig, add: { name: fqdn, value: 'v', ttl: 60 } });
    const err = await waitForTxt({ fqdn, value: 'v', resolver: resolverFor(lame), port: lame.port, intervalMs: 100, timeoutMs: 800 }).catch((e) => e);
    expect(err.code).toBe('DNS_NOT_PROPAGATED');
    expect(err.details.missing).toEqual([{ server: 'ns2.lame.test', reason: expect.stringContaining(`[::1]:${lame.port}`) }]);
    expect(err.message).toMatch(/missing at: ns2\.lame\.test/);
  });
});
