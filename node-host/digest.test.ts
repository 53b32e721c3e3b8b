// The node host's SHA-256 (node-host/digest.ts) gives what WebCrypto gives, and the core's
// hashSecret uses it when the deps carry it (as the node host's do) with the same result.
import { describe, expect, it } from 'vitest';
import { sha256, toHex } from '../src/util/encoding.ts';
import { hashSecret, newSecret } from '../src/domain/secrets.ts';
import { sha256Hex } from './digest.ts';

describe('the node host SHA-256', () => {
  it('equals WebCrypto for empty, ASCII, non-ASCII and long text', async () => {
    for (const text of ['', 'abc', 'ckc_ünïcödé ✓ 🔑', 'x'.repeat(1 << 20)]) {
      expect(sha256Hex(text)).toBe(toHex(await sha256(text)));
    }
  });

  it('gives the FIPS 180 answer for "abc"', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('is what hashSecret uses when the deps carry it, with the same hash as without', async () => {
    const secret = newSecret('ckc');
    const asked: string[] = [];
    const withHost = await hashSecret({ sha256Hex: (text) => (asked.push(text), sha256Hex(text)) }, secret);
    expect(asked).toEqual([secret]);
    expect(withHost).toBe(await hashSecret({}, secret));
  });
});
