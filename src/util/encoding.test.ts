// base64 and base64url against Node's own encoder, at every small length and around the chunk
// size toBase64 works in (0x8000 bytes).
import { describe, expect, it } from 'vitest';
import { fromBase64, fromBase64Url, toBase64, toBase64Url } from './encoding.ts';

const bytes = (n: number) => new Uint8Array(n).map((_, i) => (i * 131 + 7) & 0xff);
const LENGTHS = [...Array.from({ length: 70 }, (_, i) => i), 0x7fff, 0x8000, 0x8001, 0x10000 + 5, 100 * 1024];

describe('base64', () => {
  const encodings = [
    ['base64', toBase64, fromBase64],
    ['base64url', toBase64Url, fromBase64Url],
  ] as const;
  for (const [name, encode, decode] of encodings) {
    it(`${encode.name} equals Buffer.toString("${name}"), and decodes back`, () => {
      for (const n of LENGTHS) {
        const data = bytes(n);
        const text = encode(data);
        expect(text, `length ${n}`).toBe(Buffer.from(data).toString(name));
        expect(decode(text)).toEqual(data);
      }
    });
  }

  it('encodes only the bytes of a view, and an ArrayBuffer whole', () => {
    const whole = bytes(64);
    const view = whole.subarray(5, 40);
    expect(toBase64(view)).toBe(Buffer.from(view).toString('base64'));
    expect(toBase64(whole.buffer)).toBe(Buffer.from(whole).toString('base64'));
  });
});
