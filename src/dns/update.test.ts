// sendUpdate's handling of answers a server might give, with a scripted exchange. Signed
// answers from a real server (NOERROR, REFUSED, BADKEY, BADSIG) are in test/dns/rfc2136.knot.test.ts.
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex } from '../util/encoding.ts';
import { decodeMessage } from './message.ts';
import { encodeName } from './names.ts';
import type { TsigKey } from './tsig.ts';
import { sendUpdate } from './update.ts';

const KEY: TsigKey = { name: 'certkeep-test.', algorithm: 'hmac-sha256', secret: 'c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=' };

/** An answer to `request`: its header with QR and `rcode`, its zone section, and optionally a TSIG record carrying `tsigError`. */
function answer(request: Uint8Array, rcode: number, opts: { tsigError?: number; id?: number } = {}): Uint8Array {
  const msg = decodeMessage(request);
  const id = opts.id ?? msg.id;
  const header = new Uint8Array([id >> 8, id & 0xff, 0xa8, rcode, 0, 1, 0, 0, 0, 0, 0, opts.tsigError === undefined ? 0 : 1]);
  const zone = concatBytes(encodeName(msg.questions[0].name), new Uint8Array([0, 6, 0, 1]));
  if (opts.tsigError === undefined) return concatBytes(header, zone);
  // RFC 8945 §5.3.2: an error TSIG with an empty MAC.
  const rdata = concatBytes(
    encodeName(msg.tsig!.algorithm),
    fromHex('000000000000'), // time signed
    fromHex('012c0000'), // fudge 300, MAC size 0
    new Uint8Array([msg.id >> 8, msg.id & 0xff, 0, opts.tsigError, 0, 0]),
  );
  return concatBytes(header, zone, encodeName(msg.tsig!.keyName), fromHex('00fa00ff00000000'), new Uint8Array([0, rdata.length]), rdata);
}

const base = { server: '192.0.2.53:53', zone: 'example.test', tsig: KEY, updates: [{ op: 'add' as const, name: 'a.example.test', value: 'v', ttl: 60 }] };

describe('sendUpdate', () => {
  it('sends one signed UPDATE for the zone, with the changes in order', async () => {
    const sent: Uint8Array[] = [];
    await sendUpdate({
      ...base,
      updates: [
        { op: 'delete', name: 'a.example.test', value: 'old' },
        { op: 'add', name: 'a.example.test', value: 'new', ttl: 30 },
      ],
      exchange: async (m) => {
        sent.push(m);
        return answer(m, 0);
      },
    }).catch(() => {}); // the scripted answer is unsigned; what was sent is the point here
    const msg = decodeMessage(sent[0]);
    expect(msg.opcode).toBe(5);
    expect(msg.questions).toEqual([{ name: 'example.test', type: 'SOA', class: 1 }]);
    expect(msg.authority.map((rr) => rr.type === 'TXT' && `${rr.class} ${rr.ttl} ${rr.value}`)).toEqual(['254 0 old', '1 30 new']);
    expect(msg.tsig).toMatchObject({ keyName: 'certkeep-test', algorithm: 'hmac-sha256', error: 0 });
  });

  it('never believes an unsigned success', async () => {
    await expect(sendUpdate({ ...base, exchange: async (m) => answer(m, 0) })).rejects.toMatchObject({
      code: 'DNS_TSIG_FAILED',
      details: { tsigError: 'UNSIGNED' },
    });
  });

  it('reports an unsigned refusal by its rcode, with what to check', async () => {
    const err = await sendUpdate({ ...base, exchange: async (m) => answer(m, 9) }).catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_UPDATE_FAILED', details: { rcode: 'NOTAUTH', zone: 'example.test', server: '192.0.2.53:53' } });
    expect(err.message).toMatch(/not authoritative/);
    await expect(sendUpdate({ ...base, exchange: async (m) => answer(m, 4) })).rejects.toMatchObject({
      code: 'DNS_UPDATE_FAILED',
      message: expect.stringMatching(/does not support dynamic updates/),
    });
  });

  it.each([
    [16, 'BADSIG', /check the secret/],
    [17, 'BADKEY', /does not accept key certkeep-test\. \(hmac-sha256\)/],
    [18, 'BADTIME', /clock/],
  ])('turns TSIG error %i into DNS_TSIG_FAILED %s', async (code, name, message) => {
    const err = await sendUpdate({ ...base, exchange: async (m) => answer(m, 9, { tsigError: code }) }).catch((e) => e);
    expect(err).toMatchObject({ code: 'DNS_TSIG_FAILED', details: { tsigError: name, rcode: 'NOTAUTH' } });
    expect(err.message).toMatch(message);
  });

  it('rejects an answer to another message', async () => {
    await expect(sendUpdate({ ...base, exchange: async (m) => answer(m, 0, { id: (decodeMessage(m).id + 1) & 0xffff }) })).rejects.toMatchObject({
      code: 'DNS_BAD_RESPONSE',
    });
  });
});
