// The wire format against bytes real tools produced: queries sent by dig 9.18 and updates sent
// by nsupdate 9.18 (both captured on a UDP socket), answers sent by Knot DNS 3.2.6.
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../util/encoding.ts';
import { CLASS_ANY, CLASS_IN, CLASS_NONE, decodeMessage, encodeQuery, encodeUpdate, formatIpv6, rcodeName, txtRdata } from './message.ts';

const CHALLENGE = '_acme-challenge.x.example.test';

// `dig @… _acme-challenge.x.example.test TXT +noedns +noadflag`
const DIG_PLAIN = 'a505010000010000000000000f5f61636d652d6368616c6c656e67650178076578616d706c6504746573740000100001';
// `dig … TXT +nocookie +bufsize=1232 +noadflag +cdflag`
const DIG_EDNS_CD =
  '3786011000010000000000010f5f61636d652d6368616c6c656e67650178076578616d706c650474657374000010000100002904d0000000000000';
// `dig … example.test SOA +nocookie +bufsize=1232 +noadflag +norecurse`
const DIG_SOA_NORD = '951300000001000000000001076578616d706c650474657374000006000100002904d0000000000000';

// nsupdate: `update add _acme-challenge.x.example.test. 60 TXT "abc"` (zone example.test), TSIG hmac-sha256
const NSUPDATE_ADD =
  'b20028000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e67650178076578616d706c65047465737400001000010000003c000403616263' +
  '0d636572746b6565702d746573740000fa00ff00000000003d0b686d61632d7368613235360000006b08b140012c0020a0f2b56e169be190f07244d8e05d1340254169dd14e5391cf25d4004411d9540b20000000000';
// nsupdate: `update delete … TXT` (class ANY), `update delete … TXT "old"` (class NONE), `update add … 60 TXT "abc"`,
// with compressed owner names.
const NSUPDATE_THREE =
  '76b028000001000000030001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e67650178076578616d706c65047465737400001000ff000000000000' +
  'c01e001000fe000000000004036f6c64c01e001000010000003c000403616263' +
  '0d636572746b6565702d746573740000fa00ff00000000003d0b686d61632d7368613235360000006b08b12f012c0020cae6dfc523caeddcb984fb82a1b73db4f4db69d9ff0d5604793b13ca9f30209e76b000000000';

// Knot's answer to `_acme-challenge.x.example.test TXT` holding "first-value" and 300 × "L" (two strings: 255 + 45).
const KNOT_TXT =
  '1111850000010002000000010f5f61636d652d6368616c6c656e67650178076578616d706c6504746573740000100001' +
  'c00c001000010000003c000c0b66697273742d76616c7565' +
  `c00c001000010000003c012eff${'4c'.repeat(255)}2d${'4c'.repeat(45)}` +
  '00002904d0000000000000';
// Knot's answer to `example.test NS`: ns1 and ns2, glue for both.
const KNOT_NS =
  '222285000001000200000003076578616d706c6504746573740000020001c00c000200010000003c0006036e7331c00cc00c000200010000003c0006036e7332c00c' +
  'c02a000100010000003c00047f000001c03c000100010000003c00047f00000200002904d0000000000000';
// `v6.example.test AAAA`: 2001:db8::1 and 2001:db8:0:1::1.
const KNOT_AAAA =
  '333385000001000200000001027636076578616d706c65047465737400001c0001c00c001c00010000003c001020010db8000000000000000000000001' +
  'c00c001c00010000003c001020010db800000001000000000000000100002904d0000000000000';
// `alias.example.test TXT`, alias being a CNAME to the challenge name.
const KNOT_CNAME =
  '44448500000100030000000105616c696173076578616d706c6504746573740000100001c00c000500010000003c00140f5f61636d652d6368616c6c656e67650178c012' +
  'c030001000010000003c000c0b66697273742d76616c7565' +
  `c030001000010000003c012eff${'4c'.repeat(255)}2d${'4c'.repeat(45)}` +
  '00002904d0000000000000';
// `nothing.example.test TXT`: no TXT there (the wildcard A matches), the zone's SOA in the authority section.
const KNOT_NODATA =
  '555585000001000000010001076e6f7468696e67076578616d706c6504746573740000100001c01400060001000000010027036e7331c0140a686f73746d6173746572c014' +
  '0000000300000e1000000258000151800000000100002904d0000000000000';
// `other.invalid SOA` asked of a server without that zone: REFUSED, with an EDNS extended error option.
const KNOT_REFUSED = '777781050001000000000001056f7468657207696e76616c6964000006000100002904d0000000000006000f00020014';

describe('encodeQuery', () => {
  it('produces the bytes dig sends, with and without EDNS, RD and CD', () => {
    expect(toHex(encodeQuery({ id: 0xa505, name: CHALLENGE, type: 'TXT', edns: false }))).toBe(DIG_PLAIN);
    expect(toHex(encodeQuery({ id: 0x3786, name: CHALLENGE, type: 'TXT', cd: true }))).toBe(DIG_EDNS_CD);
    expect(toHex(encodeQuery({ id: 0x9513, name: 'example.test.', type: 'SOA', rd: false }))).toBe(DIG_SOA_NORD);
  });

  it('round-trips through decodeMessage with the type codes of RFC 1035 and RFC 3596', () => {
    for (const type of ['A', 'NS', 'CNAME', 'SOA', 'TXT', 'AAAA'] as const) {
      const msg = decodeMessage(encodeQuery({ id: 7, name: 'Mixed.Case.example', type }));
      expect(msg.questions).toEqual([{ name: 'Mixed.Case.example', type, class: CLASS_IN }]);
      expect(msg.flags).toMatchObject({ qr: false, rd: true, cd: false });
      expect(msg.edns).toEqual({ udpSize: 1232, version: 0, dnssecOk: false });
    }
  });

  it('refuses malformed names with BAD_REQUEST', () => {
    for (const name of ['a..b', `${'x'.repeat(64)}.test`, `${'abcdefghi.'.repeat(26)}test`, 'bücher.example', 'a\\']) {
      expect(() => encodeQuery({ id: 1, name, type: 'A' }), name).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    }
  });
});

describe('encodeUpdate (RFC 2136)', () => {
  it('builds the same message nsupdate sends for an add, before its TSIG record', () => {
    const captured = fromHex(NSUPDATE_ADD);
    const tsigAt = decodeMessage(captured).tsig!.offset;
    const unsigned = captured.slice(0, tsigAt);
    unsigned[11] = 0; // ARCOUNT without the TSIG record
    const ours = encodeUpdate({ id: 0xb200, zone: 'example.test', updates: [{ op: 'add', name: CHALLENGE, value: 'abc', ttl: 60 }] });
    expect(toHex(ours)).toBe(toHex(unsigned));
  });

  it('means the same as nsupdate for delete-all (class ANY), delete-one (class NONE) and add', () => {
    const theirs = decodeMessage(fromHex(NSUPDATE_THREE));
    const ours = decodeMessage(
      encodeUpdate({
        id: 0x76b0,
        zone: 'example.test',
        updates: [
          { op: 'deleteAll', name: CHALLENGE },
          { op: 'delete', name: CHALLENGE, value: 'old' },
          { op: 'add', name: CHALLENGE, value: 'abc', ttl: 60 },
        ],
      }),
    );
    expect(theirs.opcode).toBe(5);
    expect(ours.opcode).toBe(5);
    expect(ours.questions).toEqual([{ name: 'example.test', type: 'SOA', class: CLASS_IN }]);
    expect(ours.questions).toEqual(theirs.questions);
    // RFC 2136 puts the update section where a response has its authority section.
    expect(ours.authority).toEqual(theirs.authority);
    expect(ours.authority).toEqual([
      { name: CHALLENGE, type: 'TXT', class: CLASS_ANY, ttl: 0, strings: [], value: '' },
      { name: CHALLENGE, type: 'TXT', class: CLASS_NONE, ttl: 0, strings: ['old'], value: 'old' },
      { name: CHALLENGE, type: 'TXT', class: CLASS_IN, ttl: 60, strings: ['abc'], value: 'abc' },
    ]);
  });

  it('splits a TXT value longer than 255 octets into character-strings, and rejects a bad TTL', () => {
    const rdata = txtRdata('L'.repeat(300));
    expect(rdata.length).toBe(302);
    expect([rdata[0], rdata[256]]).toEqual([255, 45]);
    expect(toHex(txtRdata(''))).toBe('00');
    for (const ttl of [-1, 1.5, 2 ** 31]) {
      expect(() => encodeUpdate({ id: 1, zone: 'z.test', updates: [{ op: 'add', name: 'a.z.test', value: 'v', ttl }] })).toThrow(
        expect.objectContaining({ code: 'BAD_REQUEST' }),
      );
    }
  });
});

describe('decodeMessage', () => {
  it('reads a TXT answer with compressed names and joins each record\'s strings', () => {
    const msg = decodeMessage(fromHex(KNOT_TXT));
    expect(msg).toMatchObject({ id: 0x1111, opcode: 0, rcode: 'NOERROR', flags: { qr: true, aa: true, rd: true, ra: false } });
    expect(msg.answers).toEqual([
      { name: CHALLENGE, class: CLASS_IN, ttl: 60, type: 'TXT', strings: ['first-value'], value: 'first-value' },
      { name: CHALLENGE, class: CLASS_IN, ttl: 60, type: 'TXT', strings: ['L'.repeat(255), 'L'.repeat(45)], value: 'L'.repeat(300) },
    ]);
    expect(msg.edns?.udpSize).toBe(1232);
  });

  it('reads NS answers with glue, AAAA in RFC 5952 form, CNAME chains and SOA', () => {
    const ns = decodeMessage(fromHex(KNOT_NS));
    expect(ns.answers.map((rr) => rr.type === 'NS' && rr.target)).toEqual(['ns1.example.test', 'ns2.example.test']);
    expect(ns.additional.map((rr) => rr.type === 'A' && `${rr.name} ${rr.address}`)).toEqual([
      'ns1.example.test 127.0.0.1',
      'ns2.example.test 127.0.0.2',
    ]);

    const aaaa = decodeMessage(fromHex(KNOT_AAAA));
    expect(aaaa.answers.map((rr) => rr.type === 'AAAA' && rr.address)).toEqual(['2001:db8::1', '2001:db8:0:1::1']);

    const cname = decodeMessage(fromHex(KNOT_CNAME));
    expect(cname.answers[0]).toEqual({ name: 'alias.example.test', class: CLASS_IN, ttl: 60, type: 'CNAME', target: CHALLENGE });
    expect(cname.answers.slice(1).map((rr) => rr.type === 'TXT' && `${rr.name} ${rr.value.slice(0, 11)}`)).toEqual([
      `${CHALLENGE} first-value`,
      `${CHALLENGE} LLLLLLLLLLL`,
    ]);

    const nodata = decodeMessage(fromHex(KNOT_NODATA));
    expect(nodata.answers).toEqual([]);
    expect(nodata.authority).toEqual([
      {
        name: 'example.test',
        class: CLASS_IN,
        ttl: 1,
        type: 'SOA',
        soa: { mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 3, refresh: 3600, retry: 600, expire: 86400, minimum: 1 },
      },
    ]);
  });

  it('names the rcode, and keeps an unknown type as raw RDATA', () => {
    expect(decodeMessage(fromHex(KNOT_REFUSED))).toMatchObject({ rcode: 'REFUSED', answers: [] });
    expect([0, 3, 9, 17, 99].map(rcodeName)).toEqual(['NOERROR', 'NXDOMAIN', 'NOTAUTH', 'BADKEY', 'RCODE99']);

    // A response with one MX record (type 15) for example.test: preference 10, exchange the root.
    const bytes = fromHex('000184000000000100000000' + '076578616d706c65047465737400' + '000f' + '0001' + '0000012c' + '0004' + '000a0000');
    const msg = decodeMessage(bytes);
    expect(msg.answers[0]).toEqual({ name: 'example.test', class: CLASS_IN, ttl: 300, type: 'TYPE15', rdata: fromHex('000a0000') });
  });

  it('combines the OPT record\'s upper bits into the extended rcode (RFC 6891 §6.1.3)', () => {
    // Header rcode 0, OPT extended rcode 1 → 16 (BADVERS/BADSIG share the number).
    const bytes = fromHex('00018000000000000000000100002904d0' + '01000000' + '0000');
    expect(decodeMessage(bytes).rcode).toBe('BADSIG');
  });

  it('rejects truncated messages, trailing bytes, forward and looping compression pointers', () => {
    const good = fromHex(KNOT_NODATA);
    const cases: Record<string, Uint8Array> = {
      truncated: good.slice(0, good.length - 3),
      trailing: fromHex(`${KNOT_NODATA}00`),
      // question name is a pointer to itself (offset 12)
      selfPointer: fromHex('000180000001000000000000c00c00100001'),
      // pointer forward to offset 20
      forwardPointer: fromHex('000180000001000000000000c0140010000100000000'),
      // an A record with 3 octets of RDATA
      shortA: fromHex('000180000000000100000000' + '00' + '0001' + '0001' + '00000000' + '0003' + '010203'),
      // label type 0x40 (extended labels, RFC 6891 §5 deprecated)
      labelType: fromHex('000180000001000000000000410000100001'),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      expect(() => decodeMessage(bytes), name).toThrow(expect.objectContaining({ code: 'DNS_BAD_RESPONSE' }));
    }
  });

  it('escapes label octets that are not printable ASCII, and dots inside a label', () => {
    // Question name: one label "a.b" then a label with octets 0x20 and 0xff, then "test".
    const bytes = fromHex('000180000001000000000000' + '03612e62' + '0220ff' + '0474657374' + '00' + '00100001');
    expect(decodeMessage(bytes).questions[0].name).toBe('a\\.b.\\032\\255.test');
    // …and the presentation form encodes back to the same octets.
    const again = encodeQuery({ id: 1, name: 'a\\.b.\\032\\255.test', type: 'TXT', edns: false });
    expect(toHex(again.slice(12, 12 + 13))).toBe('03612e620220ff047465737400');
  });
});

describe('formatIpv6 (RFC 5952)', () => {
  it('compresses the longest zero run, the first one on a tie, never a single group', () => {
    const v6 = (hex: string) => formatIpv6(fromHex(hex));
    expect(v6('20010db8000000000000000000000001')).toBe('2001:db8::1');
    expect(v6('00000000000000000000000000000000')).toBe('::');
    expect(v6('00000000000000000000000000000001')).toBe('::1');
    expect(v6('20010db8000000010000000000000001')).toBe('2001:db8:0:1::1');
    expect(v6('20010db8000000000001000000000001')).toBe('2001:db8::1:0:0:1');
    expect(v6('20010db8000100010001000100010001')).toBe('2001:db8:1:1:1:1:1:1');
    expect(v6('20010000000100010001000100010000')).toBe('2001:0:1:1:1:1:1:0');
  });
});
