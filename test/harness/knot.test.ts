// The Knot DNS harness on its own, checked with tools that are not the code under test: Node's
// c-ares resolver for questions and `knotc` (Knot's own control tool) for the zone's contents.
import { execFile } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { createSocket } from 'node:dgram';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rfc2136Update } from '../../node-host/dns.ts';
import { describeKnot, startKnot, type Knot } from './knot.ts';
import { isAlive } from './processes.ts';

const run = promisify(execFile);

function resolverFor(knot: Knot): Resolver {
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([knot.address]);
  return resolver;
}

describeKnot('Knot DNS harness', () => {
  let knot: Knot;

  beforeAll(async () => {
    knot = await startKnot({ zone: 'harness.test', records: ['ns2 A 127.0.0.2'], nameServers: ['ns2'] });
  });

  afterAll(async () => {
    await knot?.stop();
  });

  it('serves the zone on a loopback port: SOA, NS, and 127.0.0.1 for any name (Pebble\'s http-01 needs that)', async () => {
    expect(knot.address).toBe(`127.0.0.1:${knot.port}`);
    const dns = resolverFor(knot);
    expect(await dns.resolveSoa('harness.test')).toMatchObject({ nsname: 'ns1.harness.test', hostmaster: 'hostmaster.harness.test' });
    expect((await dns.resolveNs('harness.test')).sort()).toEqual(['ns1.harness.test', 'ns2.harness.test']);
    expect(await dns.resolve4('anything.at.all.harness.test')).toEqual(['127.0.0.1']);
    expect(await dns.resolve4('ns2.harness.test')).toEqual(['127.0.0.2']);
    // No AAAA anywhere: Pebble asks AAAA first and must fall back to 127.0.0.1.
    await expect(dns.resolve6('x.harness.test')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('takes TXT updates signed with its key, and they show in the zone (knotc) and in answers', async () => {
    const name = `_acme-challenge.h${Date.now()}.harness.test`;
    await rfc2136Update({ server: knot.address, zone: 'harness.test', tsig: knot.tsig, add: { name, value: 'harness-value', ttl: 30 } });
    expect(await resolverFor(knot).resolveTxt(name)).toEqual([['harness-value']]);
    const { stdout } = await run('/usr/sbin/knotc', ['-s', knot.controlSocket, 'zone-read', 'harness.test', `${name}.`, 'TXT']);
    expect(stdout).toMatch(/TXT "harness-value"/);
  });

  it('refuses a TXT update at the apex (the key may only change names below it)', async () => {
    // Knot 3.2 answers an update its ACL denies as if it did not know the key: NOTAUTH, TSIG error BADKEY.
    await expect(
      rfc2136Update({ server: knot.address, zone: 'harness.test', tsig: knot.tsig, add: { name: 'harness.test', value: 'nope', ttl: 30 } }),
    ).rejects.toMatchObject({ code: 'DNS_TSIG_FAILED', details: { rcode: 'NOTAUTH', tsigError: 'BADKEY' } });
    expect(await resolverFor(knot).resolveTxt('harness.test').catch((e) => e.code)).toBe('ENODATA');
  });

  it('gives each instance its own port, key and directory, and stop() ends the process and frees the port', async () => {
    const other = await startKnot({ zone: 'other.test' });
    try {
      expect(other.port).not.toBe(knot.port);
      expect(other.tsig.secret).not.toBe(knot.tsig.secret);
      expect(other.tsig).toMatchObject({ name: 'certkeep-test.', algorithm: 'hmac-sha256' });
      expect(Buffer.from(other.tsig.secret, 'base64')).toHaveLength(32);
      expect(isAlive(other.pid)).toBe(true);
    } finally {
      await other.stop();
    }
    expect(isAlive(other.pid)).toBe(false);
    // The UDP port can be bound again, exclusively.
    const socket = createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address: '127.0.0.1', port: other.port, exclusive: true }, resolve);
    });
    socket.close();
  });
});
