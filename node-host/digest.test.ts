// The node host's digests (node-host/digest.ts) give what WebCrypto gives, byte for byte, and the
// core's digest() uses them once registered (as node-host/core.ts does at start).
import { afterEach, describe, expect, it } from 'vitest';
import { digest, sha256, toHex, useHostDigest, utf8, type DigestAlgorithm } from '../src/util/encoding.ts';
import { nodeDigest, sha256Hex } from './digest.ts';

const ALGORITHMS: DigestAlgorithm[] = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];

function inputs(): Array<[string, Uint8Array]> {
  const big = new Uint8Array(1 << 20).map((_, i) => (i * 31) & 0xff);
  // A view into the middle of a larger buffer: only its own bytes are hashed.
  const view = new Uint8Array(new Uint8Array(100).map((_, i) => i).buffer, 10, 50);
  return [['empty', new Uint8Array(0)], ['"abc"', utf8('abc')], ['1 MiB', big], ['a view at an offset', view]];
}

afterEach(() => useHostDigest(undefined));

describe('node host digests', () => {
  for (const algorithm of ALGORITHMS) {
    it(`${algorithm} equals WebCrypto's for every input`, async () => {
      for (const [, data] of inputs()) {
        const expected = new Uint8Array(await crypto.subtle.digest(algorithm, new Uint8Array(data)));
        expect(toHex(nodeDigest(algorithm, data))).toBe(toHex(expected));
      }
    });
  }

  it('known answers (FIPS 180 "abc")', () => {
    expect(toHex(nodeDigest('SHA-256', utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(nodeDigest('SHA-1', utf8('abc')))).toBe('a9993e364706816aba3e25717850c26c9cd0d89d');
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('returns bytes of its own, not a view into a shared pool', () => {
    const out = nodeDigest('SHA-256', utf8('abc'));
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(32);
  });

  it('digest() uses the registered host digest, and WebCrypto again without one', async () => {
    const calls: DigestAlgorithm[] = [];
    useHostDigest((algorithm, data) => {
      calls.push(algorithm);
      return nodeDigest(algorithm, data);
    });
    const withHost = [toHex(await sha256('abc')), toHex(await digest('SHA-1', utf8('abc')))];
    expect(calls).toEqual(['SHA-256', 'SHA-1']);
    useHostDigest(undefined);
    const withWebCrypto = [toHex(await sha256('abc')), toHex(await digest('SHA-1', utf8('abc')))];
    expect(withWebCrypto).toEqual(withHost);
    expect(calls).toHaveLength(2);
  });
});
