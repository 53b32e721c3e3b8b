import { describe, expect, it } from 'vitest';
import { toHex } from '../util/encoding.ts';
import { derOidContent, isDerOid, readDer } from './der.ts';

describe('derOidContent', () => {
  it('encodes OIDs as X.690 does (the encodings openssl writes for them)', () => {
    const cases: Record<string, string> = {
      '1.2.840.10045.2.1': '2a8648ce3d0201', // id-ecPublicKey
      '1.2.840.10045.3.1.7': '2a8648ce3d030107', // P-256
      '1.3.132.0.34': '2b81040022', // P-384
      '2.5.29.17': '551d11', // subjectAltName
      '1.3.6.1.5.5.7.1.1': '2b06010505070101', // authorityInfoAccess
      '1.3.6.1.4.1.11129.2.4.2': '2b06010401d679020402', // signed certificate timestamps
    };
    for (const [oid, hex] of Object.entries(cases)) expect(toHex(derOidContent(oid)), oid).toBe(hex);
  });

  it('isDerOid matches an OID element by its content, and nothing else', () => {
    const element = readDer(new Uint8Array([0x06, 0x03, 0x55, 0x1d, 0x11]))!;
    expect(isDerOid(element, derOidContent('2.5.29.17'))).toBe(true);
    expect(isDerOid(element, derOidContent('2.5.29.14'))).toBe(false);
    expect(isDerOid(readDer(new Uint8Array([0x04, 0x03, 0x55, 0x1d, 0x11]))!, derOidContent('2.5.29.17'))).toBe(false);
    expect(isDerOid(undefined, derOidContent('2.5.29.17'))).toBe(false);
  });
});
