// waitForTxt and the zone discovery under it, against a scripted resolver: every question it gets
// is recorded, and the clock is fake, so the rounds and the timeout are exact. (The same
// function against a real authoritative server: test/dns/propagation.knot.test.ts.)
import { describe, expect, it } from 'vitest';
import { CertkeepError } from '../errors.ts';
import { CLASS_IN, type DnsRecord, type DnsResponse, type RecordType } from './message.ts';
import { waitForTxt } from './propagation.ts';
import type { DnsResolver } from './resolver.ts';
import { findZone, nameServers } from './zone.ts';

type Answer = Partial<Pick<DnsResponse, 'rcode' | 'answers' | 'authority' | 'additional'>>;
type Handler = (name: string, type: RecordType, server: string | undefined) => Answer | Error;

/** A resolver that answers from `handler` and records every question as `name TYPE @server`. */
function scripted(handler: Handler, opts: { canTargetServers?: boolean } = {}): DnsResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    canTargetServers: opts.canTargetServers,
    async query(name, type, server) {
      asked.push(`${name} ${type}${server ? ` @${server}` : ''}`);
      const answer = handler(name, type, server);
      if (answer instanceof Error) throw answer;
      return {
        id: 0,
        opcode: 0,
        flags: { qr: true, aa: server !== undefined, tc: false, rd: true, ra: true, ad: false, cd: false },
        rcode: 'NOERROR',
        questions: [{ name, type, class: CLASS_IN }],
        answers: [],
        authority: [],
        additional: [],
        ...answer,
      };
    },
  };
}

const rr = {
  soa: (name: string): DnsRecord => ({
    name,
    class: CLASS_IN,
    ttl: 60,
    type: 'SOA',
    soa: { mname: `ns1.${name}`, rname: `hostmaster.${name}`, serial: 1, refresh: 1, retry: 1, expire: 1, minimum: 1 },
  }),
  ns: (name: string, target: string): DnsRecord => ({ name, class: CLASS_IN, ttl: 60, type: 'NS', target }),
  a: (name: string, address: string): DnsRecord => ({ name, class: CLASS_IN, ttl: 60, type: 'A', address }),
  aaaa: (name: string, address: string): DnsRecord => ({ name, class: CLASS_IN, ttl: 60, type: 'AAAA', address }),
  cname: (name: string, target: string): DnsRecord => ({ name, class: CLASS_IN, ttl: 60, type: 'CNAME', target }),
  txt: (name: string, value: string): DnsRecord => ({ name, class: CLASS_IN, ttl: 60, type: 'TXT', value, strings: [value] }),
};

/** A fake clock that sleep() advances. */
function fakeTime() {
  let t = 1_000_000;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
  };
}

const FQDN = '_acme-challenge.www.example.test';

/** example.test with ns1 (glue 192.0.2.1) and ns2 (glue 192.0.2.2); `txtAt` says what each server serves. */
function exampleZone(txtAt: (server: string) => string[]): Handler {
  return (name, type, server) => {
    if (server !== undefined) return { answers: txtAt(server).map((v) => rr.txt(name, v)), authority: [rr.soa('example.test')] };
    if (type === 'SOA') return { authority: [rr.soa('example.test')] };
    if (type === 'NS' && name === 'example.test') {
      return {
        answers: [rr.ns('example.test', 'ns1.example.test'), rr.ns('example.test', 'ns2.example.test')],
        additional: [rr.a('ns1.example.test', '192.0.2.1'), rr.a('ns2.example.test', '192.0.2.2')],
      };
    }
    return new Error(`unexpected question ${name} ${type}`);
  };
}

describe('waitForTxt (servers asked directly)', () => {
  it('finds the zone\'s servers, asks each directly, and returns once every one serves the value', async () => {
    const time = fakeTime();
    let round = 0;
    const resolver = scripted(
      exampleZone((server) => {
        // ns1 has it from the start; ns2 only from the third time it is asked.
        if (server === '192.0.2.1:53') return ['other', 'the-value'];
        return ++round >= 3 ? ['the-value'] : [];
      }),
    );
    await waitForTxt({ fqdn: FQDN, value: 'the-value', resolver, intervalMs: 1000, timeoutMs: 60_000, ...time });
    expect(time.sleeps).toEqual([1000, 1000]);
    expect(resolver.asked).toEqual([
      `${FQDN} SOA`,
      'example.test NS',
      `${FQDN} TXT @192.0.2.1:53`,
      `${FQDN} TXT @192.0.2.2:53`,
      // ns1 already served it: only ns2 is asked again
      `${FQDN} TXT @192.0.2.2:53`,
      `${FQDN} TXT @192.0.2.2:53`,
    ]);
  });

  it('after the timeout, names each server that lacks the value and what it answered', async () => {
    const time = fakeTime();
    const resolver = scripted(exampleZone((server) => (server === '192.0.2.1:53' ? ['the-value'] : ['stale'])));
    const err = await waitForTxt({ fqdn: FQDN, value: 'the-value', resolver, intervalMs: 2000, timeoutMs: 5000, ...time }).catch((e) => e);
    expect(err).toBeInstanceOf(CertkeepError);
    expect(err.code).toBe('DNS_NOT_PROPAGATED');
    expect(err.details).toMatchObject({
      fqdn: FQDN,
      zone: 'example.test',
      missing: [{ server: 'ns2.example.test', reason: '192.0.2.2:53 answered NOERROR with only "stale"' }],
    });
    expect(err.message).toContain('ns2.example.test');
    expect(err.message).not.toContain('ns1.example.test');
    // 2 s, 2 s, then the last 1 s: it never sleeps past the deadline, and asks once more at it.
    expect(time.sleeps).toEqual([2000, 2000, 1000]);
  });

  it('uses a non-default port for every server, and tries a server\'s next address when one is unreachable', async () => {
    const time = fakeTime();
    const resolver = scripted((name, type, server) => {
      if (server === '198.51.100.7:5300') return new CertkeepError('DNS_NETWORK', 'network unreachable');
      if (server === '[2001:db8::7]:5300') return { answers: [rr.txt(name, 'v')] };
      if (type === 'SOA') return { authority: [rr.soa('example.test')] };
      // No glue: the NS name is out of zone.
      if (type === 'NS') return { answers: [rr.ns('example.test', 'ns.provider.test')] };
      if (type === 'A') return { answers: [rr.a('ns.provider.test', '198.51.100.7')] };
      if (type === 'AAAA') return { answers: [rr.aaaa('ns.provider.test', '2001:db8::7')] };
      return new Error('unexpected');
    });
    await waitForTxt({ fqdn: FQDN, value: 'v', resolver, port: 5300, ...time });
    expect(resolver.asked).toContain('ns.provider.test A');
    expect(resolver.asked).toContain('ns.provider.test AAAA');
    expect(resolver.asked.filter((q) => q.includes('@'))).toEqual([`${FQDN} TXT @198.51.100.7:5300`, `${FQDN} TXT @[2001:db8::7]:5300`]);
  });

  it('follows a CNAME to another zone and asks that zone\'s servers about the target name', async () => {
    const target = 'www.acme-delegation.test';
    const resolver = scripted((name, type, server) => {
      if (server) return { answers: server === '203.0.113.9:53' && name === target ? [rr.txt(target, 'v')] : [] };
      if (type === 'SOA' && name === FQDN) return { answers: [rr.cname(FQDN, target)], authority: [rr.soa('acme-delegation.test')] };
      if (type === 'SOA') return { authority: [rr.soa('acme-delegation.test')] };
      if (type === 'NS' && name === 'acme-delegation.test') {
        return { answers: [rr.ns(name, 'ns.acme-delegation.test')], additional: [rr.a('ns.acme-delegation.test', '203.0.113.9')] };
      }
      return new Error(`unexpected ${name} ${type}`);
    });
    await waitForTxt({ fqdn: FQDN, value: 'v', resolver, ...fakeTime() });
    expect(resolver.asked).toEqual([`${FQDN} SOA`, `${target} SOA`, 'acme-delegation.test NS', `${target} TXT @203.0.113.9:53`]);
  });

  it('retries a failed discovery, and reports DNS_LOOKUP_FAILED if it never succeeds', async () => {
    let soaAnswers = 0;
    const flaky = scripted((name, type, server) =>
      type === 'SOA' && ++soaAnswers === 1 ? { rcode: 'SERVFAIL' } : exampleZone(() => ['v'])(name, type, server),
    );
    await waitForTxt({ fqdn: FQDN, value: 'v', resolver: flaky, ...fakeTime() });
    expect(soaAnswers).toBe(2);

    const broken = scripted(() => ({ rcode: 'SERVFAIL' }));
    const err = await waitForTxt({ fqdn: FQDN, value: 'v', resolver: broken, timeoutMs: 3000, ...fakeTime() }).catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_LOOKUP_FAILED', details: { rcode: 'SERVFAIL' } });
    expect(err.message).toMatch(/cannot find the authoritative servers of .* SOA question for .* got SERVFAIL/);
  });

  it('fails at once on an error that waiting cannot fix (a bad name), without sleeping', async () => {
    const time = fakeTime();
    const resolver = scripted(exampleZone(() => []));
    await expect(waitForTxt({ fqdn: 'bad..name', value: 'v', resolver, ...time })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(time.sleeps).toEqual([]);
  });
});

describe('waitForTxt (DNS over HTTPS: the resolver cannot be pointed at servers)', () => {
  it('asks the resolver itself, CNAMEs followed, until it shows the value', async () => {
    let calls = 0;
    const resolver = scripted(
      (name) => (++calls < 3 ? { rcode: 'NXDOMAIN' } : { answers: [rr.cname(name, 'target.test'), rr.txt('target.test', 'v')] }),
      { canTargetServers: false },
    );
    const time = fakeTime();
    await waitForTxt({ fqdn: FQDN, value: 'v', resolver, intervalMs: 500, ...time });
    expect(resolver.asked).toEqual([`${FQDN} TXT`, `${FQDN} TXT`, `${FQDN} TXT`]);
    expect(time.sleeps).toEqual([500, 500]);
  });

  it('says so when it times out', async () => {
    const resolver = scripted(() => ({ rcode: 'NXDOMAIN' }), { canTargetServers: false });
    const err = await waitForTxt({ fqdn: FQDN, value: 'v', resolver, timeoutMs: 1000, ...fakeTime() }).catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_NOT_PROPAGATED', details: { missing: [{ server: 'resolver', reason: 'answered NXDOMAIN with no TXT record' }] } });
    expect(err.message).toContain('DNS-over-HTTPS');
  });
});

describe('findZone', () => {
  it('recognises the apex from an SOA answer, walks up past a server that gives no SOA, and can ask one server', async () => {
    const apex = scripted((name) => (name === 'example.test' ? { answers: [rr.soa('example.test')] } : {}));
    expect(await findZone(apex, 'example.test')).toEqual({ zone: 'example.test', name: 'example.test' });
    expect(await findZone(apex, 'a.b.example.test', { server: '192.0.2.53:53' })).toEqual({ zone: 'example.test', name: 'a.b.example.test' });
    expect(apex.asked).toEqual([
      'example.test SOA',
      'a.b.example.test SOA @192.0.2.53:53',
      'b.example.test SOA @192.0.2.53:53',
      'example.test SOA @192.0.2.53:53',
    ]);
  });

  it('does not follow a CNAME when told not to (an UPDATE names the record itself)', async () => {
    const resolver = scripted((name) =>
      name === FQDN ? { answers: [rr.cname(FQDN, 'x.elsewhere.test')], authority: [rr.soa('elsewhere.test')] } : { authority: [rr.soa('example.test')] },
    );
    expect(await findZone(resolver, FQDN, { followCnames: false })).toEqual({ zone: 'example.test', name: FQDN });
  });

  it('gives up on a CNAME loop and on a name no server knows', async () => {
    const loop = scripted((name) => ({ answers: [rr.cname(name, name === 'a.test' ? 'b.test' : 'a.test')] }));
    await expect(findZone(loop, 'a.test')).rejects.toMatchObject({ code: 'DNS_LOOKUP_FAILED' });
    const nothing = scripted(() => ({ rcode: 'NXDOMAIN' }));
    await expect(findZone(nothing, 'a.test')).rejects.toMatchObject({ code: 'DNS_LOOKUP_FAILED' });
  });

  it('nameServers: a name without any address is listed with none; a failed A question does not sink the rest', async () => {
    const resolver = scripted((name, type) => {
      if (type === 'NS') return { answers: [rr.ns('z.test', 'lame.z.test'), rr.ns('z.test', 'ok.z.test')] };
      if (name === 'ok.z.test' && type === 'A') return new CertkeepError('DNS_TIMEOUT', 'timeout');
      if (name === 'ok.z.test' && type === 'AAAA') return { answers: [rr.aaaa(name, '2001:db8::53')] };
      return {};
    });
    expect(await nameServers(resolver, 'z.test')).toEqual([
      { name: 'lame.z.test', addresses: [] },
      { name: 'ok.z.test', addresses: ['[2001:db8::53]:53'] },
    ]);
  });
});
