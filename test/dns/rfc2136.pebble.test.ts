// dns-01 end to end with real servers only: Knot DNS is the zone's authoritative server, Pebble
// resolves through it (-dnsserver), and the project's own pieces do the rest — the ACME client
// orders `x….example.test` and `*.x….example.test`, rfc2136Update puts both TXT values at the one
// name they share, waitForTxt confirms Knot serves them, Pebble validates, the certificate comes
// back, and the records are deleted by value afterwards.
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NodeDnsResolver, rfc2136Update } from '../../node-host/dns.ts';
import { AcmeClient, dns01RecordName } from '../../src/acme/index.ts';
import { createCsr, generateKeyPair, parseCertificate } from '../../src/crypto/index.ts';
import { waitForTxt } from '../../src/dns/index.ts';
import { describeKnot, startKnot, type Knot } from '../harness/knot.ts';
import { describePebble, startPebble, type Pebble } from '../harness/pebble.ts';
import { freePort } from '../harness/ports.ts';
import { loopbackOutbound } from '../harness/outbound.ts';

/** TXT values at `name` as Knot serves them, read with Node's c-ares resolver; [] when none. */
async function servedTxt(knot: Knot, name: string): Promise<string[]> {
  const resolver = new Resolver({ timeout: 1000, tries: 1 });
  resolver.setServers([knot.address]);
  try {
    return (await resolver.resolveTxt(name)).map((strings) => strings.join('')).sort();
  } catch (err) {
    if ((err as { code?: string }).code === 'ENODATA') return [];
    throw err;
  }
}

describePebble('dns-01 through RFC 2136 against Knot DNS and Pebble', () => {
  describeKnot('wildcard and apex over dns-01', () => {
    let knot: Knot;
    let pebble: Pebble;

    beforeAll(async () => {
      knot = await startKnot({ zone: 'example.test' });
      // httpPort is required but unused: every challenge here is dns-01.
      pebble = await startPebble({ httpPort: await freePort(), dnsServer: knot.address });
    });

    afterAll(async () => {
      await Promise.all([pebble?.stop(), knot?.stop()]);
    });

    it('issues a certificate for x.<zone> and *.x.<zone>, then removes both TXT records by value', async () => {
      const base = `x${crypto.getRandomValues(new Uint32Array(1))[0]}.${knot.zone}`;
      const names = [base, `*.${base}`];
      const acme = new AcmeClient({ directoryUrl: pebble.directoryUrl, accountKey: await generateKeyPair('ec-p256'), outbound: loopbackOutbound() });
      await acme.newAccount({ termsOfServiceAgreed: true, contact: ['mailto:ops@example.test'] });

      const { url, order } = await acme.newOrder({ identifiers: names.map((value) => ({ type: 'dns', value })) });
      const pending = await Promise.all(
        order.authorizations.map(async (authzUrl) => {
          const authz = await acme.getAuthorization(authzUrl);
          const challenge = authz.challenges.find((c) => c.type === 'dns-01')!;
          return { authzUrl, authz, challenge, value: await acme.dns01Value(challenge.token!) };
        }),
      );
      // One authorization per name; the wildcard's is for the base name (RFC 8555 §7.1.3), so both
      // TXT records live at the same name.
      expect(pending.map((p) => `${p.authz.identifier.value}${p.authz.wildcard ? ' (wildcard)' : ''}`).sort()).toEqual([
        base,
        `${base} (wildcard)`,
      ]);
      const fqdn = dns01RecordName(base);
      expect(new Set(pending.map((p) => dns01RecordName(p.authz.identifier.value)))).toEqual(new Set([fqdn]));
      expect(pending[0].value).not.toBe(pending[1].value);

      for (const p of pending) {
        await rfc2136Update({ server: knot.address, tsig: knot.tsig, add: { name: fqdn, value: p.value, ttl: 60 } });
      }
      const resolver = new NodeDnsResolver({ servers: [knot.address], timeoutMs: 1000 });
      await Promise.all(
        pending.map((p) => waitForTxt({ fqdn, value: p.value, resolver, port: knot.port, intervalMs: 100, timeoutMs: 10_000 })),
      );
      expect(await servedTxt(knot, fqdn)).toEqual(pending.map((p) => p.value).sort());

      try {
        for (const p of pending) await acme.respondToChallenge(p.challenge.url);
        const authorizations = await Promise.all(pending.map((p) => acme.waitForAuthorization(p.authzUrl, { timeoutMs: 20_000 })));
        expect(authorizations.map((a) => a.status)).toEqual(['valid', 'valid']);

        const ready = await acme.waitForOrder(url, ['ready'], { timeoutMs: 20_000 });
        const certKey = await generateKeyPair('ec-p256');
        await acme.finalizeOrder(ready.finalize, await createCsr({ keyPair: certKey, domains: names }));
        const valid = await acme.waitForOrder(url, ['valid'], { timeoutMs: 20_000 });
        const { pem } = await acme.downloadCertificate(valid.certificate!);
        const leaf = await parseCertificate(pem);
        expect([...leaf.sans].sort()).toEqual([...names].sort());
      } catch (err) {
        throw new Error(`${String(err)}\n${pebble.logs().slice(-3000)}`, { cause: err });
      } finally {
        for (const p of pending) {
          await rfc2136Update({ server: knot.address, tsig: knot.tsig, delete: { name: fqdn, value: p.value } });
        }
      }
      expect(await servedTxt(knot, fqdn)).toEqual([]);
      const after = await resolver.query(fqdn, 'TXT', knot.address);
      expect(after.answers.filter((rr) => rr.type === 'TXT')).toEqual([]);
    });
  });
});
