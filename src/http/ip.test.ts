import { isIP, BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CertkeepError } from '../errors.ts';
import { isLoopback, normalizeIp, parseIpList } from './ip.ts';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof CertkeepError ? err.code : `not a CertkeepError: ${String(err)}`;
  }
  return undefined;
}

describe('normalizeIp', () => {
  it.each([
    ['10.0.0.1', '10.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['::', '::'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    // RFC 5952 §4.2.2: a single zero group is not compressed
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // RFC 5952 §4.2.3: the longest run wins, the first on a tie
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1::', '1::'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    // IPv4-mapped addresses come out as IPv4, in either input notation
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['::FFFF:a00:1', '10.0.0.1'],
    ['0:0:0:0:0:ffff:127.0.0.1', '127.0.0.1'],
    // an embedded dotted quad that is not IPv4-mapped stays IPv6
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    // zone ids only name an interface
    ['fe80::1%eth0', 'fe80::1'],
    ['fe80::1%25', 'fe80::1'],
  ])('%s → %s', (input, expected) => {
    expect(normalizeIp(input)).toBe(expected);
  });

  it.each([
    '',
    ' ',
    'localhost',
    '1.2.3',
    '1.2.3.4.5',
    '1.2.3.256',
    '01.2.3.4', // leading zero: octal in some parsers
    '1.2.3.-4',
    '1..2.3',
    '1.2.3.4.',
    '.1.2.3.4',
    ' 1.2.3.4',
    '1.2.3.4/32', // a CIDR is not an address
    '0x7f.0.0.1',
    ':',
    ':::',
    '1:::2',
    '1::2::3',
    ':1::2',
    '1::2:',
    '1:2:3:4:5:6:7:8:9',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8::',
    '12345::1',
    'g::1',
    '::1.2.3',
    '::1.2.3.4:5',
    '1:2:3:4:5:6:7:1.2.3.4', // dotted quad takes two groups: nine in all
    'fe80::1%',
    'fe80::1%a b',
    '10.0.0.1%eth0',
    '[::1]',
  ])('rejects %j', (input) => {
    expect(normalizeIp(input)).toBeUndefined();
  });

  it('agrees with node:net and WHATWG URL on random addresses', () => {
    // Random groups, random zero runs, random compression: validity must match node:net.isIP
    // and the canonical text must match the URL serializer (which also follows RFC 5952).
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 2000; round++) {
      const groups = Array.from({ length: 8 }, () => (rand(3) === 0 ? 0 : rand(0x10000)));
      let text = groups.map((g) => g.toString(16).padStart(rand(4) === 0 ? 4 : 1, '0')).join(':');
      if (rand(2) === 0) {
        const start = rand(8);
        const length = 1 + rand(8 - start);
        const parts = text.split(':');
        text = `${parts.slice(0, start).join(':')}::${parts.slice(start + length).join(':')}`;
      }
      if (rand(2) === 0) text = text.toUpperCase();
      const ours = normalizeIp(text);
      expect(ours !== undefined, text).toBe(isIP(text) === 6);
      if (ours !== undefined && !ours.includes('.')) {
        expect(ours, text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
      }
    }
  });
});

describe('parseIpList', () => {
  it('defaults to loopback only', () => {
    for (const text of [undefined, '', ' , ;  ']) {
      const list = parseIpList(text);
      expect(list.allows('127.0.0.1')).toBe(true);
      expect(list.allows('127.255.0.9')).toBe(true);
      expect(list.allows('::1')).toBe(true);
      expect(list.allows('::ffff:127.0.0.1')).toBe(true);
      expect(list.allows('10.0.0.1')).toBe(false);
      expect(list.allows('::2')).toBe(false);
      expect(list.allows('128.0.0.1')).toBe(false);
      expect(list.isEmpty).toBe(false);
      expect(list.describe()).toBe('loopback only (127.0.0.0/8, ::1)');
    }
  });

  it('is empty when told there is no default (trusted proxies)', () => {
    const list = parseIpList(undefined, { defaultLoopback: false });
    expect(list.isEmpty).toBe(true);
    expect(list.allows('127.0.0.1')).toBe(false);
    expect(list.allows('::1')).toBe(false);
    expect(list.describe()).toBe('none');
  });

  it('takes comma-, semicolon- and space-separated entries', () => {
    const list = parseIpList(' 10.0.0.0/8 ;192.168.1.7, 2001:db8::/32  fd00::1 ');
    expect(list.allows('10.200.3.4')).toBe(true);
    expect(list.allows('192.168.1.7')).toBe(true);
    expect(list.allows('192.168.1.8')).toBe(false);
    expect(list.allows('2001:db8:ffff::1')).toBe(true);
    expect(list.allows('2001:db9::1')).toBe(false);
    expect(list.allows('fd00::1')).toBe(true);
    expect(list.allows('fd00::2')).toBe(false);
    expect(list.allows('127.0.0.1')).toBe(false); // naming entries replaces the default
    expect(list.describe()).toBe('10.0.0.0/8, 192.168.1.7, 2001:db8::/32, fd00::1');
  });

  it('keeps loopback with the "loopback" keyword', () => {
    const list = parseIpList('loopback,10.0.0.0/8');
    expect(list.allows('127.0.0.1')).toBe(true);
    expect(list.allows('::1')).toBe(true);
    expect(list.allows('10.1.1.1')).toBe(true);
    expect(list.allows('11.1.1.1')).toBe(false);
  });

  it('* allows every address but no garbage', () => {
    const list = parseIpList('10.0.0.1, *');
    expect(list.isAny).toBe(true);
    expect(list.allows('8.8.8.8')).toBe(true);
    expect(list.allows('2001:db8::1')).toBe(true);
    expect(list.allows('not an ip')).toBe(false);
    expect(list.allows('')).toBe(false);
    expect(list.describe()).toBe('any (*)');
  });

  it('matches IPv4 networks against IPv4-mapped IPv6 peers, and back', () => {
    const v4 = parseIpList('10.0.0.0/8');
    expect(v4.allows('::ffff:10.0.0.1')).toBe(true);
    expect(v4.allows('::ffff:a00:1')).toBe(true);
    expect(v4.allows('::ffff:11.0.0.1')).toBe(false);
    expect(v4.allows('::10.0.0.1')).toBe(false); // IPv4-compatible is not IPv4-mapped
    const mapped = parseIpList('::ffff:192.168.0.0/112');
    expect(mapped.allows('192.168.44.1')).toBe(true);
    expect(mapped.allows('192.169.0.1')).toBe(false);
    expect(mapped.describe()).toBe('192.168.0.0/16');
  });

  it('handles the prefix extremes', () => {
    const all4 = parseIpList('0.0.0.0/0');
    expect(all4.allows('1.2.3.4')).toBe(true);
    expect(all4.allows('255.255.255.255')).toBe(true);
    expect(all4.allows('::1')).toBe(false); // all of IPv4 is not all of IPv6
    expect(all4.allows('2001:db8::1')).toBe(false);

    const all6 = parseIpList('::/0');
    expect(all6.allows('2001:db8::1')).toBe(true);
    expect(all6.allows('::')).toBe(true);
    expect(all6.allows('1.2.3.4')).toBe(true); // IPv4 lives inside ::ffff:0:0/96

    const host4 = parseIpList('192.0.2.7/32');
    expect(host4.allows('192.0.2.7')).toBe(true);
    expect(host4.allows('192.0.2.6')).toBe(false);
    expect(host4.allows('192.0.2.8')).toBe(false);
    expect(host4.describe()).toBe('192.0.2.7');

    const host6 = parseIpList('2001:db8::7/128');
    expect(host6.allows('2001:db8::7')).toBe(true);
    expect(host6.allows('2001:db8::6')).toBe(false);
    expect(host6.describe()).toBe('2001:db8::7');

    const odd4 = parseIpList('172.16.0.0/12');
    expect(odd4.allows('172.31.255.255')).toBe(true);
    expect(odd4.allows('172.32.0.0')).toBe(false);
    expect(odd4.allows('172.15.255.255')).toBe(false);
  });

  it('handles IPv6 prefixes that end inside a group and inside a word', () => {
    // /36 ends 4 bits into the third group (and inside the second 32-bit word)
    const list = parseIpList('2001:db8:a000::/36');
    expect(list.allows('2001:db8:afff:ffff::1')).toBe(true);
    expect(list.allows('2001:db8:a000::')).toBe(true);
    expect(list.allows('2001:db8:b000::')).toBe(false);
    expect(list.allows('2001:db8:9fff:ffff:ffff:ffff:ffff:ffff')).toBe(false);
    // /127 differs only in the very last bit
    const pair = parseIpList('2001:db8::2/127');
    expect(pair.allows('2001:db8::2')).toBe(true);
    expect(pair.allows('2001:db8::3')).toBe(true);
    expect(pair.allows('2001:db8::4')).toBe(false);
    expect(pair.allows('2001:db8::1')).toBe(false);
    // /65 reaches one bit into the third word
    const half = parseIpList('fd00:0:0:0:8000::/65');
    expect(half.allows('fd00::8000:0:0:1')).toBe(true);
    expect(half.allows('fd00::7fff:0:0:1')).toBe(false);
  });

  it('clears host bits of a CIDR', () => {
    const list = parseIpList('10.1.2.3/8, 2001:db8::1/32');
    expect(list.allows('10.9.9.9')).toBe(true);
    expect(list.allows('2001:db8:1::')).toBe(true);
    expect(list.describe()).toBe('10.0.0.0/8, 2001:db8::/32');
  });

  it('ignores zone ids of peers and entries', () => {
    expect(parseIpList('fe80::/10').allows('fe80::1%eth0')).toBe(true);
    expect(parseIpList('fe80::1%eth0').allows('fe80::1')).toBe(true);
  });

  it('drops duplicate entries from the description', () => {
    expect(parseIpList('10.0.0.0/8,10.0.0.0/8,::ffff:10.0.0.0/104').describe()).toBe('10.0.0.0/8');
  });

  it('never allows garbage, even in a broad list', () => {
    const list = parseIpList('0.0.0.0/0, ::/0');
    for (const garbage of ['', 'x', '1.2.3', '::g', '1.2.3.4/8', '[::1]', '1.2.3.4:80']) {
      expect(list.allows(garbage), garbage).toBe(false);
    }
  });

  it.each([
    'localhost',
    '10.0.0.0/33',
    '::/129',
    '10.0.0.0/',
    '10.0.0.0/-1',
    '10.0.0.0/08',
    '10.0.0.0/8/8',
    '10.0.0.0/x',
    '/8',
    '10.0.0',
    '256.0.0.1',
    '2001:db8:::/32',
    '**',
    '10.0.0.1-10.0.0.9',
  ])('refuses %j with BAD_REQUEST naming the entry', (entry) => {
    expect(codeOf(() => parseIpList(`127.0.0.1, ${entry}`))).toBe('BAD_REQUEST');
    expect(() => parseIpList(`127.0.0.1, ${entry}`)).toThrow(`"${entry}"`);
  });

  it('agrees with node:net BlockList on random addresses', () => {
    const cases: Array<[string, number, 'ipv4' | 'ipv6']> = [
      ['10.0.0.0', 8, 'ipv4'],
      ['192.168.128.0', 17, 'ipv4'],
      ['203.0.113.77', 30, 'ipv4'],
      ['2001:db8:1234::', 45, 'ipv6'],
      ['fc00::', 7, 'ipv6'],
      ['2001:db8::ff00:0', 121, 'ipv6'],
    ];
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (const [base, prefix, family] of cases) {
      const ours = parseIpList(`${base}/${prefix}`);
      const theirs = new BlockList();
      theirs.addSubnet(base, prefix, family);
      // Random addresses near the network (flip a few random bits of the base) and far away.
      const baseBytes = family === 'ipv4' ? base.split('.').map(Number) : expandV6(base);
      for (let i = 0; i < 500; i++) {
        const bytes = [...baseBytes];
        for (let flips = rand(3); flips >= 0; flips--) {
          const bit = rand(bytes.length * 8);
          bytes[bit >> 3] ^= 0x80 >> (bit & 7);
        }
        const ip = family === 'ipv4' ? bytes.join('.') : compressV6(bytes);
        expect(ours.allows(ip), `${ip} in ${base}/${prefix}`).toBe(theirs.check(ip, family));
      }
    }
  });
});

describe('isLoopback', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['0:0:0:0:0:0:0:1', true],
    ['::ffff:127.0.0.1', true],
    ['126.255.255.255', false],
    ['128.0.0.1', false],
    ['::', false],
    ['::2', false],
    ['::127.0.0.1', false],
    ['10.0.0.1', false],
    ['localhost', false],
    ['', false],
  ])('%s → %s', (ip, expected) => {
    expect(isLoopback(ip)).toBe(expected);
  });
});

function expandV6(text: string): number[] {
  const [head, tail = ''] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 255]);
}

function compressV6(bytes: number[]): string {
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(':');
}
