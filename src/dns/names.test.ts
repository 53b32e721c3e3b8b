import { describe, expect, it } from 'vitest';
import { toHex } from '../util/encoding.ts';
import { canonicalName, encodeName, isInZone, parentName, sameName } from './names.ts';

describe('names', () => {
  it('encodes presentation form to wire form (RFC 1035 §3.1), trailing dot or not', () => {
    expect(toHex(encodeName('example.test'))).toBe('076578616d706c65047465737400');
    expect(toHex(encodeName('example.test.'))).toBe('076578616d706c65047465737400');
    expect(toHex(encodeName(''))).toBe('00');
    expect(toHex(encodeName('.'))).toBe('00');
    // An escaped final dot belongs to the label: `a\.` is one label "a.".
    expect(toHex(encodeName('a\\.'))).toBe('02612e00');
    // …but after an escaped backslash the dot is the root's: `a\\.` is the label "a\".
    expect(toHex(encodeName('a\\\\.'))).toBe('02615c00');
  });

  it('compares without ASCII case (RFC 4343)', () => {
    expect(canonicalName('_ACME-Challenge.Example.TEST.')).toBe('_acme-challenge.example.test');
    expect(sameName('WWW.example.test', 'www.EXAMPLE.test.')).toBe(true);
    expect(sameName('www.example.test', 'ww.example.test')).toBe(false);
    // Case folding works on octets, escaped or not (\069 is "E").
    expect(sameName('\\069xample.test', 'example.test')).toBe(true);
  });

  it('walks up one label, and knows which names lie in a zone', () => {
    expect(parentName('a.b.test')).toBe('b.test');
    expect(parentName('test')).toBe('');
    expect(parentName('')).toBeUndefined();
    expect(isInZone('_acme-challenge.x.Example.test', 'example.test.')).toBe(true);
    expect(isInZone('example.test', 'example.test')).toBe(true);
    expect(isInZone('badexample.test', 'example.test')).toBe(false);
    expect(isInZone('anything', '')).toBe(true);
    // "a\.example" is one label that merely contains a dot: not below "example".
    expect(isInZone('a\\.example', 'example')).toBe(false);
  });
});
