// TSIG (RFC 8945) against the real thing: requests nsupdate 9.18 signed and the answers Knot DNS
// 3.2.6 signed, captured on the wire with the key below (secret = base64 "secretsecret…12").
// Signing the same message at the same time must give nsupdate's bytes exactly, and Knot's
// answers must verify.
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../util/encoding.ts';
import { decodeMessage } from './message.ts';
import { signMessage, tsigAlgorithm, verifyResponse, type TsigKey } from './tsig.ts';

const SECRET = 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=';
const SHA256: TsigKey = { name: 'certkeep-test.', algorithm: 'hmac-sha256', secret: SECRET };
const SHA512: TsigKey = { ...SHA256, algorithm: 'hmac-sha512' };

const ADD_REQUEST =
  'b20028000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e67650178076578616d706c65047465737400001000010000003c000403616263' +
  '0d636572746b6565702d746573740000fa00ff00000000003d0b686d61632d7368613235360000006b08b140012c0020a0f2b56e169be190f07244d8e05d1340254169dd14e5391cf25d4004411d9540b20000000000';
const ADD_RESPONSE =
  'b200a8000001000000000001076578616d706c65047465737400000600010d636572746b6565702d746573740000fa00ff00000000003d0b686d61632d7368613235360000006b08b140012c0020' +
  '50ec6e901938cb01e74babd0424f1c8ca73ffe2af2f863233dd99a4f197b0d82b20000000000';
const DELETE_REQUEST =
  '388528000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e67650178076578616d706c65047465737400001000fe000000000004036162630d636572746b6565702d746573740000fa00ff00000000003d0b686d61632d7368613235360000006b08b140012c0020' +
  '15fe4772e060723685660ec60772b1705b10b5263abf76b0da4f34b1d638390c388500000000';
const DELETE_RESPONSE =
  '3885a8000001000000000001076578616d706c65047465737400000600010d636572746b6565702d746573740000fa00ff00000000003d0b686d61632d7368613235360000006b08b140012c0020' +
  '7f2bf8b839a00eaf5e6dc344671632227323516e94460c54b3def8648577ae5f388500000000';
// nsupdate with hmac-sha512 under the same key name; Knot knows that name only as hmac-sha256 and
// answers NOTAUTH, unsigned, with TSIG error 17 (BADKEY).
const SHA512_REQUEST =
  '797528000001000000010001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e67650178076578616d706c65047465737400001000010000003c0004036162630d636572746b6565702d746573740000fa00ff00000000005d0b686d61632d7368613531320000006b08b13f012c0040' +
  'cbdb029d07d0527fe9179a8ee35bf8219eb41a311fe702d4fb94f8ed75ffeac9d6a928ed6bd34a316ec4500cbd2eb936e76a7d04bcf6f1f424a81b1b72f0f511797500000000';
const BADKEY_RESPONSE =
  '7975a8090001000000000001076578616d706c65047465737400000600010d636572746b6565702d746573740000fa00ff00000000001d0b686d61632d7368613531320000006b08b13f012c0000797500110000';
// nsupdate's three-change update with compressed owner names.
const COMPRESSED_REQUEST =
  '76b028000001000000030001076578616d706c65047465737400000600010f5f61636d652d6368616c6c656e67650178076578616d706c65047465737400001000ff000000000000c01e001000fe000000000004036f6c64c01e001000010000003c000403616263' +
  '0d636572746b6565702d746573740000fa00ff00000000003d0b686d61632d7368613235360000006b08b12f012c0020cae6dfc523caeddcb984fb82a1b73db4f4db69d9ff0d5604793b13ca9f30209e76b000000000';

/** The message as it was before its TSIG record was added, and the signing time in ms. */
function unsign(hex: string): { message: Uint8Array; now: number; mac: Uint8Array } {
  const bytes = fromHex(hex);
  const { tsig } = decodeMessage(bytes);
  const message = bytes.slice(0, tsig!.offset);
  message[11] -= 1;
  return { message, now: tsig!.timeSigned * 1000, mac: tsig!.mac };
}

describe('signMessage', () => {
  it.each([
    ['hmac-sha256 add', ADD_REQUEST, SHA256],
    ['hmac-sha256 delete', DELETE_REQUEST, SHA256],
    ['hmac-sha256 over compressed names', COMPRESSED_REQUEST, SHA256],
    ['hmac-sha512', SHA512_REQUEST, SHA512],
  ])('reproduces nsupdate\'s signed request byte for byte (%s)', async (_label, hex, key) => {
    const { message, now, mac } = unsign(hex);
    const signed = await signMessage(message, key, { now: now + 999 });
    expect(toHex(signed.message)).toBe(hex);
    expect(toHex(signed.mac)).toBe(toHex(mac));
  });

  it('ignores case and a trailing dot in the key name and algorithm (canonical form, RFC 8945 §4.3.3)', async () => {
    const { message, now } = unsign(ADD_REQUEST);
    const shouting = { ...SHA256, name: 'CERTKEEP-TEST', algorithm: 'HMAC-SHA256.' as never };
    expect(toHex((await signMessage(message, shouting, { now })).message)).toBe(ADD_REQUEST);
  });

  it('signs with hmac-sha1 and hmac-sha384 too, and refuses what WebCrypto lacks', async () => {
    const { message, now } = unsign(ADD_REQUEST);
    expect((await signMessage(message, { ...SHA256, algorithm: 'hmac-sha1' }, { now })).mac).toHaveLength(20);
    expect((await signMessage(message, { ...SHA256, algorithm: 'hmac-sha384' }, { now })).mac).toHaveLength(48);
    await expect(signMessage(message, { ...SHA256, algorithm: 'hmac-md5' as never }, { now })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(signMessage(message, { ...SHA256, secret: 'not base64!' }, { now })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(tsigAlgorithm('HMAC-SHA512.')).toBe('hmac-sha512');
  });
});

describe('verifyResponse', () => {
  const time = (hex: string) => decodeMessage(fromHex(hex)).tsig!.timeSigned * 1000;

  it('accepts Knot\'s signed answers to our requests', async () => {
    for (const [request, response] of [
      [ADD_REQUEST, ADD_RESPONSE],
      [DELETE_REQUEST, DELETE_RESPONSE],
    ]) {
      const { mac } = unsign(request);
      const tsig = await verifyResponse(fromHex(response), SHA256, mac, { now: time(response) });
      expect(tsig).toMatchObject({ error: 0, fudge: 300, algorithm: 'hmac-sha256' });
    }
  });

  it('still verifies when a forwarder rewrote the header ID (the MAC covers the original ID)', async () => {
    const bytes = fromHex(ADD_RESPONSE);
    bytes[0] = 0x12;
    bytes[1] = 0x34;
    await expect(verifyResponse(bytes, SHA256, unsign(ADD_REQUEST).mac, { now: time(ADD_RESPONSE) })).resolves.toBeDefined();
  });

  it('rejects a flipped bit, another request\'s MAC, a wrong secret or algorithm, an unsigned answer, and a stale one', async () => {
    const now = time(ADD_RESPONSE);
    const mac = unsign(ADD_REQUEST).mac;
    const flipped = fromHex(ADD_RESPONSE);
    flipped[3] ^= 0x01; // rcode NOERROR → FORMERR
    const otherSecret = { ...SHA256, secret: btoa('another secret of some length') };
    const unsigned = fromHex(ADD_RESPONSE).slice(0, decodeMessage(fromHex(ADD_RESPONSE)).tsig!.offset);
    unsigned[11] = 0;

    const attempts: Array<[string, () => Promise<unknown>, string]> = [
      ['flipped', () => verifyResponse(flipped, SHA256, mac, { now }), 'BADSIG'],
      ['other MAC', () => verifyResponse(fromHex(ADD_RESPONSE), SHA256, unsign(DELETE_REQUEST).mac, { now }), 'BADSIG'],
      ['other secret', () => verifyResponse(fromHex(ADD_RESPONSE), otherSecret, mac, { now }), 'BADSIG'],
      ['other algorithm', () => verifyResponse(fromHex(ADD_RESPONSE), SHA512, mac, { now }), 'WRONG_KEY'],
      ['other key name', () => verifyResponse(fromHex(ADD_RESPONSE), { ...SHA256, name: 'other.' }, mac, { now }), 'WRONG_KEY'],
      ['unsigned', () => verifyResponse(unsigned, SHA256, mac, { now }), 'UNSIGNED'],
      ['301 s late', () => verifyResponse(fromHex(ADD_RESPONSE), SHA256, mac, { now: now + 301_000 }), 'BADTIME'],
    ];
    for (const [label, attempt, tsigError] of attempts) {
      await expect(attempt(), label).rejects.toMatchObject({ code: 'DNS_TSIG_FAILED', details: { tsigError } });
    }
    await expect(verifyResponse(fromHex(ADD_RESPONSE), SHA256, mac, { now: now + 300_000 })).resolves.toBeDefined();
  });

  it('reports the TSIG error a server sent when it could not verify us (BADKEY)', async () => {
    const err = await verifyResponse(fromHex(BADKEY_RESPONSE), SHA512, unsign(SHA512_REQUEST).mac, { now: time(BADKEY_RESPONSE) }).catch(
      (e: unknown) => e,
    );
    expect(err).toMatchObject({ code: 'DNS_TSIG_FAILED', details: { tsigError: 'BADKEY' } });
    expect(String(err)).toMatch(/does not accept key certkeep-test\. \(hmac-sha512\)/);
    expect(decodeMessage(fromHex(BADKEY_RESPONSE)).rcode).toBe('NOTAUTH');
  });
});
