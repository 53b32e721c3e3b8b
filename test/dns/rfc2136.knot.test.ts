// rfc2136Update against Knot DNS: what it changes is read back with Node's own c-ares resolver,
// and every way a real server says no maps to a stable error code.
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NodeDnsResolver, rfc2136Update } from '../../node-host/dns.ts';
import { freePort } from '../harness/ports.ts';
import { describeKnot, startKnot, type Knot } from '../harness/knot.ts';

/** TXT values at `name` as c-ares sees them (each record's strings joined), sorted; [] when none. */
async function txt(knot: Knot, name: string): Promise<string[]> {
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([knot.address]);
  try {
    return (await resolver.resolveTxt(name)).map((strings) => strings.join('')).sort();
  } catch (err) {
    if ((err as { code?: string }).code === 'ENODATA' || (err as { code?: string }).code === 'ENOTFOUND') return [];
    throw err;
  }
}

function freshName(knot: Knot): string {
  return `_acme-challenge.t${crypto.getRandomValues(new Uint32Array(1))[0]}.${knot.zone}`;
}

describeKnot('rfc2136Update against Knot DNS', () => {
  let knot: Knot;

  beforeAll(async () => {
    knot = await startKnot({ zone: 'example.test' });
  });

  afterAll(async () => {
    await knot?.stop();
  });

  it('adds two values at one name, deletes one by value, then deletes the rest; the zone is found by SOA', async () => {
    const name = freshName(knot);
    const { zone } = await rfc2136Update({ server: knot.address, tsig: knot.tsig, add: { name, value: 'value-one', ttl: 60 } });
    expect(zone).toBe('example.test');
    await rfc2136Update({ server: knot.address, zone, tsig: knot.tsig, add: { name, value: 'value-two', ttl: 60 } });
    expect(await txt(knot, name)).toEqual(['value-one', 'value-two']);

    await rfc2136Update({ server: knot.address, zone, tsig: knot.tsig, delete: { name, value: 'value-one' } });
    expect(await txt(knot, name)).toEqual(['value-two']);

    await rfc2136Update({ server: knot.address, zone, tsig: knot.tsig, add: { name, value: 'value-three', ttl: 60 } });
    await rfc2136Update({ server: knot.address, zone, tsig: knot.tsig, delete: { name } });
    expect(await txt(knot, name)).toEqual([]);
  });

  it('replaces a value in one message (delete + add), over UDP too, and keeps a long value whole', async () => {
    const name = freshName(knot);
    const long = 'x'.repeat(400); // two character-strings on the wire
    await rfc2136Update({ server: knot.address, tsig: knot.tsig, transport: 'udp', add: { name, value: 'old', ttl: 60 } });
    await rfc2136Update({ server: knot.address, tsig: knot.tsig, transport: 'udp', delete: { name, value: 'old' }, add: { name, value: long, ttl: 60 } });
    expect(await txt(knot, name)).toEqual([long]);
  });

  it.each(['hmac-sha1', 'hmac-sha384', 'hmac-sha512'] as const)('signs and verifies with %s', async (algorithm) => {
    const other = await startKnot({ zone: 'algo.test', algorithm });
    try {
      const name = freshName(other);
      await rfc2136Update({ server: other.address, tsig: other.tsig, add: { name, value: algorithm, ttl: 60 } });
      expect(await txt(other, name)).toEqual([algorithm]);
    } finally {
      await other.stop();
    }
  });

  it('reports a wrong secret as BADSIG and an unknown key or algorithm as BADKEY, and changes nothing', async () => {
    const name = freshName(knot);
    const add = { name, value: 'must-not-appear', ttl: 60 };
    const zone = knot.zone;
    const wrongSecret = { ...knot.tsig, secret: Buffer.alloc(32, 7).toString('base64') };
    await expect(rfc2136Update({ server: knot.address, zone, tsig: wrongSecret, add })).rejects.toMatchObject({
      code: 'DNS_TSIG_FAILED',
      details: { tsigError: 'BADSIG', rcode: 'NOTAUTH' },
    });
    await expect(rfc2136Update({ server: knot.address, zone, tsig: { ...knot.tsig, name: 'stranger.' }, add })).rejects.toMatchObject({
      code: 'DNS_TSIG_FAILED',
      details: { tsigError: 'BADKEY' },
    });
    await expect(rfc2136Update({ server: knot.address, zone, tsig: { ...knot.tsig, algorithm: 'hmac-sha512' }, add })).rejects.toMatchObject({
      code: 'DNS_TSIG_FAILED',
      details: { tsigError: 'BADKEY' },
    });
    expect(await txt(knot, name)).toEqual([]);
  });

  it('reports NOTAUTH for a zone the server does not have; a name outside the zone is denied by the ACL', async () => {
    const notServed = await rfc2136Update({
      server: knot.address,
      zone: 'elsewhere.test',
      tsig: knot.tsig,
      add: { name: '_acme-challenge.elsewhere.test', value: 'v', ttl: 60 },
    }).catch((e) => e);
    expect(notServed).toMatchObject({ code: 'DNS_UPDATE_FAILED', details: { rcode: 'NOTAUTH', zone: 'elsewhere.test' } });
    expect(notServed.message).toMatch(/not authoritative/);

    await expect(
      rfc2136Update({ server: knot.address, zone: knot.zone, tsig: knot.tsig, add: { name: '_acme-challenge.elsewhere.test', value: 'v', ttl: 60 } }),
    // Knot checks its ACL (owner below the zone) before the zone (RFC 2136 §3.4.1.3 NOTZONE), and
    // answers a denial as an unknown key would: NOTAUTH with TSIG error BADKEY.
    ).rejects.toMatchObject({ code: 'DNS_TSIG_FAILED', details: { rcode: 'NOTAUTH', tsigError: 'BADKEY' } });
  });

  it('fails to find a zone nobody serves, and fails fast when nothing listens', async () => {
    const resolver = new NodeDnsResolver({ servers: [knot.address], timeoutMs: 500 });
    await expect(
      rfc2136Update({ server: knot.address, tsig: knot.tsig, resolver, add: { name: '_acme-challenge.nowhere.test', value: 'v', ttl: 60 } }),
    ).rejects.toMatchObject({ code: 'DNS_LOOKUP_FAILED', details: { rcode: 'REFUSED' } });

    const closed = `127.0.0.1:${await freePort({ udp: true })}`;
    const add = { name: freshName(knot), value: 'v', ttl: 60 };
    await expect(rfc2136Update({ server: closed, zone: knot.zone, tsig: knot.tsig, add })).rejects.toMatchObject({ code: 'DNS_NETWORK' });
    await expect(
      rfc2136Update({ server: closed, zone: knot.zone, tsig: knot.tsig, add, transport: 'udp', timeoutMs: 300 }),
    ).rejects.toMatchObject({ code: 'DNS_TIMEOUT' });
  });

  it('needs something to do', async () => {
    await expect(rfc2136Update({ server: knot.address, tsig: knot.tsig })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});
