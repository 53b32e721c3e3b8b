import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateRecoveryCodes, hashRecoveryCode, normalizeRecoveryCode } from './recovery.ts';

const SHAPE = /^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/;

describe('generateRecoveryCodes', () => {
  it('makes ten distinct xxxxx-xxxxx codes by default', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(SHAPE);
  });

  it('makes the number asked for', () => {
    expect(generateRecoveryCodes(1)).toHaveLength(1);
    expect(generateRecoveryCodes(16)).toHaveLength(16);
  });

  it('never uses a look-alike letter (i, l, o, u)', () => {
    const all = generateRecoveryCodes(100).join('');
    expect(all).not.toMatch(/[ilou]/);
  });

  it('draws every one of the 32 symbols in every position (5 random bits each, 50 per code)', () => {
    const codes = Array.from({ length: 20 }, () => generateRecoveryCodes(100)).flat();
    for (let position = 0; position < 11; position++) {
      if (position === 5) continue;
      const seen = new Set(codes.map((c) => c[position]));
      // 2000 draws from 32 symbols: a missing one means bias (chance otherwise ~ 32·(31/32)^2000).
      expect(seen.size).toBe(32);
    }
  });

  it.each([0, -1, 1.5, 101])('refuses a count of %s', (n) => {
    expect(() => generateRecoveryCodes(n)).toThrow(RangeError);
  });
});

describe('normalizeRecoveryCode', () => {
  it.each([
    ['7hq2x-m0c9k', '7hq2xm0c9k'],
    ['7HQ2X-M0C9K', '7hq2xm0c9k'],
    ['  7hq2x m0c9k ', '7hq2xm0c9k'],
    ['7hq2xm0c9k', '7hq2xm0c9k'],
    ['7hq-2xm-0c9k', '7hq2xm0c9k'],
    ['7hq2x–m0c9k', '7hq2xm0c9k'], // en dash from a word processor
    ['7hq2x-mOc9k', '7hq2xm0c9k'], // letter O for zero
    ['IL0ab-cdefg', '110abcdefg'], // I and L for one
  ])('%j → %j', (input, expected) => {
    expect(normalizeRecoveryCode(input)).toBe(expected);
  });
});

describe('hashRecoveryCode', () => {
  it('is the hex SHA-256 of the normalised code', async () => {
    const expected = createHash('sha256').update('7hq2xm0c9k').digest('hex');
    expect(await hashRecoveryCode('7hq2x-m0c9k')).toBe(expected);
  });

  it('gives the same hash however the code is typed', async () => {
    const code = generateRecoveryCodes(1)[0];
    const stored = await hashRecoveryCode(code);
    for (const typed of [code.toUpperCase(), code.replace('-', ''), code.replace('-', ' '), ` ${code} `]) {
      expect(await hashRecoveryCode(typed)).toBe(stored);
    }
  });

  it('gives different hashes for different codes', async () => {
    const codes = generateRecoveryCodes(10);
    const hashes = await Promise.all(codes.map(hashRecoveryCode));
    expect(new Set(hashes).size).toBe(10);
    for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not match a code that differs in one symbol', async () => {
    expect(await hashRecoveryCode('7hq2x-m0c9k')).not.toBe(await hashRecoveryCode('7hq2x-m0c9m'));
  });
});
